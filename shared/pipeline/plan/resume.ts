/**
 * Planning again a batch whose planning stopped half-way, from what is stored.
 */
import pLimit from 'p-limit';
import type { JobItem } from '../../ports/jobs';
import { monthOf } from '../../ports/ledger';
import type { BatchRef } from '../../types';
import type { WorkJob } from '../messages';
import { storedRequestReader } from '../request';
import type { PipelineDeps } from '../types';
import { plannableJob, plannedRequest } from './decide';
import { sendWork } from './send';
import { PLANNING_STALE_AFTER_MS } from './spec';

/** A batch met in a window is still being planned by another invocation; try again later. */
export class BatchPlanningPendingError extends Error {
  override name = 'BatchPlanningPendingError';
}

/** What became of a batch that owned files of a later window. */
export type ResumeOutcome =
  | { batchId: string; resumed: false; reason: 'missing' | 'planned' }
  | { batchId: string; resumed: true; workMessages: number; planned: number; failed: number };

/**
 * Plans again a batch whose planning stopped after its jobs were created (a failed send, a
 * timeout): its files' events are claimed by it, so a later window that meets them skips them,
 * and without this its jobs would stay pending forever. Works from what is stored: the jobs
 * table and each job's stored request, so every job gets the request and the reservation it
 * was planned with; work messages keep their deduplication ids, so a copy of one already sent
 * is dropped by SQS. Jobs left pending without a stored request (planning stopped before it
 * ended them) fail with a reason.
 * @throws BatchPlanningPendingError when the batch was created too recently for its planning
 *   to have surely ended; the caller lets the record come back later.
 */
export async function resumeUnplanned(ref: BatchRef, deps: PipelineDeps): Promise<ResumeOutcome> {
  const { batchId } = ref;
  const batch = await deps.jobs.getBatch(ref);
  if (!batch) return { batchId, resumed: false, reason: 'missing' };
  if (batch.plannedAt !== undefined) return { batchId, resumed: false, reason: 'planned' };
  const now = deps.clock.now();
  if (Date.parse(batch.createdAt) > now.getTime() - PLANNING_STALE_AFTER_MS)
    throw new BatchPlanningPendingError(
      `batch ${batchId} is not planned yet and its planning may still be running`,
    );
  // Drop batches are created at planning time, so this is the month their budget was reserved in.
  const month = monthOf(batch.createdAt);
  const stored = await deps.jobs.listJobs(ref);
  const limit = pLimit(deps.settings.concurrency.planning);
  const plannable: WorkJob[] = [];
  let failed = 0;
  const fail = async (job: JobItem, reason: string) => {
    const ended = await deps.jobs.endJob(
      ref,
      job.jobId,
      { state: 'failed', error: { code: 'not_planned', reason } },
      { now },
    );
    if (!ended) return;
    failed++;
    if (job.reservedNanoUsd > 0) await deps.ledger.release(batch.team, month, job.reservedNanoUsd);
  };
  // Jobs share their request objects: read each once, one object's jobs at a time.
  const byKey = new Map<string, JobItem[]>();
  for (const job of stored) {
    if (job.state !== 'pending') continue;
    const key = job.requestKey ?? '';
    const same = byKey.get(key);
    if (same) same.push(job);
    else byKey.set(key, [job]);
  }
  await limit.map([...byKey.values()], async (jobs) => {
    const read = storedRequestReader(deps.objects, ref);
    for (const job of jobs) {
      const request =
        job.requestKey && job.requestHash ? await read(job.requestKey, job.jobId) : undefined;
      if (request === undefined || !job.requestKey || !job.requestHash) {
        await fail(
          job,
          'the planning of this batch stopped before the job was decided: drop the file again',
        );
        continue;
      }
      plannable.push(
        plannableJob(
          job,
          { requestKey: job.requestKey, requestHash: job.requestHash },
          plannedRequest(job.path, request),
        ),
      );
    }
  });
  const sent = await sendWork(batch, plannable, stored, month, deps);
  const outcome: ResumeOutcome = {
    batchId,
    resumed: true,
    workMessages: sent.workMessages,
    planned: plannable.length,
    failed: failed + sent.failed,
  };
  deps.logger?.info('half-planned batch planned again', { ...outcome, team: batch.team });
  return outcome;
}
