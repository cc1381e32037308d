/**
 * The jobs table's items as stored, and their translation to and from the domain's types.
 * Items are read through zod schemas rather than casts, so an item that does not have the shape
 * the code expects fails loudly, naming the field, instead of travelling on half-read.
 */
import * as z from 'zod';
import { JOB_ERROR_CODES } from '../../job-errors';
import {
  BATCH_STATUSES,
  type BatchItem,
  type BatchStatus,
  END_COUNTERS,
  type JobItem,
  type NewBatch,
  type NewJob,
  type ReuseItem,
} from '../../ports/jobs';
import { QUALITY_FIELDS, VERDICTS } from '../../quality/verdicts';
import { TOTAL_FIELDS } from '../../totals';
import { type BatchRef, JOB_STATES, type JobState, KINDS, LANES, SENSITIVITIES } from '../../types';
import { assertCount } from '../dynamo';
import { batchKey, jobKey, reuseKey } from './keys';

/** An item of the jobs table that does not have the shape its type says. */
export class MalformedItemError extends Error {
  override name = 'MalformedItemError';
}

/** ADD counters appear on first use: absent reads as 0. */
const counter = z.number().default(0);
const counters = <K extends string>(keys: readonly K[]) =>
  z.object(Object.fromEntries(keys.map((k) => [k, counter])) as Record<K, typeof counter>);

const QualitySchema = z
  .object({
    recordedAt: z.string(),
    verdicts: counters(VERDICTS),
    rounds: counter,
    repairHitTokens: counter,
    repairOriginalPromptTokens: counter,
  })
  .extend(counters(QUALITY_FIELDS).shape);

/** A batch's settings as the planner creates it (`NewBatch`), as stored. */
export const NewBatchSchema = z.object({
  batchId: z.string(),
  team: z.string(),
  project: z.string(),
  kind: z.enum(KINDS),
  model: z.string(),
  sensitivity: z.enum(SENSITIVITIES),
  createdAt: z.string(),
  deadline: z.string().optional(),
  preferOffPeak: z.boolean().optional(),
  ci: z.record(z.string(), z.string()).optional(),
  tags: z.record(z.string(), z.string()).optional(),
  lane: z.enum(LANES).optional(),
  repairOf: z.object({ batchId: z.string(), origin: z.string(), round: z.number() }).optional(),
  shadowOf: z.string().optional(),
  shadow: z.object({ batchId: z.string(), model: z.string(), rate: z.number() }).optional(),
});

const BatchItemSchema = NewBatchSchema.extend({
  quality: QualitySchema.optional(),
  status: z.enum(BATCH_STATUSES),
  total: counter,
  ended: counter,
  unpricedRequests: counter,
  finalizeQueued: z.boolean().default(false),
  plannedAt: z.string().optional(),
  workMessages: z.number().optional(),
  cancelledAt: z.string().optional(),
  doneAt: z.string().optional(),
})
  .extend(counters(END_COUNTERS).shape)
  .extend(counters(TOTAL_FIELDS).shape);

const JobItemSchema = z.object({
  batchId: z.string(),
  jobId: z.string(),
  state: z.enum(JOB_STATES),
  attempts: counter,
  path: z.string(),
  inputKey: z.string(),
  outputKey: z.string(),
  estimateNanoUsd: counter,
  reservedNanoUsd: counter,
  reservedMonth: z.string().optional(),
  updatedAt: z.string(),
  requestKey: z.string().optional(),
  requestHash: z.string().optional(),
  customId: z.string().optional(),
  leaseOwner: z.string().optional(),
  leaseUntil: z.number().optional(),
  responseId: z.string().optional(),
  // A code this version does not know (written by a newer one) reads as the generic `error`; the
  // reason, which is what a person reads, is kept.
  error: z.object({ code: z.enum(JOB_ERROR_CODES).catch('error'), reason: z.string() }).optional(),
  usage: z
    .object({
      promptHitTokens: z.number(),
      promptMissTokens: z.number(),
      completionTokens: z.number(),
      reasoningTokens: z.number(),
    })
    .optional(),
  costNanoUsd: z.number().optional(),
  costUnpriced: z.string().optional(),
  latencyMs: z.number().optional(),
  servedModel: z.string().optional(),
  servedBy: z.string().optional(),
  finishReason: z.string().optional(),
  repairOf: z.object({ batchId: z.string(), jobId: z.string() }).optional(),
  verdict: z
    .object({
      verdict: z.enum(VERDICTS),
      round: z.number(),
      final: z.enum(VERDICTS).optional(),
      repairedBy: z.object({ batchId: z.string(), jobId: z.string() }).optional(),
      kept: z.boolean().optional(),
      coverage: z.object({ before: z.number(), after: z.number(), total: z.number() }).optional(),
    })
    .optional(),
});

