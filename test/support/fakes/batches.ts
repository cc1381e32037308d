/**
 * An in-memory BatchesStore with the adapter's conditional writes: a job is claimed only while
 * pending or its lease has run out, and only in an open batch; only its lease owner gives it back
 * or ends it; each terminal state is counted once; finalization is queued once.
 */
import { assertCount } from '../../../shared/aws/dynamo';
import type {
  BatchesStore,
  BatchItem,
  ClaimResult,
  JobEnd,
  JobItem,
  NewBatch,
  NewJob,
} from '../../../shared/ports/jobs';
import { END_COUNTERS } from '../../../shared/ports/jobs';
import { zeroTotals } from '../../../shared/totals';
import type { BatchRef } from '../../../shared/types';
import {
  batchKeyOf,
  byCodeUnit,
  conditionFailed,
  copy,
  type FakeJobsTable,
  jobsOf,
  newFakeJobsTable,
} from './table';

function newJob(batch: BatchRef, job: NewJob, updatedAt: string): JobItem {
  const estimate = job.estimateNanoUsd ?? 0;
  assertCount(estimate, 'estimateNanoUsd');
  // Only the fields a job is created with: a NewJob built with extra fields must not carry them.
  const { jobId, path, inputKey, outputKey, requestKey, requestHash, customId, repairOf } = job;
  return {
    batchId: batch.batchId,
    jobId,
    state: 'pending',
    attempts: 0,
    path,
    inputKey,
    outputKey,
    ...(requestKey !== undefined ? { requestKey } : {}),
    ...(requestHash !== undefined ? { requestHash } : {}),
    ...(customId !== undefined ? { customId } : {}),
    ...(repairOf !== undefined ? { repairOf } : {}),
    estimateNanoUsd: estimate,
    reservedNanoUsd: 0,
    updatedAt,
  };
}

function newBatch(batch: NewBatch, total: number): BatchItem {
  return {
    ...copy(batch),
    status: 'open',
    total,
    ended: 0,
    counters: Object.fromEntries(END_COUNTERS.map((c) => [c, 0])) as BatchItem['counters'],
    totals: { ...zeroTotals(), unpricedRequests: 0 },
    finalizeQueued: false,
  };
}

function withoutLease(job: JobItem): JobItem {
  const { leaseOwner: _owner, leaseUntil: _until, ...rest } = job;
  return rest;
}

/** See BatchesStore.endJob. */
function endJob(
  table: FakeJobsTable,
  batch: BatchRef,
  jobId: string,
  end: JobEnd,
  opts: { now: Date; owner?: string },
): boolean {
  const jobs = jobsOf(table, batch);
  const job = jobs.get(jobId);
  if (!job) return false;
  const holds =
    opts.owner !== undefined
      ? job.state === 'running' && job.leaseOwner === opts.owner
      : job.state === 'pending';
  if (!holds) return false;
  const ended: JobItem = {
    ...withoutLease(job),
    state: end.state,
    updatedAt: opts.now.toISOString(),
  };
  if ('error' in end && end.error) ended.error = { code: end.error.code, reason: end.error.reason };
  if (end.state === 'reused') ended.responseId = end.responseId;
  jobs.set(jobId, ended);
  const item = table.batches.get(batchKeyOf(batch));
  if (item) {
    item.counters[end.state] += 1;
    item.ended += 1;
  }
  return true;
}

/** See BatchesStore.claimJob. */
function claimJob(
  table: FakeJobsTable,
  batch: BatchRef,
  jobId: string,
  owner: string,
  leaseMs: number,
  now: Date,
): ClaimResult {
  const item = table.batches.get(batchKeyOf(batch));
  const job = jobsOf(table, batch).get(jobId);
  const nowMs = now.getTime();
  const batchOpen = item?.status === 'open';
  const jobFree =
    job !== undefined &&
    (job.state === 'pending' || (job.state === 'running' && (job.leaseUntil ?? 0) < nowMs));
  if (batchOpen && jobFree && job) {
    const claimed: JobItem = {
      ...job,
      state: 'running',
      leaseOwner: owner,
      leaseUntil: nowMs + leaseMs,
      updatedAt: now.toISOString(),
      attempts: job.attempts + 1,
    };
    jobsOf(table, batch).set(jobId, claimed);
    return { job: copy(claimed) };
  }
  if (!batchOpen && item?.status === 'cancelled') return { job: undefined, reason: 'cancelled' };
  if (!jobFree) {
    if (!job) return { job: undefined, reason: 'missing' };
    if (job.state === 'cancelled') return { job: undefined, reason: 'cancelled' };
    if (job.state === 'running')
      return {
        job: undefined,
        reason: 'leased',
        ...(job.leaseUntil !== undefined ? { leaseUntil: job.leaseUntil } : {}),
      };
    return { job: undefined, reason: 'finished' };
  }
  return { job: undefined, reason: item ? 'finished' : 'missing' };
}

