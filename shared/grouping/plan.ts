import * as z from 'zod';
import {
  compareGroups,
  compareRejections,
  compareStrings,
  groupJobs,
  type JobGroup,
  makeGroup,
} from './group';
import {
  type Plan,
  type PlannableJob,
  type PlannedGroup,
  type PlanOptions,
  type RejectedJob,
  WARMUP_MODES,
  type WarmupMode,
  type WarmupStep,
  type WorkMessage,
} from './types';

/** SQS's largest message body. */
export const SQS_MAX_MESSAGE_BYTES = 262_144;
/**
 * Room kept free under SQS's limit: message attributes count towards it, and the sender may
 * wrap the body. The planner measures the body exactly, so this is margin, not a guess.
 */
export const MESSAGE_HEADROOM_BYTES = 8_192;
export const DEFAULT_MAX_MESSAGE_BYTES = SQS_MAX_MESSAGE_BYTES - MESSAGE_HEADROOM_BYTES;
export const DEFAULT_MAX_JOBS_PER_MESSAGE = 50;
export const DEFAULT_WARMUP: WarmupMode = 'auto';

const tokenCount = z.int().min(0);
// Only checks: the parsed copy is dropped and the caller's own record is planned, extra fields
// and all. A plain (stripping) object schema is several times faster than a loose one.
const jobSchema = z.object({
  jobId: z.string().min(1),
  prefixKey: z.string().min(1),
  model: z.string().min(1),
  sortKey: z.string(),
  prefixTokens: tokenCount,
  uniqueTokens: tokenCount,
  maxOutputTokens: z.int().min(1),
});

const optionsSchema = z.object({
  maxJobsPerMessage: z.int().min(1).default(DEFAULT_MAX_JOBS_PER_MESSAGE),
  maxMessageBytes: z.int().min(1).default(DEFAULT_MAX_MESSAGE_BYTES),
  warmup: z.enum(WARMUP_MODES).default(DEFAULT_WARMUP),
});

