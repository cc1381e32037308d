/**
 * One local pipeline per test file (emulators, simulator, real handlers) with switchable
 * faults: a scripted LLM client in front of the simulator, a queue sender that can fail, and a
 * log of every claim the worker made. The handlers hold the same dependency object, so the
 * wrappers installed here are what they call.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import {
  type LocalPipeline,
  type LocalPipelineOptions,
  startLocalPipeline,
} from '../../local/pipeline';
import { recreateTables } from '../../local/runtime/resources';
import type { SimHandle, SimStartOptions } from '../../local/sim/server';
import { runningClock } from '../../shared/clock';
import { batchFileKeyFor, type Manifest, manifestKeyFor } from '../../shared/inputs';
import type { LlmClient, LlmRequest, LlmResponse } from '../../shared/llm/client';
import type { ResultsSummary } from '../../shared/pipeline/finalize';
import { resultKeys } from '../../shared/pipeline/keys';
import type { PipelineSettingsInput } from '../../shared/pipeline/settings';
import type { WorkerDeps } from '../../shared/pipeline/types';
import type { ClaimResult } from '../../shared/ports/jobs';
import type { Logger } from '../../shared/ports/logger';
import type { QueueMessage } from '../../shared/ports/queue';
import type { FunctionName } from '../../shared/resources';
import type { BatchRef } from '../../shared/types';
import { sharedAws } from '../support/shared-aws';

/** Decides one LLM call: `real()` sends it to the simulator; `n` counts calls of this script. */
export type LlmScript = (
  request: LlmRequest,
  real: () => Promise<LlmResponse>,
  n: number,
) => Promise<LlmResponse>;

/**
 * A batch as tests name it: its ref, `<team>/<batchId>`, or the id of a batch submitted through
 * `submit()` here, which knows its team from the manifest.
 */
export type BatchLike = BatchRef | string;

