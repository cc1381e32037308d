/**
 * The AWS bill of an end-to-end run: what the meter counted (S3, DynamoDB, SQS requests, by
 * function), what Lambda would bill for the invocations, CloudWatch Logs for what the functions
 * logged, and Secrets Manager for the worker's cold starts, priced with the dated AWS list
 * prices (shared/pricing/aws.ts).
 *
 * Two parts are models, said as such in every report:
 * - the worker's duration on AWS is mostly waiting for the provider, which the simulator at time
 *   scale 0 does not make it do: that wait is added per work message from the simulator's
 *   latency model (TTFT + prefill + output at its tokens per second) over the billed responses,
 *   the message's jobs packed into the executor's concurrency;
 * - Lambda's own log lines and metric blobs per invocation are a fixed estimate.
 */
import type { InvocationRecord } from '../../local/runtime';
import { HIT_PREFILL_SPEEDUP, DEFAULT_OPTIONS as SIM } from '../../local/sim/server';
import { type MeterSnapshot, usageOfMeter } from '../../shared/aws/meter';
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
      .map((r) => responseLatencyMs(r.usage, options.latency));
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
  /** Name of the worker function in `invocations`. */
  workerFunction: string;
  at: Date;
  book?: AwsPriceBook;
}

export interface RunBill {
  /** Counted requests of the pipeline's functions and pollers. */
  requests: AwsUsage;
  lambda: {
    invocations: number;
    /** Measured handler time, all functions (ms). */
    measuredMs: number;
    /** Modelled provider wait added to the worker (ms). */
    providerWaitMs: number;
    /** What the duration line prices: memory x (measured + modelled), MB-ms. */
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
  const providerWaitMs = modelledProviderWaitMs(input.records, input.waitModel);
  const workerMb =
    input.invocations.find((i) => i.functionName === input.workerFunction)?.memoryMb ?? 1024;
  let mbMs = providerWaitMs * workerMb;
  let measuredMs = 0;
  for (const i of input.invocations) {
    measuredMs += i.durationMs;
    // Lambda bills whole milliseconds, rounded up.
    mbMs += Math.ceil(i.durationMs) * i.memoryMb;
  }
  const invocations = input.invocations.length;
  const logBytes =
    input.logBytes +
    invocations * (PLATFORM_LOG_BYTES_PER_INVOCATION + METRICS_LOG_BYTES_PER_INVOCATION);
  // The worker reads its API keys once per container.
  const secretsCalls = peakOverlap(
    input.invocations.filter((i) => i.functionName === input.workerFunction),
  );
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