const ReuseItemSchema = z.object({
  requestHash: z.string(),
  outputKey: z.string(),
  responseId: z.string(),
  createdAt: z.string(),
  expiresAt: counter,
  origin: z
    .object({ team: z.string(), batchId: z.string(), jobId: z.string(), requestKey: z.string() })
    .optional(),
});

/**
 * Reads a table item through its schema, so a malformed item fails naming the item and the
 * field instead of travelling on half-read.
 * @throws MalformedItemError
 */
export function parseItem<S extends z.ZodType>(
  schema: S,
  item: Record<string, unknown>,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(item);
  if (parsed.success) return parsed.data;
  throw new MalformedItemError(
    `${what} item ${String(item.pk)} / ${String(item.sk)} is malformed: ${parsed.error.issues
      .map((i) => `${i.path.map(String).join('.')}: ${i.message}`)
      .join('; ')}`,
    { cause: parsed.error },
  );
}

/** A batch item as the domain sees it: counters and totals gathered from their attributes. */
export function toBatch(item: Record<string, unknown>): BatchItem {
  const {
    succeeded,
    failed,
    skipped_budget,
    reused,
    cancelled,
    expired,
    requests,
    hitTokens,
    missTokens,
    outputTokens,
    reasoningTokens,
    costNanoUsd,
    counterfactualNanoUsd,
    estimatedRequests,
    estimatedCostNanoUsd,
    warmupRequests,
    warmupCostNanoUsd,
    awsCostNanoUsd,
    unpricedRequests,
    ...batch
  } = parseItem(BatchItemSchema, item, 'batch');
  return {
    ...batch,
    counters: { succeeded, failed, skipped_budget, reused, cancelled, expired },
    totals: {
      requests,
      hitTokens,
      missTokens,
      outputTokens,
      reasoningTokens,
      costNanoUsd,
      counterfactualNanoUsd,
      estimatedRequests,
      estimatedCostNanoUsd,
      warmupRequests,
      warmupCostNanoUsd,
      awsCostNanoUsd,
      unpricedRequests,
    },
  };
}

/** A job item as the domain sees it. */
export function toJob(item: Record<string, unknown>): JobItem {
  return parseItem(JobItemSchema, item, 'job');
}

/** A result-reuse item as the domain sees it. */
export function toReuse(item: Record<string, unknown>): ReuseItem {
  return parseItem(ReuseItemSchema, item, 'reuse');
}

/** The item of a job as the planner creates it: pending, never claimed. */
export function newJobItem(
  batch: BatchRef,
  job: NewJob,
  updatedAt: string,
): Record<string, unknown> {
  const estimate = job.estimateNanoUsd ?? 0;
  assertCount(estimate, 'estimateNanoUsd');
  return {
    ...jobKey(batch, job.jobId),
    type: 'job',
    batchId: batch.batchId,
    jobId: job.jobId,
    state: 'pending' satisfies JobState,
    attempts: 0,
    path: job.path,
    inputKey: job.inputKey,
    outputKey: job.outputKey,
    ...(job.requestKey !== undefined ? { requestKey: job.requestKey } : {}),
    ...(job.requestHash !== undefined ? { requestHash: job.requestHash } : {}),
    ...(job.customId !== undefined ? { customId: job.customId } : {}),
    ...(job.repairOf !== undefined ? { repairOf: job.repairOf } : {}),
    estimateNanoUsd: estimate,
    reservedNanoUsd: 0,
    updatedAt,
  };
}

/** The item of a new batch: open, every counter and total at zero. */
export function newBatchItem(batch: NewBatch, total: number): Record<string, unknown> {
  const zeros = (keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, 0]));
  return {
    ...batchKey(batch),
    type: 'batch',
    ...batch,
    status: 'open' satisfies BatchStatus,
    total,
    ended: 0,
    ...zeros(END_COUNTERS),
    ...zeros(TOTAL_FIELDS),
    unpricedRequests: 0,
    finalizeQueued: false,
  };
}

/** The item of a reuse entry. */
export function newReuseItem(entry: ReuseItem): Record<string, unknown> {
  return { ...reuseKey(entry.requestHash), type: 'reuse', ...entry };
}