export interface Harness {
  pipeline: LocalPipeline;
  /** The ref of a batch named by a BatchLike; throws for an id `submit()` never saw. */
  ref(batch: BatchLike): BatchRef;
  /** Teams of the batches submitted through `submit()`, by batch id. */
  submitted: Map<string, string>;
  sim: SimHandle;
  deps: WorkerDeps;
  /** Replaces the provider's behaviour for the calls the script decides; undefined: all real. */
  scriptLlm(script: LlmScript | undefined): void;
  /** Makes the next `times` sends to a queue whose URL contains `queue` fail. */
  failSends(queue: string, times: number): void;
  /** Sends that were refused by `failSends`. */
  failedSends(): number;
  /** Every claim the worker made since the last reset. */
  claims: { jobId: string; owner: string; result: ClaimResult }[];
  /** Sets the work queue's visibility timeout (whole seconds). */
  setWorkVisibility(seconds: number): Promise<void>;
  /**
   * Moves the clock of the pipeline and the simulator to `at` (undefined: back to
   * HARNESS_EPOCH). It keeps running from there, so leases and deadlines still pass.
   */
  setClock(at: Date | string | undefined): void;
  /** Moves that clock on by `ms`. */
  advanceClock(ms: number): void;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Where the harness clock starts, and starts again at each reset: Monday 2026-11-30 12:00 UTC
 * (20:00 in Beijing, off-peak), with deepseek-flash in force. Pinned, so what a test prices does
 * not depend on the machine's date; the clock runs on from there at real pace.
 */
export const HARNESS_EPOCH = '2026-11-30T12:00:00Z';

/** Starts the pipeline with small time scales and settings fit for tests. */
export async function startHarness(
  options: {
    settings?: Omit<PipelineSettingsInput, 'endpoints'>;
    sim?: SimStartOptions;
    /** Scale of function timeouts, visibility timeouts and leases (default 0.05). */
    timeScale?: number;
    /** Concurrent invocations per function, over 1 planner, 3 workers, 1 finalize. */
    concurrency?: Partial<Record<FunctionName, number>>;
    /** Endpoints for internal and restricted inputs (none by default). */
    endpoints?: LocalPipelineOptions['endpoints'];
    /** Fallback endpoints per sensitivity (none by default). */
    fallbacks?: LocalPipelineOptions['fallbacks'];
    /** Run the line-item export from the ledger's stream (default off). */
    exportLineItems?: boolean;
    logger?: Logger;
    /** Counts every AWS request of the pipeline (local/meter.ts). */
    meter?: LocalPipelineOptions['meter'];
  } = {},
): Promise<Harness> {
  // One clock for the handlers and the simulator, so prices and peak hours agree.
  const clock = runningClock(HARNESS_EPOCH);
  const pipeline = await startLocalPipeline({
    clock,
    ports: { s3Sqs: 0 },
    ...sharedAws(),
    configPath: false,
    exportLineItems: options.exportLineItems ?? false,
    timeScale: options.timeScale ?? 0.05,
    concurrency: { planner: 1, worker: 3, finalize: 1, ...options.concurrency },
    ...(options.endpoints ? { endpoints: options.endpoints } : {}),
    ...(options.fallbacks ? { fallbacks: options.fallbacks } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.meter ? { meter: options.meter } : {}),
    sim: { timeScale: 0, constructionDelayMs: 0, seed: 11, ...options.sim },
    settings: {
      maxOutputTokens: { docs: 256, tests: 256 },
      retryBackoff: { minSeconds: 1, maxSeconds: 4 },
      ...options.settings,
      executor: { settleMs: 5, stopMarginMs: 500, concurrency: 32, ...options.settings?.executor },
    },
  });
  const { deps } = pipeline;
  const sim = pipeline.sim as SimHandle;

  let script: LlmScript | undefined;
  let scriptCalls = 0;
  const realLlm: LlmClient = deps.llm;
  deps.llm = {
    complete: (request, callOptions) => {
      const real = () => realLlm.complete(request, callOptions);
      return script ? script(request, real, ++scriptCalls) : real();
    },
  };

  const failing = new Map<string, number>();
  let refused = 0;
  const realQueues = deps.queues;
  deps.queues = {
    send: async (url: string, messages: readonly QueueMessage[]) => {
      for (const [queue, left] of failing)
        if (left > 0 && url.includes(queue)) {
          failing.set(queue, left - 1);
          refused++;
          throw new Error(`scripted send failure to ${queue}`);
        }
      return realQueues.send(url, messages);
    },
    changeVisibility: (url, handle, seconds) => realQueues.changeVisibility(url, handle, seconds),
  };

  const claims: Harness['claims'] = [];
  const realJobs = deps.jobs;
  deps.jobs = {
    ...realJobs,
    claimJob: async (batchId, jobId, owner, leaseMs, now) => {
      const result = await realJobs.claimJob(batchId, jobId, owner, leaseMs, now);
      claims.push({ jobId, owner, result });
      return result;
    },
  };

  const submitted = new Map<string, string>();
  return {
    pipeline,
    sim,
    deps,
    claims,
    submitted,
    ref: (batch) => {
      if (typeof batch !== 'string') return batch;
      const [qualifiedTeam, qualifiedId] = batch.split('/');
      if (qualifiedTeam !== undefined && qualifiedId !== undefined)
        return { team: qualifiedTeam, batchId: qualifiedId };
      const team = submitted.get(batch);
      if (team === undefined) throw new Error(`batch ${batch} was not submitted by this harness`);
      return { team, batchId: batch };
    },
    scriptLlm: (s) => {
      script = s;
      scriptCalls = 0;
    },
    failSends: (queue, times) => {
      failing.set(queue, times);
    },
    failedSends: () => refused,
    setWorkVisibility: async (seconds) => {
      await pipeline.runtime.clients.sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: pipeline.runtime.resources.queues.work.url,
          Attributes: { VisibilityTimeout: String(seconds) },
        }),
      );
    },
    setClock: (at) => clock.set(at ?? HARNESS_EPOCH),
    advanceClock: (ms) => clock.advance(ms),
    reset: async () => {
      clock.set(HARNESS_EPOCH);
      // Nothing of the last test may still run: stop polling, wait for what is in flight and
      // empty the queues before wiping tables and simulator.
      await pipeline.runtime.drain();
      await recreateTables(pipeline.runtime.clients, pipeline.runtime.resources.tables);
      sim.reset();
      sim.configure({ faults: { stallMs: 0 }, balanceNanoUsd: undefined });
      script = undefined;
      failing.clear();
      submitted.clear();
      refused = 0;
      claims.length = 0;
    },
    stop: () => pipeline.stop(),
  };
}

/**
 * One harness for the calling test file: started before its tests (with the work queue's
 * visibility set when asked), reset before each test, stopped after the file. The returned
 * object stands for the harness; read it inside tests and hooks, once it has started.
 */
