/**
 * The end-to-end scale run: the whole local pipeline (emulators, the real handlers, the
 * simulator at time scale 0) takes `files` dropped source files from drop to last output, with
 * every AWS request counted by function (local/meter.ts), every invocation timed, and the
 * pipeline's AWS bill priced beside what the simulator billed for the model.
 *
 *   npm run bench -- --e2e 5000
 */
import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { CONFIG_CONTEXT_KEY, parseConfig, type WarmbatchConfig } from '../../infra/config';
import { createAwsMeter, type MeterSnapshot } from '../../local/meter';
import { startLocalPipeline } from '../../local/pipeline';
import type { InvocationRecord } from '../../local/runtime';
import { recreateTables } from '../../local/runtime/resources';
import { BRIDGE_CALLERS } from '../../local/runtime/s3-bridge';
import { DEFAULT_OPTIONS as SIM_DEFAULTS, type SimHandle } from '../../local/sim/server';
import { runningClock } from '../../shared/clock';
import { DEFAULT_CONCURRENCY } from '../../shared/concurrency';
import { DEFAULT_MAX_JOBS_PER_MESSAGE } from '../../shared/grouping';
import type { Logger } from '../../shared/ports/logger';
import { FUNCTIONS, type FunctionName, type QueueFunctionName } from '../../shared/resources';
import { AWS_CALL_MS, latencyOf, type RunBill, runBill, SIM_LATENCY } from './bill';
import { type E2eProject, e2eWorkload, workloadDigest } from './workload';

export interface E2eOptions {
  files: number;
  filesPerProject: number;
  contextTokens: number;
  seed: number;
  /** The instant the run is priced at (the pipeline's and the simulator's clock start there). */
  at: Date;
  /** Scales function timeouts, batching windows and the drops' quiet period. */
  timeScale: number;
  /** Concurrent invocations per function (Lambda's scaling, bounded by this machine). */
  concurrency: Record<QueueFunctionName, number>;
  /** Requests one worker invocation keeps in flight; the deployed stack's providerConcurrency. */
  providerConcurrency: number;
  /** Milliseconds each AWS request waits first (uniform in the range); none by default. */
  awsLatencyMs?: { min: number; max: number };
  timeoutMs?: number;
  onProgress?: (line: string) => void;
  /**
   * A running DynamoDB Local to use instead of starting one, with a prefix for the run's tables
   * (the test suite shares one); its memory is then not reported.
   */
  dynamodb?: { endpoint: string; tablePrefix: string };
  /** Run the unreported warm-up first (default true); tests that check the report skip it. */
  warmUp?: boolean;
}

export interface E2eReport {
  workload: {
    files: number;
    projects: number;
    filesPerProject: number;
    contextTokens: number;
    seed: number;
    digest: string;
    at: string;
  };
  settings: {
    timeScale: number;
    concurrency: Record<QueueFunctionName, number>;
    providerConcurrency: number;
    awsLatencyMs: { min: number; max: number } | null;
  };
  /** From the first dropped file to the last summary. */
  wallMs: number;
  jobs: number;
  jobsPerSecond: number;
  batches: number;
  peakRssMb: { node: number; dynamodbLocal: number | null };
  /** Every request counted, by caller, service and operation. */
  operations: MeterSnapshot;
  invocations: Record<string, { count: number; totalMs: number; maxMs: number }>;
  provider: {
    requests: number;
    warmupRequests: number;
    hitTokens: number;
    missTokens: number;
    outputTokens: number;
    costNanoUsd: number;
  };
  bill: RunBill;
  /** The provider's time by the simulator's latency model: a job answer, a batch's warm-ups. */
  latency: { jobMs: number; warmupChainMs: number };
  /** AWS per 1,000 jobs, and as a share of what the provider billed. */
  overhead: {
    awsNanoUsd: number;
    awsPer1000JobsNanoUsd: number;
    providerPer1000JobsNanoUsd: number;
    share: number;
    /** The goal for `share`: under 5% of the provider's bill. */
    goal: number;
    met: boolean;
    uploadsPer1000JobsNanoUsd: number;
  };
}

export const OVERHEAD_GOAL = 0.05;

export const TEAM = 'scale';

/** Function names as the event sources call them. */
const fnName = (f: FunctionName) => `warmbatch-${f}`;