/** See BatchesStore.releaseJob. */
function releaseJob(
  table: FakeJobsTable,
  batch: BatchRef,
  jobId: string,
  owner: string,
  now: Date,
  options: { uncounted?: boolean } = {},
): 'released' | 'cancelled' | 'not_owner' {
  const jobs = jobsOf(table, batch);
  const job = jobs.get(jobId);
  if (job?.state !== 'running' || job.leaseOwner !== owner) return 'not_owner';
  if (table.batches.get(batchKeyOf(batch))?.status !== 'open') {
    // The batch was cancelled while the job ran: cancel the job rather than leave it pending.
    const ended = endJob(table, batch, jobId, { state: 'cancelled' }, { now, owner });
    return ended ? 'cancelled' : 'not_owner';
  }
  const { reservedMonth: _month, ...rest } = withoutLease(job);
  jobs.set(jobId, {
    ...rest,
    state: 'pending',
    updatedAt: now.toISOString(),
    reservedNanoUsd: 0,
    attempts: job.attempts - (options.uncounted ? 1 : 0),
  });
  return 'released';
}

function cancelBatch(
  table: FakeJobsTable,
  batch: BatchRef,
  now: Date,
): { cancelled: number } | undefined {
  const item = table.batches.get(batchKeyOf(batch));
  if (!item) return undefined;
  if (item.status !== 'open' && item.status !== 'cancelled') return { cancelled: 0 };
  item.status = 'cancelled';
  item.cancelledAt ??= now.toISOString();
  let cancelled = 0;
  for (const job of [...jobsOf(table, batch).values()])
    if (job.state === 'pending' && endJob(table, batch, job.jobId, { state: 'cancelled' }, { now }))
      cancelled += 1;
  return { cancelled };
}

function createJobs(table: FakeJobsTable, batch: BatchRef, jobs: readonly NewJob[], at: string) {
  const stored = jobsOf(table, batch);
  for (const job of jobs) if (!stored.has(job.jobId)) stored.set(job.jobId, newJob(batch, job, at));
}

function latestBatch(table: FakeJobsTable, team: string, project: string): BatchItem | undefined {
  const latest = [...table.batches.values()]
    .filter((b) => b.team === team && b.project === project && (b.lane ?? 'primary') === 'primary')
    .sort((a, b) => byCodeUnit(`${b.createdAt}#${b.batchId}`, `${a.createdAt}#${a.batchId}`))[0];
  return latest ? copy(latest) : undefined;
}

/** Batches and jobs in memory, in `table` (a fresh one unless given). */
export function fakeBatchesStore(table: FakeJobsTable = newFakeJobsTable()): BatchesStore {
  const batchOf = (batch: BatchRef) => table.batches.get(batchKeyOf(batch));
  return {
    async createBatch(batch, jobs, options = {}) {
      if (batchOf(batch)) return { created: false };
      if (new Set(jobs.map((j) => j.jobId)).size !== jobs.length)
        throw new RangeError('a batch cannot hold two jobs with one id');
      if (!options.jobsWritten) createJobs(table, batch, jobs, batch.createdAt);
      table.batches.set(batchKeyOf(batch), newBatch(batch, jobs.length));
      return { created: true };
    },
    createJobs: async (batch, jobs) => createJobs(table, batch, jobs, batch.createdAt),
    claimJob: async (...args) => claimJob(table, ...args),
    releaseJob: async (...args) => releaseJob(table, ...args),
    async setReservation(batch, jobId, owner, reservation) {
      assertCount(reservation.nanoUsd, 'nanoUsd');
      const job = jobsOf(table, batch).get(jobId);
      if (job?.state !== 'running' || job.leaseOwner !== owner) return false;
      job.reservedNanoUsd = reservation.nanoUsd;
      job.reservedMonth = reservation.month;
      return true;
    },
    endJob: async (...args) => endJob(table, ...args),
    cancelBatch: async (batch, now) => cancelBatch(table, batch, now),
    getBatch: async (batch) => copy(batchOf(batch)),
    listJobs: async (batch) =>
      copy([...jobsOf(table, batch).values()].sort((a, b) => byCodeUnit(a.jobId, b.jobId))),
    getJob: async (batch, jobId) => copy(jobsOf(table, batch).get(jobId)),
    async recordVerdicts(batch, verdicts, quality) {
      const jobs = jobsOf(table, batch);
      for (const { jobId, verdict } of verdicts) {
        const job = jobs.get(jobId);
        if (!job) throw conditionFailed(`no job ${jobId}`);
        job.verdict = copy(verdict);
      }
      if (!quality) return;
      for (const [field, value] of Object.entries(quality))
        if (typeof value === 'number') assertCount(value, `quality.${field}`);
      const item = batchOf(batch);
      if (!item) throw conditionFailed(`no batch ${batch.batchId}`);
      item.quality = copy(quality);
    },
    async markFinalizeQueued(batch) {
      const item = batchOf(batch);
      if (!item || item.finalizeQueued || item.ended !== item.total) return false;
      item.finalizeQueued = true;
      item.status = 'finalizing';
      return true;
    },
    async finishBatch(batch, now) {
      const item = batchOf(batch);
      if (!item?.finalizeQueued) return false;
      item.status = 'done';
      item.doneAt = now.toISOString();
      return true;
    },
    async markPlanned(batch, { workMessages, now }) {
      assertCount(workMessages, 'workMessages');
      const item = batchOf(batch);
      if (!item) return false;
      item.plannedAt ??= now.toISOString();
      item.workMessages ??= workMessages;
      return true;
    },
    latestBatch: async (team, project) => latestBatch(table, team, project),
  };
}
