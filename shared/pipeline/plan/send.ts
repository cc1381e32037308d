/**
 * The end of every planning, first or resumed: chunk the plannable jobs into work messages,
 * send them, and only then mark the batch planned.
 */
import { planBatch } from '../../grouping';
import type { JobItem, NewBatch } from '../../ports/jobs';
import { type WorkBody, type WorkJob, workDedupId, workGroupId } from '../messages';
import { effectiveSensitivity } from '../sensitivity';
import { queueFinalizeIfDone } from '../trigger-finalize';
import type { PipelineDeps } from '../types';

/** What a batch's work messages carry besides its jobs. */
export type WorkBatch = Pick<
  NewBatch,
  'batchId' | 'team' | 'project' | 'kind' | 'sensitivity' | 'deadline' | 'tags' | 'lane'
>;

/**
 * Chunks the plannable jobs of a batch into work messages and sends them, ends the jobs the
 * planner refused, queues finalization when nothing is left, and only then marks the batch
 * planned: a batch whose planning stops anywhere before stays unplanned, so the next window
 * that meets one of its files plans it again (see resumeUnplanned).
 */
export async function sendWork(
  batch: WorkBatch,
  plannable: readonly WorkJob[],
  stored: readonly JobItem[],
  month: string,
  deps: PipelineDeps,
): Promise<{ workMessages: number; failed: number }> {
  const { settings, jobs: store, ledger } = deps;
  const now = deps.clock.now();
  let failed = 0;
  const plan = planBatch(batch.batchId, [...plannable], { warmup: settings.executor.warmup });
  // A resumed or sharded batch carries its sensitivity from items: raised to the floor again.
  const sensitivity = effectiveSensitivity(
    settings,
    { team: batch.team, projects: [batch.project] },
    batch.sensitivity,
  );
  for (const r of plan.rejected) {
    const item = stored.find((s) => s.jobId === r.jobId);
    if (
      await store.endJob(
        batch,
        r.jobId,
        { state: 'failed', error: { code: 'not_planned', reason: r.reason } },
        { now },
      )
    ) {
      failed++;
      if (item && item.reservedNanoUsd > 0)
        await ledger.release(batch.team, month, item.reservedNanoUsd);
    }
  }
  const bodies = plan.messages.map((m): { body: WorkBody; groupId: string; dedupId: string } => ({
    body: {
      type: 'work',
      batchId: m.batchId,
      prefixKey: m.prefixKey,
      model: m.model,
      seq: m.seq,
      total: m.total,
      ...(m.warmup ? { warmup: m.warmup } : {}),
      team: batch.team,
      project: batch.project,
      kind: batch.kind,
      sensitivity,
      lane: batch.lane ?? 'primary',
      ...(batch.deadline ? { deadline: batch.deadline } : {}),
      ...(batch.tags && Object.keys(batch.tags).length > 0 ? { tags: batch.tags } : {}),
      reservedMonth: month,
      jobs: m.jobs,
    },
    groupId: workGroupId(m.batchId, m.prefixKey, settings.workGroupBy),
    dedupId: workDedupId(m.batchId, m.prefixKey, m.seq),
  }));
  if (bodies.length > 0)
    await deps.queues.send(
      deps.queueUrls.work,
      bodies.map((b) => ({ body: JSON.stringify(b.body), groupId: b.groupId, dedupId: b.dedupId })),
    );
  await queueFinalizeIfDone(batch, deps);
  await store.markPlanned(batch, { workMessages: bodies.length, now });
  return { workMessages: bodies.length, failed };
}
