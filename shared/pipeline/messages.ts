/**
 * Bodies of the messages the pipeline sends itself: work chunks (planner -> worker), finalize
 * requests (-> finalize), deferred batches and drop closes (planner -> planner, through the
 * intake queue).
 * Each is validated on receipt, so a malformed message fails loudly instead of half-running.
 */
import * as z from 'zod';
import { WARMUP_MODES } from '../grouping/types';
import { sha256Hex } from '../prompts/keys';
import { KINDS, LANES, SENSITIVITIES } from '../types';
import type { WorkGroupBy } from './types';

const count = z.number().int().nonnegative();

export const WorkJobSchema = z.object({
  jobId: z.string().min(1),
  prefixKey: z.string().min(1),
  model: z.string().min(1),
  sortKey: z.string(),
  prefixTokens: count,
  uniqueTokens: count,
  maxOutputTokens: z.number().int().positive(),
  path: z.string(),
  requestKey: z.string().min(1),
  requestHash: z.string().min(1),
  outputKey: z.string().min(1),
  /** Upper bound of the job's cost: what the worker reserves before the call. */
  estimateNanoUsd: count,
});
export type WorkJob = z.infer<typeof WorkJobSchema>;

export const WorkBodySchema = z.object({
  type: z.literal('work'),
  batchId: z.string().min(1),
  prefixKey: z.string().min(1),
  model: z.string().min(1),
  seq: count,
  total: z.number().int().positive(),
  warmup: z.object({ mode: z.enum(WARMUP_MODES), prefixTokens: count }).optional(),
  team: z.string().min(1),
  project: z.string().min(1),
  kind: z.enum(KINDS),
  sensitivity: z.enum(SENSITIVITIES),
  /** The batch's lane: its billed responses are ledgered in it. */
  lane: z.enum(LANES).default('primary'),
  /** The batch's deadline (ISO): no request of its jobs is sent after it. */
  deadline: z.iso.datetime({ offset: true }).optional(),
  /** The batch's cost-allocation tags, copied onto each of its cost records. */
  tags: z.record(z.string(), z.string()).optional(),
  /** Month (`YYYY-MM`) the batch was planned in. */
  reservedMonth: z.string().regex(/^\d{4}-\d{2}$/),
  jobs: z.array(WorkJobSchema).min(1),
});
/** A work message as sent; `lane` defaults to `primary` on receipt. */
export type WorkBody = z.input<typeof WorkBodySchema>;

export const FinalizeBodySchema = z.object({
  type: z.literal('finalize'),
  team: z.string().min(1),
  batchId: z.string().min(1),
});
export type FinalizeBody = z.infer<typeof FinalizeBodySchema>;

/** A manifest held back until the provider's off-peak hours. */
export const DeferredBodySchema = z.object({
  type: z.literal('deferred-batch'),
  manifestKey: z.string().min(1),
  /** ISO time before which the batch must not be planned. */
  notBefore: z.iso.datetime({ offset: true }),
});
export type DeferredBody = z.infer<typeof DeferredBodySchema>;

/**
 * Sent to the intake queue, delayed by the quiet period, when files join a drop: the planner
 * then closes the drop and plans it if no file arrived since, and otherwise waits again.
 */
export const CloseDropBodySchema = z.object({
  type: z.literal('close-drop'),
  dropId: z.string().min(1),
  team: z.string().min(1),
  project: z.string().min(1),
  kind: z.enum(KINDS),
});
export type CloseDropBody = z.infer<typeof CloseDropBodySchema>;

/**
 * Planning fan-out, on the planning queue (one message an invocation): decide one shard of a
 * batch too large for one invocation, or commit the batch once every shard is decided.
 */
export const PlanShardBodySchema = z.object({
  type: z.literal('plan-shard'),
  team: z.string().min(1),
  batchId: z.string().min(1),
  /** The plan the shard belongs to: a message of another plan of the batch is ignored. */
  planId: z.string().min(1),
  shard: count,
});
export type PlanShardBody = z.infer<typeof PlanShardBodySchema>;

export const PlanFinishBodySchema = z.object({
  type: z.literal('plan-finish'),
  team: z.string().min(1),
  batchId: z.string().min(1),
  planId: z.string().min(1),
});
export type PlanFinishBody = z.infer<typeof PlanFinishBodySchema>;

/** Plan one part (one batch) of a closed drop split into several. */
export const PlanDropPartBodySchema = z.object({
  type: z.literal('plan-drop-part'),
  team: z.string().min(1),
  dropId: z.string().min(1),
  batchId: z.string().min(1),
});
export type PlanDropPartBody = z.infer<typeof PlanDropPartBodySchema>;

/** A message body that failed validation; redelivering it cannot help. */
export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError';
}

/** Parses a body with a schema, naming the bad fields on failure. */
export function parseBody<T>(schema: z.ZodType<T>, body: string, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (cause) {
    throw new MalformedMessageError(`${what} message is not JSON`, { cause });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new MalformedMessageError(
      `${what} message is malformed: ${parsed.error.issues
        .map((i) => `${i.path.map(String).join('.')}: ${i.message}`)
        .join('; ')}`,
      { cause: parsed.error },
    );
  return parsed.data;
}

/**
 * FIFO MessageGroupId of a prefix group's chunks: chunks of one group run one after another
 * (the first warms the cache), different groups in parallel.
 */
export function workGroupId(batchId: string, prefixKey: string, by: WorkGroupBy): string {
  return sha256Hex(by === 'prefix' ? prefixKey : `${batchId}\0${prefixKey}`).slice(0, 64);
}

/**
 * FIFO MessageDeduplicationId `batchId:prefixKey:seq`, so a redelivered planner invocation
 * sends each chunk once; hashed when it would pass SQS's 128-character limit.
 */
export function workDedupId(batchId: string, prefixKey: string, seq: number): string {
  const id = `${batchId}:${prefixKey}:${seq}`;
  return id.length <= 128 ? id : sha256Hex(id);
}
