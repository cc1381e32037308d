/**
 * The AWS bill of an end-to-end run: what the meter counted (S3, DynamoDB, SQS requests, by
 * function), what Lambda would bill for the invocations, CloudWatch Logs for what the functions
 * logged, and Secrets Manager for the worker's cold starts, priced with the dated AWS list
 * prices (shared/pricing/aws.ts).
 *
 * Two parts are models, said as such in every report:
 * - Lambda's billed duration. The worker's is mostly waiting for the provider, which the
 *   simulator at time scale 0 does not make it do: that wait is modelled per work message from
 *   the simulator's latency model (TTFT + prefill + output at its tokens per second) over the
 *   billed responses, the message's jobs packed into the executor's concurrency, each job's slot
 *   also holding its own AWS requests at `awsCallMs` each. The planner's and finalize's are
 *   their counted requests at `awsCallMs`, `parallelism` at a time. The handlers' time measured
 *   here is reported too, as an upper bound: it is the emulators' latency on a shared machine
 *   (DynamoDB Local under eight concurrent workers), several times AWS's;
 * - Lambda's own log lines and metric blobs per invocation are a fixed estimate.
 */

import { type MeterSnapshot, usageOfMeter } from '../../local/meter';
import type { InvocationRecord } from '../../local/runtime';
import { HIT_PREFILL_SPEEDUP, DEFAULT_OPTIONS as SIM } from '../../local/sim/server';
import type { CostRecord } from '../../shared/ports/ledger';
import {
  type AwsCost,
  type AwsPriceBook,
  type AwsUsage,
  addAwsUsage,
  awsCost,
  awsPriceBook,
} from '../../shared/pricing/aws';

/** Bytes of Lambda's START, END and REPORT lines of one invocation (measured on similar functions). */
export const PLATFORM_LOG_BYTES_PER_INVOCATION = 450;
/** Bytes of the embedded-metric-format blob one invocation flushes (about ten metrics). */
export const METRICS_LOG_BYTES_PER_INVOCATION = 1_200;

/** The provider's latency, as the simulator models it. */
export interface LatencyModel {
  ttftMs: number;
  outputTokensPerSecond: number;
  prefillMissTokensPerSecond: number;
}

export const SIM_LATENCY: LatencyModel = {
  ttftMs: SIM.ttftMs,
  outputTokensPerSecond: SIM.outputTokensPerSecond,
  prefillMissTokensPerSecond: SIM.prefillMissTokensPerSecond,
};

/** How long one billed response kept its caller waiting, by the latency model. */
export function responseLatencyMs(usage: CostRecord['usage'], model: LatencyModel): number {
  const prefill =
    usage.promptMissTokens / model.prefillMissTokensPerSecond +
    usage.promptHitTokens / (model.prefillMissTokensPerSecond * HIT_PREFILL_SPEEDUP);
  return (
    model.ttftMs + prefill * 1000 + (usage.completionTokens / model.outputTokensPerSecond) * 1000
  );
}

/** Greedy list scheduling: when `durations`, started in order on `slots` slots, are all done. */
export function makespanMs(durations: readonly number[], slots: number): number {
  const ends: number[] = Array.from({ length: Math.max(1, slots) }, () => 0);
  for (const d of durations) {
    let first = 0;
    for (let i = 1; i < ends.length; i++)
      if ((ends[i] as number) < (ends[first] as number)) first = i;
    ends[first] = (ends[first] as number) + d;
  }
  return Math.max(...ends);
}

export interface WaitModelOptions {
  latency: LatencyModel;
  /** Added to every job's slot time: its own AWS requests. */
  perJobExtraMs?: number;
  /** Requests one worker invocation keeps in flight (the executor's concurrency). */
  concurrency: number;
  /** The executor's wait between a warm-up and its check. */
  settleMs: number;
  /** Jobs of one work message. */
  jobsPerMessage: number;
}

/**
 * The provider wait the worker's invocations would have billed, modelled per batch from its
 * billed responses: its warm-ups in sequence (with a settle before each check), then its job
 * answers in work messages of `jobsPerMessage`, each packed into `concurrency` slots.
 */
export function modelledProviderWaitMs(
  records: readonly CostRecord[],
  options: WaitModelOptions,
): number {
  const byBatch = new Map<string, CostRecord[]>();
  for (const r of records) {
    const key = `${r.team}/${r.batchId}`;
    const list = byBatch.get(key) ?? [];
    list.push(r);
    byBatch.set(key, list);
  }
  let total = 0;
  for (const list of byBatch.values()) {
    const warmups = list.filter((r) => r.purpose === 'warmup');
    total += warmups.reduce((n, r) => n + responseLatencyMs(r.usage, options.latency), 0);
    total += Math.floor(warmups.length / 2) * options.settleMs;
    const jobs = list
      .filter((r) => r.purpose !== 'warmup')
      .sort((a, b) => (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0))
      .map((r) => responseLatencyMs(r.usage, options.latency) + (options.perJobExtraMs ?? 0));
    for (let i = 0; i < jobs.length; i += options.jobsPerMessage)
      total += makespanMs(jobs.slice(i, i + options.jobsPerMessage), options.concurrency);
  }
  return Math.round(total);
}