/** A logger that writes nothing and counts the bytes Powertools would have written at INFO. */
export function countingLogger(): Logger & { bytes(): number } {
  // Powertools' standard keys on every line (values of typical length).
  const standard = {
    level: 'INFO',
    timestamp: '2026-11-01T12:00:00.000Z',
    service: 'warmbatch-worker',
    cold_start: false,
    function_arn:
      'arn:aws:lambda:us-east-1:123456789012:function:WarmbatchStack-Worker1234ABCD-abcdef123456',
    function_memory_size: '1024',
    function_name: 'WarmbatchStack-Worker1234ABCD-abcdef123456',
    function_request_id: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    sampling_rate: 0,
    xray_trace_id: '1-5759e988-bd862e3fe1be46a994272793',
  };
  let total = 0;
  let keys: Record<string, unknown> = {};
  const line = (message: string, attrs: Record<string, unknown>[]) => {
    try {
      total += Buffer.byteLength(
        `${JSON.stringify({ ...standard, message, ...keys, ...Object.assign({}, ...attrs) })}\n`,
      );
    } catch {
      total += 500;
    }
  };
  return {
    debug: () => {},
    info: (m, ...a) => line(m, a),
    warn: (m, ...a) => line(m, a),
    error: (m, ...a) => line(m, a),
    appendKeys: (a) => {
      keys = { ...keys, ...a };
    },
    removeKeys: (names) => {
      for (const n of names) delete keys[n];
    },
    bytes: () => total,
  };
}

