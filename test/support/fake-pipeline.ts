/**
 * The pipeline's domain functions over in-memory stores and queues, with the DeepSeek simulator
 * as the provider: planner, worker and finalize are called directly, one message at a time,
 * until no queue holds one. For planner and worker rules, with faults asked for (failed sends,
 * a delivery that dies or fails and comes back: test/support/fakes/faults.ts); what only the
 * emulated whole can show (visibility timeouts, the emulator's S3 events, deliveries that overlap
 * in separate invocations) stays on test/pipeline/support.ts's harness.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { CliDeps, CliIo } from '../../cli/lib/context';
import { routingFor } from '../../lambdas/deps';
import type { LocalPipelineOptions } from '../../local/pipeline';
import { isNotifiedKey, objectCreatedEvent } from '../../local/runtime/s3-bridge';
import { type SimHandle, type SimStartOptions, startSimulator } from '../../local/sim/server';
import { createMemoryObjectStore } from '../../shared/aws/object-store';
import { clockMs, runningClock } from '../../shared/clock';
import { batchFileKeyFor, type Manifest, manifestKeyFor } from '../../shared/inputs';
import {
  createLlmClient,
  type LlmClient,
  type LlmRequest,
  type LlmResponse,
} from '../../shared/llm/client';
import { processFinalizeMessage, type ResultsSummary } from '../../shared/pipeline/finalize';
import { resultKeys } from '../../shared/pipeline/keys';
import { planIntake } from '../../shared/pipeline/plan';
import { createPriceSource, settingsLayers } from '../../shared/pipeline/prices';
import {
  type PipelineSettingsInput,
  parsePricingSettings,
  parseSettings,
} from '../../shared/pipeline/settings';
import type { QueueUrls, WorkerDeps } from '../../shared/pipeline/types';
import { processWorkMessage } from '../../shared/pipeline/work';
import type { Logger } from '../../shared/ports/logger';
import type { ObjectStore } from '../../shared/ports/objects';
import type { QueueMessage } from '../../shared/ports/queue';
import { buildCatalog } from '../../shared/pricing/catalog';
import { ENDPOINT_NAMES, QUEUES } from '../../shared/resources';
import type { BatchRef } from '../../shared/types';
import { deaths, failingSends } from './fakes/faults';
import { fakeJobsStore } from './fakes/jobs';
import { fakeLedgerStore, newFakeLedgerTable } from './fakes/ledger';
import type { FakeLedgerTable } from './fakes/ledger-state';
import { type FakeQueueSender, fakeQueueSender } from './fakes/queue';

/** Where the harness clock starts, as test/pipeline/support.ts's: off-peak, deepseek-flash in force. */
export const FAKE_EPOCH = '2026-11-30T12:00:00Z';

const BUCKET = 'warmbatch-fake';
const URLS: Required<QueueUrls> = {
  intake: 'fake://queues/intake',
  plan: 'fake://queues/plan',
  work: 'fake://queues/work.fifo',
  finalize: 'fake://queues/finalize',
};
/** Deliveries before the pipeline is said not to settle: far more than any test needs. */
const MAX_ROUNDS = 500;

export type LlmScript = (
  request: LlmRequest,
  real: () => Promise<LlmResponse>,
  n: number,
) => Promise<LlmResponse>;

/** A batch as tests name it: its ref, `<team>/<batchId>`, or the id of a batch `submit` sent. */
export type BatchLike = BatchRef | string;

