/**
 * The pipeline's own AWS bill, estimated for jobs not run yet (`warmbatch estimate`) or for a
 * batch whose requests were not counted (its summary): the pipeline's measured operation
 * profile (requests per job, counted in the adapters by `npm run bench -- --e2e 1000`), plus
 * Lambda's billed duration modelled from the answers' length, priced with the AWS price book.
 *
 * A profile, not a count: a batch with many failed inputs, retries or tiny groups makes other
 * requests than the measured one. `npm run bench -- --e2e 1000` prints a counted run beside it
 * (docs/benchmarks.md); test/pipeline/overhead.test.ts checks that every request is counted.
 */
import { type AwsCost, type AwsPriceBook, type AwsUsage, awsCost, awsPriceBook } from './aws';

/**
 * AWS usage per 1,000 jobs, without Lambda's duration: counted (local/meter.ts) over 1,000
 * files dropped as 20 projects of 50 (one batch, one work message each), planned, run, finalized
 * (`npm run bench -- --e2e 1000`, docs/benchmarks.md "The whole bill"). DynamoDB units in halves.
 */
export const MEASURED_USAGE_PER_1000_JOBS: AwsUsage = {
  's3.putRequests': 1_120,
  's3.getRequests': 2_060,
  'dynamodb.writeUnits': 58_016,
  'dynamodb.readUnits': 11_910,
  'sqs.standardRequests': 1_695,
  'sqs.fifoRequests': 376,
  'lambda.requests': 55,
  'logs.ingestedBytes': 945_810,
  'secretsmanager.calls': 5,
};

/** Time of one AWS request from a worker, inside a job's slot (assumed, in-region). */
export const AWS_REQUESTS_MS_PER_JOB = 130;

/**
 * How long a DeepSeek answer keeps a worker waiting, from the seed document's figures
 * (../shared/FACTS.md): about 1.2 s to the first token, then 32 output tokens a second; prompt
 * tokens are read at about 8,000 a second when missed (the simulator's figure).
 */
export const PROVIDER_SPEED = {
  ttftMs: 1_200,
  outputTokensPerSecond: 32,
  prefillMissTokensPerSecond: 8_000,
} as const;

/** A warm-up chain of a work message (probe, settle, check), as the e2e run measured it. */
export const WARMUP_CHAIN_MS = 4_850;

export interface OverheadInput {
  jobs: number;
  /** Per job, as `estimate` takes them. */
  promptTokens: number;
  cachedTokens: number;
  outputTokens: number;
  /** Requests one worker invocation keeps in flight (providerConcurrency). */
  providerConcurrency: number;
  /** Jobs of one work message. */
  jobsPerMessage: number;
  workerMemoryMb: number;
}

/** Milliseconds one job keeps its slot: its answer, and its own AWS requests. */
export function jobSlotMs(
  input: Pick<OverheadInput, 'promptTokens' | 'cachedTokens' | 'outputTokens'>,
): number {
  const missed = Math.max(0, input.promptTokens - input.cachedTokens);
  return (
    PROVIDER_SPEED.ttftMs +
    (missed / PROVIDER_SPEED.prefillMissTokensPerSecond) * 1000 +
    (input.outputTokens / PROVIDER_SPEED.outputTokensPerSecond) * 1000 +
    AWS_REQUESTS_MS_PER_JOB
  );
}

/**
 * AWS usage of `jobs` jobs: the measured profile scaled, and the worker's billed duration: per
 * work message a warm-up chain and its jobs in waves of `providerConcurrency`, every job the
 * same length (answers of uneven length make a message last as long as its longest one: the
 * e2e run measured about twice this).
 */
export function pipelineAwsUsage(input: OverheadInput): AwsUsage {
  const usage: AwsUsage = {};
  for (const [unit, perThousand] of Object.entries(MEASURED_USAGE_PER_1000_JOBS))
    usage[unit as keyof AwsUsage] = Math.round(((perThousand as number) * input.jobs) / 1000);
  const perMessage = Math.max(1, Math.min(input.jobsPerMessage, input.jobs));
  const messages = Math.ceil(input.jobs / perMessage);
  const waves = Math.ceil(perMessage / Math.max(1, input.providerConcurrency));
  const messageMs = WARMUP_CHAIN_MS + waves * jobSlotMs(input);
  usage['lambda.armDuration'] = Math.round(messages * messageMs * input.workerMemoryMb);
  return usage;
}

/** The estimated AWS cost of `jobs` jobs at `at`. */
export function pipelineAwsCost(
  input: OverheadInput,
  at: Date,
  book: AwsPriceBook = awsPriceBook(),
): AwsCost {
  return awsCost(pipelineAwsUsage(input), at, book);
}