/** Most invocations of one function that overlapped in time: the containers it needed. */
export function peakOverlap(invocations: readonly InvocationRecord[]): number {
  const edges = invocations.flatMap((i) => [
    { at: i.startedAt, step: 1 },
    { at: i.startedAt + i.durationMs, step: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let peak = 0;
  for (const e of edges) {
    now += e.step;
    peak = Math.max(peak, now);
  }
  return peak;
}

export interface RunBillInput {
  snapshot: MeterSnapshot;
  invocations: readonly InvocationRecord[];
  /** Billed responses of the run (the ledger's records). */
  records: readonly CostRecord[];
  /** Bytes of the functions' own log lines. */
  logBytes: number;
  /** Callers whose requests are the pipeline's (the handlers and Lambda's pollers), not the user's uploads. */
  pipelineCallers: readonly string[];
  waitModel: WaitModelOptions;
  /** Names of the functions in `invocations` and the meter's callers. */
  functions: { planner: string; worker: string; finalize: string };
  /** Memory of each function, MB (shared/resources.ts FUNCTIONS). */
  memoryMb: { planner: number; worker: number; finalize: number };
  /** Assumed latency of one AWS request from a Lambda in the same region, ms. */
  awsCallMs: number;
  /** Requests the planner and finalize keep in flight (their concurrency settings). */
  parallelism: number;
  at: Date;
  book?: AwsPriceBook;
}

/** AWS assumed per request from Lambda in-region: DynamoDB single-digit ms, S3 tens. */
export const AWS_CALL_MS = 10;

export interface RunBill {
  /** Counted requests of the pipeline's functions and pollers. */
  requests: AwsUsage;
  lambda: {
    invocations: number;
    /** Handler time measured against the emulators, all functions (ms): an upper bound. */
    measuredMs: number;
    /** Modelled billed duration per function (ms): what the duration line prices. */
    modelledMs: { planner: number; worker: number; finalize: number };
    /** Of the worker's: the provider wait alone (ms). */
    providerWaitMs: number;
    /** Memory x modelled duration, MB-ms. */
    mbMs: number;
  };
  logBytes: number;
  secretsCalls: number;
  usage: AwsUsage;
  cost: AwsCost;
  /** The uploads of the dropped files (PUTs by whoever drops them), priced apart. */
  uploads: AwsCost;
}

/** Prices the pipeline's AWS usage of one run. */
export function runBill(input: RunBillInput): RunBill {
  const book = input.book ?? awsPriceBook();
  const requests = usageOfMeter(input.snapshot, input.pipelineCallers);
  const uploaders = Object.keys(input.snapshot).filter((c) => !input.pipelineCallers.includes(c));
  const uploads = awsCost(usageOfMeter(input.snapshot, uploaders), input.at, book);
  const { functions: fn, memoryMb: mem } = input;
  const callsOf = (caller: string) =>
    Object.values(input.snapshot[caller] ?? {}).reduce(
      (n, ops) => n + Object.values(ops ?? {}).reduce((m, t) => m + t.calls, 0),
      0,
    );
  const jobAnswers = input.records.filter((r) => r.purpose !== 'warmup').length;
  const workerCallsPerJob = jobAnswers ? callsOf(fn.worker) / jobAnswers : 0;
  const providerWaitMs = modelledProviderWaitMs(input.records, input.waitModel);
  const modelledMs = {
    planner: Math.round((callsOf(fn.planner) * input.awsCallMs) / input.parallelism),
    worker: modelledProviderWaitMs(input.records, {
      ...input.waitModel,
      perJobExtraMs: workerCallsPerJob * input.awsCallMs,
    }),
    finalize: Math.round((callsOf(fn.finalize) * input.awsCallMs) / input.parallelism),
  };
  const mbMs =
    modelledMs.planner * mem.planner +
    modelledMs.worker * mem.worker +
    modelledMs.finalize * mem.finalize;
  let measuredMs = 0;
  for (const i of input.invocations) measuredMs += i.durationMs;
  const invocations = input.invocations.length;
  const logBytes =
    input.logBytes +
    invocations * (PLATFORM_LOG_BYTES_PER_INVOCATION + METRICS_LOG_BYTES_PER_INVOCATION);
  // The worker reads its API keys once per container.
  const secretsCalls = peakOverlap(input.invocations.filter((i) => i.functionName === fn.worker));
  const usage = addAwsUsage(requests, {
    'lambda.requests': invocations,
    'lambda.armDuration': Math.round(mbMs),
    'logs.ingestedBytes': logBytes,
    'secretsmanager.calls': secretsCalls,
  });
  return {
    requests,
    lambda: {
      invocations,
      measuredMs: Math.round(measuredMs),
      modelledMs,
      providerWaitMs,
      mbMs: Math.round(mbMs),
    },
    logBytes,
    secretsCalls,
    usage,
    cost: awsCost(usage, input.at, book),
    uploads,
  };
}

/** Mean latencies of a run's billed responses by the simulator's latency model. */
export function latencyOf(
  records: readonly { purpose: string; usage: Parameters<typeof responseLatencyMs>[0] }[],
  settleMs: number,
  batches: number,
): { jobMs: number; warmupChainMs: number } {
  const jobs = records.filter((r) => r.purpose === 'job');
  const warmups = records.filter((r) => r.purpose === 'warmup');
  const sum = (list: typeof records) =>
    list.reduce((n, r) => n + responseLatencyMs(r.usage, SIM_LATENCY), 0);
  return {
    jobMs: Math.round(jobs.length ? sum(jobs) / jobs.length : 0),
    warmupChainMs: Math.round(
      batches ? (sum(warmups) + (warmups.length / 2) * settleMs) / batches : 0,
    ),
  };
}