export interface FakePipeline {
  deps: WorkerDeps;
  /** The ref of a batch named by a BatchLike; throws for an id `submit()` never saw. */
  ref(batch: BatchLike): BatchRef;
  queues: FakeQueueSender;
  /**
   * The in-memory tables behind deps.jobs and deps.ledger, for a test that rewrites a stored
   * item as a principal with write access to the table would.
   */
  tables: FakeLedgerTable;
  sim: SimHandle;
  setClock(at: Date | string): void;
  advanceClock(ms: number): void;
  scriptLlm(script: LlmScript | undefined): void;
  /** Writes an object as a team would, with the S3 event it makes when the key is notified. */
  put(key: string, body: string | Uint8Array): Promise<void>;
  /** Uploads a batch's files, then its manifest, as `warmbatch submit` does. */
  submit(manifest: Manifest, files: Record<string, string>): Promise<BatchRef>;
  /**
   * Delivers every queued message to its function until no queue holds one; with `rounds`, stops
   * after that many deliveries (one queue's messages each), so a test can look in between.
   */
  settle(rounds?: number): Promise<void>;
  /** Settles, then returns the batch's summary.json. */
  done(batch: BatchLike): Promise<ResultsSummary>;
  errors(
    batch: BatchLike,
  ): Promise<{ path: string; state: string; code: string; reason: string }[]>;
  /** The URL of one of the pipeline's queues, for sending to it (a delivery again) or reading it. */
  queueUrl(name: keyof QueueUrls): string;
  /** Makes the next `times` sends by the pipeline to a queue whose URL contains `queue` fail. */
  failSends(queue: string, times: number): void;
  /** Sends that `failSends` refused in this test. */
  failedSends(): number;
  /**
   * Ends the work delivery that calls it, inside a step (a scripted LLM call, a store): nothing
   * after it runs; its message comes back once the dead invocation's lease ran out.
   */
  die(): Promise<never>;
  /**
   * From now on in this test, a planning record that fails or a work delivery that throws no
   * longer fails the test: it is listed in the returned array, and then either delivered again
   * in a later round, as SQS does after its visibility timeout (`redeliver`, up to the queue's
   * receive count), or not (`keep`: as if the test purged the queue; it may send it again).
   */
  onFailures(mode: 'keep' | 'redeliver'): FailedDelivery[];
  /**
   * Delivers what the intake queue holds now to the planner, as one window, and nothing else:
   * messages it sends (a drop's delayed close) wait for the next delivery.
   */
  deliverIntakeWindow(): Promise<void>;
}

/** A message whose delivery failed, with the queue it came from. */
export interface FailedDelivery {
  queueUrl: string;
  message: QueueMessage;
  error: unknown;
}

interface Options {
  settings?: Omit<PipelineSettingsInput, 'endpoints'>;
  sim?: SimStartOptions;
  /** Endpoints for `internal` and `restricted` inputs, as the harness takes them. */
  endpoints?: LocalPipelineOptions['endpoints'];
  logger?: Logger;
}

/**
 * A pipeline over fresh stores for each test of the calling file; one simulator for the file.
 * Options given as a function are read before each test, once the file's own servers run.
 */
