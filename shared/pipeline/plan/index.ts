/**
 * The planner's domain: intake queue records (S3 notifications, deferred batches) become
 * batches of jobs in the jobs table, each job ending at once (bad input, reuse, budget) or
 * planned into work messages grouped by prefix key.
 *
 * Every step can run twice: the batch id is derived from the records, jobs are created if
 * absent, reservations of a batch that already existed are given back, jobs are ended only
 * from `pending`, and work messages carry deduplication ids.
 */
import type { PipelineDeps } from '../types';
import { planBatchSpec } from './batch';
import { batchesFromDrops } from './drops';
import { fromManifest, sendDeferred } from './manifest';
import { type DropItem, type IntakeItem, type IntakeRecord, itemsOf } from './records';
import { BatchPlanningPendingError, resumeUnplanned } from './resume';
import type { BatchSpec } from './spec';

export { type PlannedBatch, planBatchSpec } from './batch';
export {
  batchesFromDrops,
  DROP_MARKER_TTL_DAYS,
  type DropBatches,
  OPENAI_BATCH_SEGMENT,
} from './drops';
export { type OffPeakDecision, offPeakDecision } from './manifest';
export {
  type DropItem,
  decodeEventKey,
  type IntakeItem,
  type IntakeRecord,
  itemsOf,
} from './records';
export { BatchPlanningPendingError, type ResumeOutcome, resumeUnplanned } from './resume';
export { type BatchSpec, PLANNING_STALE_AFTER_MS } from './spec';

/**
 * Plans the records of one planner invocation. Returns, per message id, the error that made its
 * batch fail (absent: done); the handler reports those as batch item failures so SQS redelivers.
 */
export async function planIntake(
  records: readonly IntakeRecord[],
  deps: PipelineDeps,
): Promise<Map<string, Error>> {
  const failures = new Map<string, Error>();
  const drops: DropItem[] = [];
  const specs: BatchSpec[] = [];
  const fail = (ids: readonly string[], err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    for (const id of ids) failures.set(id, error);
  };
  for (const record of records) {
    let items: IntakeItem[];
    try {
      items = itemsOf(record);
    } catch (err) {
      deps.logger?.error('intake record ignored', {
        messageId: record.messageId,
        error: (err as Error).message,
      });
      continue;
    }
    for (const item of items) {
      try {
        if (item.type === 'drop') drops.push(item);
        else if (item.type === 'manifest') {
          const out = await fromManifest(item.key, item.messageId, deps, true);
          if (out && 'deferred' in out) {
            await sendDeferred(out.deferred, deps);
            deps.logger?.info('batch deferred to off-peak', {
              manifestKey: item.key,
              until: out.deferred.notBefore,
            });
          } else if (out) specs.push(out);
        } else if (Date.parse(item.body.notBefore) > deps.clock.now().getTime()) {
          await sendDeferred(item.body, deps);
        } else {
          const out = await fromManifest(item.body.manifestKey, item.messageId, deps, false);
          if (out && !('deferred' in out)) specs.push(out);
        }
      } catch (err) {
        fail([item.messageId], err);
      }
    }
  }
  let claimedElsewhere: Awaited<ReturnType<typeof batchesFromDrops>>['claimedElsewhere'] =
    new Map();
  try {
    const fromDrops = await batchesFromDrops(drops, deps);
    specs.push(...fromDrops.specs);
    claimedElsewhere = fromDrops.claimedElsewhere;
  } catch (err) {
    fail(
      drops.map((d) => d.messageId),
      err,
    );
  }
  for (const spec of specs) {
    try {
      await planBatchSpec(spec, deps);
    } catch (err) {
      deps.logger?.error('batch planning failed', {
        batchId: spec.batchId,
        error: (err as Error).message,
      });
      fail(spec.messageIds, err);
    }
  }
  // A file skipped because an earlier batch has it is only safe if that batch got planned.
  for (const { batch, messageIds } of claimedElsewhere.values()) {
    try {
      await resumeUnplanned(batch, deps);
    } catch (err) {
      if (!(err instanceof BatchPlanningPendingError))
        deps.logger?.error('half-planned batch could not be planned again', {
          ...batch,
          error: (err as Error).message,
        });
      fail(messageIds, err);
    }
  }
  return failures;
}