/** Peak resident memory of a process, from the kernel (Linux); null where it cannot be read. */
function peakRssOfPid(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb ? Math.round(Number(kb) / 1024) : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the workload through the local pipeline and measures it. */
/** A small LCG is enough for latency draws; the workload has its own PRNG. */
function latencyDraws(start: number): () => number {
  let seed = start;
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
}

/** Invocations per function: how many, and their total and longest durations, ms. */
function invocationTotals(invocations: readonly InvocationRecord[]): E2eReport['invocations'] {
  const byFunction: E2eReport['invocations'] = {};
  for (const i of invocations) {
    const e = byFunction[i.functionName] ?? { count: 0, totalMs: 0, maxMs: 0 };
    byFunction[i.functionName] = e;
    e.count++;
    e.totalMs += i.durationMs;
    e.maxMs = Math.max(e.maxMs, i.durationMs);
  }
  for (const e of Object.values(byFunction)) {
    e.totalMs = Math.round(e.totalMs);
    e.maxMs = Math.round(e.maxMs);
  }
  return byFunction;
}

/** An unreported first run, so the measured one does not pay for JIT and cold connections. */
async function warmUpRun(
  pipeline: Pipeline,
  put: (key: string, body: string) => Promise<unknown>,
  meter: ReturnType<typeof createAwsMeter>,
  invocations: InvocationRecord[],
  progress: (line: string) => void,
): Promise<void> {
  const { runtime } = pipeline;
  progress('warm-up run');
  await dropAndWait(
    e2eWorkload({ files: 20, filesPerProject: 10, contextTokens: 200, seed: 99, team: TEAM }),
    put,
    pipeline,
    meter.scope,
    60_000,
  );
  await runtime.drain();
  await recreateTables(runtime.clients, runtime.resources.tables);
  await clearBucket(pipeline, meter.scope);
  (pipeline.sim as SimHandle).reset();
  meter.reset();
  invocations.length = 0;
}

/** What the run cost in AWS requests, compute and logs, with the model of its waits. */
function billOf(
  snapshot: ReturnType<ReturnType<typeof createAwsMeter>['snapshot']>,
  invocations: readonly InvocationRecord[],
  records: Parameters<typeof runBill>[0]['records'],
  logBytes: number,
  options: E2eOptions,
): ReturnType<typeof runBill> {
  return runBill({
    snapshot,
    invocations,
    records,
    logBytes,
    pipelineCallers: [
      ...(['planner', 'worker', 'finalize'] as const).flatMap((f) => [
        fnName(f),
        `lambda-poller:${fnName(f)}`,
      ]),
      BRIDGE_CALLERS.notifications,
    ],
    waitModel: {
      latency: SIM_LATENCY,
      concurrency: options.providerConcurrency,
      // The simulated provider's construction delay: what a warm-up waits for there.
      settleMs: SIM_DEFAULTS.constructionDelayMs,
      jobsPerMessage: DEFAULT_MAX_JOBS_PER_MESSAGE,
    },
    functions: {
      planner: fnName('planner'),
      worker: fnName('worker'),
      finalize: fnName('finalize'),
    },
    memoryMb: {
      planner: FUNCTIONS.planner.memoryMb,
      worker: FUNCTIONS.worker.memoryMb,
      finalize: FUNCTIONS.finalize.memoryMb,
    },
    awsCallMs: AWS_CALL_MS,
    parallelism: DEFAULT_CONCURRENCY.planning,
    at: options.at,
  });
}

export async function runE2e(options: E2eOptions): Promise<E2eReport> {
  const progress = options.onProgress ?? (() => {});
  const meter = createAwsMeter();
  const invocations: InvocationRecord[] = [];
  const logger = countingLogger();
  const clock = runningClock(options.at);
  const random = latencyDraws(options.seed);
  const latency = options.awsLatencyMs;
  const pipeline = await startLocalPipeline({
    ports: { s3Sqs: 0, dynamodb: 0 },
    ...sharedDynamodb(options.dynamodb),
    configPath: false,
    clock,
    timeScale: options.timeScale,
    concurrency: options.concurrency,
    sim: { timeScale: 0, constructionDelayMs: 0, seed: options.seed },
    logger,
    meter,
    ...(latency
      ? { awsLatencyMs: () => latency.min + random() * (latency.max - latency.min) }
      : {}),
    onInvocation: (i) => invocations.push(i),
    settings: {
      executor: { concurrency: options.providerConcurrency, settleMs: 5, stopMarginMs: 1_000 },
    },
  });
  const { runtime, deps } = pipeline;
  const sim = pipeline.sim as SimHandle;
  const put = (key: string, body: string) =>
    meter.scope('uploads', () =>
      runtime.clients.s3.send(
        new PutObjectCommand({ Bucket: runtime.resources.bucket, Key: key, Body: body }),
      ),
    );
  try {
    // An unreported first run, so the measured one does not pay for JIT and cold connections.
    if (options.warmUp !== false) await warmUpRun(pipeline, put, meter, invocations, progress);

    const projects = e2eWorkload({
      files: options.files,
      filesPerProject: options.filesPerProject,
      contextTokens: options.contextTokens,
      seed: options.seed,
      team: TEAM,
    });
    progress(`dropping ${options.files} files in ${projects.length} projects`);
    const logBefore = logger.bytes();
    const started = Date.now();
    const done = await dropAndWait(
      projects,
      put,
      pipeline,
      meter.scope,
      options.timeoutMs ?? 3_600_000,
      progress,
    );
    const wallMs = done.lastDoneAt - started;
    // Let the last deletes and receives land before the counts are read.
    await waitIdle(pipeline);
    const snapshot = meter.snapshot();
    const records = await meter.scope('bench', () =>
      deps.ledger.records(TEAM, clock.now().toISOString().slice(0, 7)),
    );
    const t = sim.usage().totals;
    const bill = billOf(snapshot, invocations, records, logger.bytes() - logBefore, options);
    const per1000 = (nano: number) => Math.round((nano * 1000) / done.jobs);
    const byFunction = invocationTotals(invocations);
    const share = t.costNanoUsd > 0 ? bill.cost.totalNanoUsd / t.costNanoUsd : 0;
    return {
      workload: {
        files: options.files,
        projects: projects.length,
        filesPerProject: options.filesPerProject,
        contextTokens: options.contextTokens,
        seed: options.seed,
        digest: workloadDigest(projects),
        at: options.at.toISOString(),
      },
      settings: {
        timeScale: options.timeScale,
        concurrency: options.concurrency,
        providerConcurrency: options.providerConcurrency,
        awsLatencyMs: latency ?? null,
      },
      wallMs,
      jobs: done.jobs,
      jobsPerSecond: Math.round((done.jobs / (wallMs / 1000)) * 10) / 10,
      batches: done.batches,
      peakRssMb: {
        node: Math.round(process.resourceUsage().maxRSS / 1024),
        dynamodbLocal: peakRssOfPid(runtime.emulators.dynamodbPid),
      },
      operations: snapshot,
      invocations: byFunction,
      provider: {
        requests: t.requests,
        warmupRequests: records.filter((r) => r.purpose === 'warmup').length,
        hitTokens: t.hitTokens,
        missTokens: t.missTokens,
        outputTokens: t.outputTokens,
        costNanoUsd: t.costNanoUsd,
      },
      bill,
      latency: latencyOf(records, SIM_DEFAULTS.constructionDelayMs, done.batches),
      overhead: {
        awsNanoUsd: bill.cost.totalNanoUsd,
        awsPer1000JobsNanoUsd: per1000(bill.cost.totalNanoUsd),
        providerPer1000JobsNanoUsd: per1000(t.costNanoUsd),
        share,
        goal: OVERHEAD_GOAL,
        met: share < OVERHEAD_GOAL,
        uploadsPer1000JobsNanoUsd: per1000(bill.uploads.totalNanoUsd),
      },
    };
  } finally {
    await pipeline.stop();
  }
}

export type Pipeline = Awaited<ReturnType<typeof startLocalPipeline>>;

/** The pipeline's options for a DynamoDB Local given to a run, if one is. */
export function sharedDynamodb(dynamodb: { endpoint: string; tablePrefix: string } | undefined): {
  dynamodbEndpoint?: string;
  tablePrefix?: string;
} {
  return dynamodb ? { dynamodbEndpoint: dynamodb.endpoint, tablePrefix: dynamodb.tablePrefix } : {};
}
type Scope = <T>(caller: string, fn: () => T) => T;

/**
 * Drops every project (context first), then waits until the team's finished batches other
 * than `before` hold one job per dropped file.
 */
export async function dropAndWait(
  projects: readonly E2eProject[],
  put: (key: string, body: string) => Promise<unknown>,
  pipeline: Pipeline,
  scope: Scope,
  timeoutMs: number,
  progress: (line: string) => void = () => {},
  before: ReadonlySet<string> = new Set(),
): Promise<{ lastDoneAt: number; jobs: number; batches: number; batchIds: Set<string> }> {
  const limit = pLimit(32);
  for (const p of projects) if (p.context) await put(p.context.key, p.context.body);
  await Promise.all(projects.flatMap((p) => p.sources.map((f) => limit(() => put(f.key, f.body)))));
  const expected = projects.reduce((n, p) => n + p.sources.length, 0);
  const started = Date.now();
  let lastReport = 0;
  for (;;) {
    const state = await scope('bench', () => finished(pipeline, before));
    if (state.jobs >= expected) return state;
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out: ${state.jobs} of ${expected} jobs in finished batches`);
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      progress(`${state.batches} batches (${state.jobs} of ${expected} jobs) finished`);
    }
    await sleep(500);
  }
}

/** The finished batches of the team: how many, their jobs, and when the last one finished. */
async function finished(
  pipeline: Pipeline,
  before: ReadonlySet<string>,
): Promise<{ lastDoneAt: number; jobs: number; batches: number; batchIds: Set<string> }> {
  const { deps } = pipeline;
  const keys = (await deps.objects.list(`results/${TEAM}/`)).filter((k) =>
    k.endsWith('/summary.json'),
  );
  let jobs = 0;
  let lastDoneAt = 0;
  let batches = 0;
  const batchIds = new Set<string>();
  for (const key of keys) {
    const batchId = key.split('/').at(-2) ?? '';
    if (before.has(batchId)) continue;
    const batch = await deps.jobs.getBatch({ team: TEAM, batchId });
    if (batch?.status !== 'done') continue;
    batches++;
    batchIds.add(batchId);
    jobs += batch.total;
    lastDoneAt = Math.max(lastDoneAt, Date.parse(batch.doneAt ?? batch.createdAt));
  }
  // doneAt is on the pipeline's clock, which started at the pricing instant: back to real time.
  const offset = Date.now() - deps.clock.now().getTime();
  return { lastDoneAt: lastDoneAt + offset, jobs, batches, batchIds };
}

export async function waitIdle(pipeline: Pipeline): Promise<void> {
  const { runtime } = pipeline;
  for (let i = 0; i < 100; i++) {
    const busy = Object.values(runtime.resources.queues).some((q) => {
      const m = runtime.emulators.fauxqs.inspectQueue(q.name)?.messages;
      return m ? m.ready.length + m.delayed.length + m.inflight.length > 0 : false;
    });
    if (!busy) return;
    await sleep(200);
  }
}

/** Empties the bucket of the warm-up run's objects (its objects are not the measured run's). */
export async function clearBucket(pipeline: Pipeline, scope: Scope): Promise<void> {
  const { runtime } = pipeline;
  await scope('bench', async () => {
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    for (const key of await pipeline.deps.objects.list(''))
      await runtime.clients.s3.send(
        new DeleteObjectCommand({ Bucket: runtime.resources.bucket, Key: key }),
      );
  });
}

/** The deployed settings the e2e run uses unless told otherwise. */
export const E2E_DEFAULTS = {
  filesPerProject: 50,
  contextTokens: 3000,
  timeScale: 0.1,
  concurrency: { planner: 2, worker: 8, finalize: 2 } satisfies Record<QueueFunctionName, number>,
  /** The stack's providerConcurrency, as cdk.json deploys it. */
  providerConcurrency: deployedConfig().providerConcurrency,
} as const;

/** The stack's configuration as cdk.json deploys it. */
export function deployedConfig(): WarmbatchConfig {
  const cdk = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return parseConfig(cdk.context?.[CONFIG_CONTEXT_KEY]);
}