export function useHarness(
  options: Parameters<typeof startHarness>[0] & {
    /** Sets the work queue's visibility timeout, so a slow job's message is redelivered. */
    workVisibilitySeconds?: number;
  } = {},
): Harness {
  let started: Harness | undefined;
  beforeAll(async () => {
    const { workVisibilitySeconds, ...startOptions } = options;
    started = await startHarness(startOptions);
    if (workVisibilitySeconds !== undefined) await started.setWorkVisibility(workVisibilitySeconds);
  }, 60_000);
  afterAll(async () => {
    await started?.stop();
  });
  beforeEach(async () => {
    await started?.reset();
  });
  return new Proxy({} as Harness, {
    get: (_, key) => {
      if (!started) throw new Error('the harness is not started: use it inside tests or hooks');
      return started[key as keyof Harness];
    },
  });
}

/** Writes one object to the pipeline's bucket. */
export async function put(h: Harness, key: string, body: string | Uint8Array): Promise<void> {
  const { runtime } = h.pipeline;
  await runtime.clients.s3.send(
    // With its length: the SDK cannot tell an empty string's, and warns that it is a stream.
    new PutObjectCommand({
      Bucket: runtime.resources.bucket,
      Key: key,
      Body: body,
      ContentLength: typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
    }),
  );
}

/** Uploads a batch's files, then its manifest, as `warmbatch submit` does. */
export async function submit(
  h: Harness,
  manifest: Manifest,
  files: Record<string, string>,
): Promise<BatchRef> {
  const ref = { team: manifest.team.toLowerCase(), batchId: manifest.batchId };
  h.submitted.set(ref.batchId, ref.team);
  for (const [path, body] of Object.entries(files)) await put(h, batchFileKeyFor(ref, path), body);
  await put(h, manifestKeyFor(ref), JSON.stringify(manifest));
  return ref;
}

/** A manifest for a docs batch of team `team`; `extra` sets or overrides any field. */
export function manifestFor(
  batchId: string,
  team: string,
  files: string[],
  extra: Partial<Manifest> = {},
): Manifest {
  return {
    batchId,
    team,
    project: 'shop',
    kind: 'docs',
    files,
    model: 'deepseek-flash',
    createdAt: new Date(HARNESS_EPOCH).toISOString(),
    ...extra,
  };
}

/** A small source file, distinct per `i`; `.py` paths get Python (another prefix group). */
export function source(i: number, path = 'x.ts'): string {
  return path.endsWith('.py')
    ? `def add_${i}(a, b):\n    return a + b + ${i}\n`
    : `export function add${i}(a: number, b: number): number {\n  return a + b + ${i};\n}\n`;
}

/** Files `f0.ts` ... (and every third one in Python), each distinct. */
export function filesFor(count: number, offset = 0): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const path = i % 3 === 2 ? `f${i}.py` : `f${i}.ts`;
    files[path] = source(offset + i, path);
  }
  return files;
}

async function summaryOf(h: Harness, batch: BatchRef): Promise<ResultsSummary | undefined> {
  const text = await h.deps.objects.getText(resultKeys(batch).summary);
  return text ? (JSON.parse(text) as ResultsSummary) : undefined;
}

/**
 * Waits until the batch is `done` and returns its summary. The timeout is a ceiling, not a
 * wait: beside stress-ng (docs/reliability.md) the old ceiling cut a capped batch off before
 * it ended.
 */
export async function waitForDone(h: Harness, batch: BatchLike, timeout = 240_000) {
  const ref = h.ref(batch);
  await expect
    .poll(async () => (await h.deps.jobs.getBatch(ref))?.status, { timeout, interval: 100 })
    .toBe('done');
  return (await summaryOf(h, ref)) as ResultsSummary;
}

/** Summaries of every finished batch of `team`, however its drops were split into batches. */
export async function summariesOfTeam(h: Harness, team: string): Promise<ResultsSummary[]> {
  const keys = await h.deps.objects.list(`results/${team}/`);
  const summaries = await Promise.all(
    keys.filter((k) => k.endsWith('/summary.json')).map((k) => h.deps.objects.getText(k)),
  );
  return summaries
    .filter((t): t is string => t !== undefined)
    .map((t) => JSON.parse(t) as ResultsSummary)
    .filter((s) => s.team === team);
}

/** Lines of a batch's errors.jsonl. */
export async function errorsOf(
  h: Harness,
  batch: BatchLike,
): Promise<{ path: string; state: string; code: string; reason: string }[]> {
  const text = (await h.deps.objects.getText(resultKeys(h.ref(batch)).errors)) ?? '';
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

export {
  expectOneTerminalStateEach,
  ledgerTotals,
  monthOf,
  simTotals,
  statesInTable,
} from '../support/invariants';