/** Planner options that are out of range; a caller bug, not bad input. */
export class InvalidPlanOptionsError extends Error {
  override readonly name = 'InvalidPlanOptionsError';
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`)
    .join('; ');
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

// Key order here is the key order on the wire; envelope sizes are measured with the same builder.
function workMessage<T extends PlannableJob>(
  batchId: string,
  group: JobGroup<T>,
  seq: number,
  total: number,
  warmup: WarmupStep | undefined,
  jobs: T[],
): WorkMessage<T> {
  return {
    batchId,
    prefixKey: group.prefixKey,
    model: group.model,
    seq,
    total,
    ...(warmup ? { warmup } : {}),
    jobs,
  };
}

/** Most UTF-8 bytes JSON can spend on one UTF-16 unit: `\u001f` and lone surrogates take 6. */
const MAX_BYTES_PER_UNIT = 6;
/** Longest JSON number, e.g. `-1.2345678901234567e-308`. */
const MAX_NUMBER_BYTES = 24;
/** A character JSON does not write as one byte: beyond printable ASCII, or `"` or `\`. */
const NOT_ONE_BYTE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

/**
 * Upper bound of a JSON string's UTF-8 size, quotes included: from its length alone, or, when
 * `scan`, exact for plain ASCII.
 */
function stringBytesBound(text: string, scan: boolean): number {
  const oneByte = scan && !NOT_ONE_BYTE.test(text);
  return text.length * (oneByte ? 1 : MAX_BYTES_PER_UNIT) + 2;
}

/**
 * An upper bound of the UTF-8 size of `JSON.stringify(jobs)` without serializing: from lengths
 * only (cheapest), or scanning characters too (`scan`); undefined when a record is not flat
 * (nested values, `toJSON`) and only serializing can tell.
 */
function flatJsonBytesBound(jobs: readonly object[], scan: boolean): number | undefined {
  let bound = 2 + jobs.length;
  for (const job of jobs) {
    if (typeof (job as { toJSON?: unknown }).toJSON === 'function') return undefined;
    bound += 2;
    for (const key of Object.keys(job)) {
      const value: unknown = (job as Record<string, unknown>)[key];
      bound += stringBytesBound(key, scan) + 2;
      if (typeof value === 'string') bound += stringBytesBound(value, scan);
      else if (typeof value === 'number') bound += MAX_NUMBER_BYTES;
      else if (typeof value === 'boolean' || value === null) bound += 5;
      else if (value !== undefined && typeof value !== 'function' && typeof value !== 'symbol')
        return undefined;
    }
  }
  return bound;
}

/**
 * Drops invalid jobs and duplicate ids into `rejected`. Of jobs sharing an id, the one whose JSON
 * sorts first is kept, so the choice does not depend on input order.
 */
function uniqueValidJobs<T extends PlannableJob>(jobs: readonly T[], rejected: RejectedJob[]): T[] {
  const byId = new Map<string, T>();
  for (const job of jobs) {
    const checked = jobSchema.safeParse(job);
    if (!checked.success) {
      const id = typeof job?.jobId === 'string' ? job.jobId : '';
      rejected.push({ jobId: id, reason: `invalid job: ${describeIssues(checked.error)}` });
      continue;
    }
    const seen = byId.get(job.jobId);
    if (seen === undefined) {
      byId.set(job.jobId, job);
      continue;
    }
    if (compareStrings(JSON.stringify(job), JSON.stringify(seen)) < 0) byId.set(job.jobId, job);
    rejected.push({
      jobId: job.jobId,
      reason: 'duplicate jobId: another job with this id is already in the batch',
    });
  }
  return [...byId.values()];
}

/**
 * Splits one group into work messages: consecutive chunks of at most `maxJobs` jobs whose JSON
 * body stays within `maxBytes`, filled greedily in order. Jobs too large for any message are
 * moved to `rejected`.
 *
 * Sizes are never re-measured per added job. Envelopes are measured once, for the widest
 * seq/total. A full chunk of jobs is tried first, against upper bounds of its size that need no
 * serialization (from lengths, then from a character scan), else in one serialization; if it fits
 * it is taken whole, which is what the greedy fill would also take. Otherwise jobs are measured
 * one by one and the size is tracked incrementally (jobs + commas).
 */
function chunkGroup<T extends PlannableJob>(
  batchId: string,
  group: JobGroup<T>,
  mode: WarmupMode,
  maxJobs: number,
  maxBytes: number,
  rejected: RejectedJob[],
): WorkMessage<T>[] {
  const warmup = mode === 'none' ? undefined : { mode, prefixTokens: group.prefixTokens };
  const jobs = group.jobs;
  const widest = jobs.length;
  // Both include the two bytes of the empty `jobs` array.
  const firstBase = jsonBytes(workMessage(batchId, group, widest, widest, warmup, []));
  const restBase = jsonBytes(workMessage(batchId, group, widest, widest, undefined, []));
  const maxBase = Math.max(firstBase, restBase);
  const room = maxBytes - maxBase;

  const chunks: T[][] = [];
  let next = 0;
  let tryWhole = true;
  while (next < jobs.length) {
    if (tryWhole) {
      const whole = jobs.slice(next, next + maxJobs);
      // Against the largest envelope, a fit also proves that no job in it is too large.
      const fits = (bytes: number | undefined) =>
        bytes !== undefined && maxBase - 2 + bytes <= maxBytes;
      if (
        fits(flatJsonBytesBound(whole, false)) ||
        fits(flatJsonBytesBound(whole, true)) ||
        fits(jsonBytes(whole))
      ) {
        chunks.push(whole);
        next += whole.length;
        continue;
      }
    }
    const chunk: T[] = [];
    let size = chunks.length === 0 ? firstBase - 2 : restBase - 2;
    for (; next < jobs.length && chunk.length < maxJobs; next++) {
      const job = jobs[next] as T;
      const bytes = jsonBytes(job);
      if (bytes > room) {
        rejected.push({
          jobId: job.jobId,
          reason: `job too large for a work message: ${bytes} bytes of JSON, at most ${Math.max(room, 0)} fit`,
        });
        continue;
      }
      const grown = size + bytes + (chunk.length > 0 ? 1 : 0) + 2;
      if (chunk.length > 0 && grown > maxBytes) break;
      chunk.push(job);
      size = grown - 2;
    }
    if (chunk.length > 0) chunks.push(chunk);
    // Large jobs tend to come together; only retry the one-call path once they fill a chunk.
    tryWhole = chunk.length === maxJobs;
  }

  return chunks.map((chunk, seq) =>
    workMessage(batchId, group, seq, chunks.length, seq === 0 ? warmup : undefined, chunk),
  );
}

/**
 * Plans a batch: groups jobs by prefix key (longest prefix first), orders each group's jobs so
 * shared prefixes run together, and cuts each group into consecutive work messages bounded by job
 * count and by byte size, the first of which carries the group's warm-up step.
 *
 * Pure and deterministic: the plan does not depend on the order of `jobs`. Every job is either in
 * exactly one message or in `rejected` with a reason (invalid record, duplicate jobId, a model
 * other than its prefix group's, too large for a message). Jobs are carried by reference.
 *
 * @throws InvalidPlanOptionsError when options are out of range or batchId is empty.
 */
export function planBatch<T extends PlannableJob>(
  batchId: string,
  jobs: readonly T[],
  options: PlanOptions = {},
): Plan<T> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new InvalidPlanOptionsError(`invalid plan options: ${describeIssues(parsed.error)}`, {
      cause: parsed.error,
    });
  if (batchId.length === 0) throw new InvalidPlanOptionsError('batchId must not be empty');
  const { maxJobsPerMessage, maxMessageBytes, warmup } = parsed.data;

  const rejected: RejectedJob[] = [];
  const groups = groupJobs(uniqueValidJobs(jobs, rejected)).map((group) => {
    const { prefixKey, model } = group;
    const sameModel = group.jobs.filter((job) => {
      if (job.model === model) return true;
      rejected.push({
        jobId: job.jobId,
        reason: `prefix key ${prefixKey} belongs to model ${model}, but this job asks for ${job.model}; the prefix key must hash the model`,
      });
      return false;
    });
    // Only a group that lost jobs needs its prefix estimate taken again.
    return sameModel.length === group.jobs.length ? group : makeGroup(prefixKey, sameModel);
  });

  const planned: Array<{ group: JobGroup<T>; messages: WorkMessage<T>[] }> = [];
  for (const group of groups) {
    const messages = chunkGroup(
      batchId,
      group,
      warmup,
      maxJobsPerMessage,
      maxMessageBytes,
      rejected,
    );
    if (messages.length === 0) continue;
    planned.push({ group: { ...group, jobs: messages.flatMap((m) => m.jobs) }, messages });
  }
  planned.sort((a, b) => compareGroups(a.group, b.group));

  const plannedGroups: PlannedGroup[] = planned.map(({ group, messages }) => ({
    prefixKey: group.prefixKey,
    model: group.model,
    prefixTokens: group.prefixTokens,
    jobIds: group.jobs.map((job) => job.jobId),
    messages: messages.length,
  }));
  return {
    batchId,
    groups: plannedGroups,
    messages: planned.flatMap((p) => p.messages),
    rejected: rejected.sort(compareRejections),
  };
}