export function useFakePipeline(given: Options | (() => Options) = {}): FakePipeline {
  const optionsNow = () => (typeof given === 'function' ? given() : given);
  const options = typeof given === 'function' ? {} : given;
  const clock = runningClock(FAKE_EPOCH);
  const pricing = parsePricingSettings(options.settings?.pricing);
  let sim: SimHandle | undefined;
  let deps: WorkerDeps | undefined;
  let queues = fakeQueueSender();
  const sends = failingSends();
  const died = deaths();
  let failed: { mode: 'keep' | 'redeliver'; list: FailedDelivery[] } | undefined;
  /** Lists a failed delivery; true when it is to come back. */
  const failedOnce = (queueUrl: string, message: QueueMessage, error: unknown) => {
    if (!failed) throw error;
    failed.list.push({ queueUrl, message, error });
    return failed.mode === 'redeliver';
  };
  let tables: FakeLedgerTable | undefined;
  let script: LlmScript | undefined;
  let scriptCalls = 0;
  let sequence = 0;
  const submitted = new Map<string, string>();
  const ref = (batch: BatchLike): BatchRef => {
    if (typeof batch !== 'string') return batch;
    const [team, batchId] = batch.split('/');
    if (team !== undefined && batchId !== undefined) return { team, batchId };
    const owner = submitted.get(batch);
    if (owner === undefined) throw new Error(`batch ${batch} was not submitted here`);
    return { team: owner, batchId: batch };
  };

  beforeAll(async () => {
    sim = await startSimulator({
      port: 0,
      clock: clockMs(clock),
      catalog: buildCatalog(settingsLayers({ pricing }).layers),
      pricingInstant: pricing.instant,
      timeScale: 0,
      constructionDelayMs: 0,
      seed: 11,
      ...options.sim,
    });
  });
  afterAll(async () => {
    await sim?.close();
  });
  beforeEach(() => {
    const s = sim as SimHandle;
    s.reset();
    s.configure({ faults: { stallMs: 0 }, balanceNanoUsd: undefined });
    submitted.clear();
    clock.set(FAKE_EPOCH);
    script = undefined;
    queues = fakeQueueSender();
    deps = buildDeps(s, queues);
    sends.reset();
    died.reset();
    failed = undefined;
    deps.queues = sends.wrap(queues);
  });

  function buildDeps(s: SimHandle, q: FakeQueueSender): WorkerDeps {
    const now = optionsNow();
    const extra = Object.entries(now.endpoints ?? {});
    const settings = parseSettings({
      maxOutputTokens: { docs: 256, tests: 256 },
      ...now.settings,
      executor: { settleMs: 5, stopMarginMs: 500, ...now.settings?.executor },
      endpoints: {
        public: { name: ENDPOINT_NAMES.public, baseURL: s.url },
        ...Object.fromEntries(
          extra.map(([level, e]) => [
            level,
            { name: level, baseURL: e.baseURL, ...(e.models ? { models: e.models } : {}) },
          ]),
        ),
      },
    });
    const objects = notifying(createMemoryObjectStore(), q);
    const table = newFakeLedgerTable();
    tables = table;
    const real: LlmClient = createLlmClient(
      routingFor(settings, {
        [ENDPOINT_NAMES.public]: s.options.apiKeys[0] ?? '',
        ...Object.fromEntries(extra.map(([level, e]) => [level, e.apiKey])),
      }),
      { now: clockMs(clock), ...(now.logger ? { logger: now.logger } : {}) },
    );
    const llm: LlmClient = {
      complete: (request, callOptions) => {
        const send = () => real.complete(request, callOptions);
        return script ? script(request, send, ++scriptCalls) : send();
      },
    };
    return {
      objects,
      queues: q,
      queueUrls: URLS,
      jobs: fakeJobsStore(table.jobs),
      ledger: fakeLedgerStore(table),
      settings,
      prices: createPriceSource({
        objects,
        settings,
        clock,
        bucketOrigin: `s3://${BUCKET}/config`,
      }),
      clock,
      llm,
      ...(now.logger ? { logger: now.logger } : {}),
    };
  }

  const get = () => {
    if (!deps) throw new Error('the fake pipeline exists inside tests only');
    return deps;
  };

  async function deliverWork(d: WorkerDeps, receives: Map<string, number>): Promise<void> {
    for (const message of queues.drain(URLS.work)) {
      const count = (receives.get(message.body) ?? 0) + 1;
      receives.set(message.body, count);
      const result = await died
        .during(
          processWorkMessage(
            message.body,
            {
              deadline: clock.now().getTime() + 60_000,
              owner: `fake-worker-${++sequence}`,
              lastChance: QUEUES.work.maxReceiveCount - count <= 2,
            },
            d,
          ),
        )
        .catch((err: unknown) => (failedOnce(URLS.work, message, err) ? 'failed' : 'kept'));
      if (result === 'kept') continue;
      if (result === 'died' || result === 'failed') {
        // A dead invocation never gives its message back: SQS does, and its jobs can be claimed
        // again once their leases ran out.
        if (result === 'died') clock.advance(d.settings.leaseMs + 1_000);
        if (count < QUEUES.work.maxReceiveCount)
          queues.sent.set(URLS.work, [...(queues.sent.get(URLS.work) ?? []), message]);
        continue;
      }
      // SQS would deliver the message again after its visibility timeout; here, at once.
      if (result.retry && count < QUEUES.work.maxReceiveCount)
        queues.sent.set(URLS.work, [...(queues.sent.get(URLS.work) ?? []), message]);
    }
  }

  /** Delivers planning messages to the planner as one window (one invocation's records). */
  async function deliverPlanning(
    d: WorkerDeps,
    planning: (QueueMessage & { queueUrl: string })[],
    receives: Map<string, number>,
  ): Promise<void> {
    // SQS holds a delayed message back (a drop's quiet period, a deferred batch); here the
    // clock moves on by the delay instead.
    const delay = Math.max(0, ...planning.map((m) => m.delaySeconds ?? 0));
    if (delay > 0) clock.advance(delay * 1000);
    const records = planning.map((m) => ({ messageId: `msg-${++sequence}`, body: m.body }));
    const failures = await planIntake(records, d);
    for (const [i, record] of records.entries()) {
      const error = failures.get(record.messageId);
      if (error === undefined) continue;
      const { queueUrl, ...message } = planning[i] as (typeof planning)[number];
      const count = (receives.get(message.body) ?? 0) + 1;
      receives.set(message.body, count);
      if (failedOnce(queueUrl, message, error) && count < QUEUES.intake.maxReceiveCount)
        await queues.send(queueUrl, [{ ...message, delaySeconds: 0 }]);
    }
  }

  async function settle(rounds?: number): Promise<void> {
    const d = get();
    const receives = new Map<string, number>();
    for (let round = 0; round < (rounds ?? MAX_ROUNDS); round++) {
      const planning = [
        ...queues.drain(URLS.intake).map((m) => ({ queueUrl: URLS.intake, ...m })),
        ...queues.drain(URLS.plan).map((m) => ({ queueUrl: URLS.plan, ...m })),
      ];
      if (planning.length > 0) {
        await deliverPlanning(d, planning, receives);
        continue;
      }
      if ((queues.sent.get(URLS.work) ?? []).length > 0) {
        await deliverWork(d, receives);
        continue;
      }
      const finalizing = queues.drain(URLS.finalize);
      if (finalizing.length === 0) return;
      for (const m of finalizing) await processFinalizeMessage(m.body, d);
    }
    if (rounds !== undefined) return;
    throw new Error(`the pipeline did not settle in ${MAX_ROUNDS} deliveries`);
  }

  /**
   * The bucket as S3 with its notifications: a write (or copy) of a notified key, by a team, the
   * pipeline or the CLI, sends its ObjectCreated event to the intake queue.
   */
  function notifying(objects: ObjectStore, q: FakeQueueSender): ObjectStore {
    const notify = async (key: string, size: number) => {
      if (!isNotifiedKey(key)) return;
      const event = objectCreatedEvent({
        bucket: BUCKET,
        key,
        size,
        eTag: `etag-${++sequence}`,
        sequencer: sequence.toString(16).toUpperCase().padStart(16, '0'),
        eventTime: clock.now(),
        region: 'us-east-1',
      });
      await q.send(URLS.intake, [{ body: JSON.stringify(event) }]);
    };
    return {
      ...objects,
      async put(key, body, contentType) {
        await objects.put(key, body, contentType);
        await notify(key, typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
      },
      async copy(from, to) {
        const copied = await objects.copy(from, to);
        if (copied) await notify(to, (await objects.size(to)) ?? 0);
        return copied;
      },
    };
  }

  const put = (key: string, body: string | Uint8Array) => get().objects.put(key, body);

  return {
    get deps() {
      return get();
    },
    get queues() {
      return queues;
    },
    get tables() {
      if (!tables) throw new Error('the fake pipeline exists inside tests only');
      return tables;
    },
    get sim() {
      if (!sim) throw new Error('the simulator is not started');
      return sim;
    },
    setClock: (at) => clock.set(at),
    advanceClock: (ms) => clock.advance(ms),
    scriptLlm: (s) => {
      script = s;
      scriptCalls = 0;
    },
    put,
    ref,
    async submit(manifest, files) {
      const batch = { team: manifest.team.toLowerCase(), batchId: manifest.batchId };
      submitted.set(batch.batchId, batch.team);
      for (const [path, body] of Object.entries(files))
        await put(batchFileKeyFor(batch, path), body);
      await put(manifestKeyFor(batch), JSON.stringify(manifest));
      return batch;
    },
    settle,
    queueUrl: (name) => URLS[name],
    failSends: (queue, times) => sends.failSends(queue, times),
    failedSends: () => sends.failedSends(),
    die: () => died.die(),
    async deliverIntakeWindow() {
      const planning = queues.drain(URLS.intake).map((m) => ({ queueUrl: URLS.intake, ...m }));
      if (planning.length > 0) await deliverPlanning(get(), planning, new Map());
    },
    onFailures(mode) {
      failed = { mode, list: failed?.list ?? [] };
      return failed.list;
    },
    async done(batch) {
      await settle();
      const text = await get().objects.getText(resultKeys(ref(batch)).summary);
      if (!text) throw new Error(`batch ${JSON.stringify(batch)} has no summary`);
      return JSON.parse(text) as ResultsSummary;
    },
    async errors(batch) {
      const text = (await get().objects.getText(resultKeys(ref(batch)).errors)) ?? '';
      return text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l));
    },
  };
}

export { expectOneTerminalStateEach, ledgerTotals, simTotals, statesInTable } from './invariants';

/*
 * The harness's helpers (test/pipeline/support.ts) over the in-memory pipeline, with the same
 * names and arguments, so that a rule test moves onto it by its imports.
 */

/** Uploads a batch's files, then its manifest. */
export const submit = (h: FakePipeline, manifest: Manifest, files: Record<string, string>) =>
  h.submit(manifest, files);

/** Writes one object to the bucket (with its S3 event, where the key is notified). */
export const put = (h: FakePipeline, key: string, body: string | Uint8Array) => h.put(key, body);

/** Runs the pipeline until nothing is queued and returns the batch's summary. */
export const waitForDone = (h: FakePipeline, batch: BatchLike) => h.done(batch);

/** Lines of a batch's errors.jsonl. */
export const errorsOf = (h: FakePipeline, batch: BatchLike) => h.errors(batch);

/** The month (`YYYY-MM`) the pipeline's clock is in: the month its costs are booked to. */
export const monthOf = (h: FakePipeline) => h.deps.clock.now().toISOString().slice(0, 7);

/** Runs the pipeline until nothing is queued; then the summaries of every batch of `team`. */
export async function summariesOfTeam(h: FakePipeline, team: string): Promise<ResultsSummary[]> {
  await h.settle();
  const keys = await h.deps.objects.list(`results/${team}/`);
  const texts = await Promise.all(
    keys.filter((k) => k.endsWith('/summary.json')).map((k) => h.deps.objects.getText(k)),
  );
  return texts
    .filter((t): t is string => t !== undefined)
    .map((t) => JSON.parse(t) as ResultsSummary)
    .filter((s) => s.team === team);
}

/** `warmbatch` command dependencies over the pipeline's stores, on its clock. */
export function cliDeps(h: FakePipeline, io: CliIo): CliDeps {
  const { objects, jobs, ledger, clock } = h.deps;
  return {
    io,
    clock,
    connect: async () => ({ objects, jobs, ledger, close() {} }),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    pollMs: 50,
  };
}

/*
 * Commands that wait on the pipeline (`submit --wait`, `--validate`'s repairs and recording)
 * over the in-memory pipeline: the emulated pollers deliver messages while the CLI sleeps
 * between polls; here each sleep delivers them instead.
 */

/** `cliDeps` whose every sleep first runs the pipeline until nothing is queued. */
export function settlingCliDeps(h: FakePipeline, io: CliIo): CliDeps {
  let settling: Promise<void> = Promise.resolve();
  return {
    ...cliDeps(h, io),
    async sleep(ms) {
      // One delivery run at a time, however many commands poll at once.
      settling = settling.then(() => h.settle());
      await settling;
      // A brief real pause, so a loop that waits on something the pipeline does not make
      // (a held provider answer, a cancel from another command) yields instead of spinning.
      await new Promise((r) => setTimeout(r, Math.min(ms, 5)));
    },
  };
}
