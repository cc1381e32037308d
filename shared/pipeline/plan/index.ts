/**
 * The planner's domain: intake queue records (S3 notifications, batch manifests, deferred
 * batches, drop closes) become batches of jobs in the jobs table, each job ending at once (bad
 * input, reuse, budget) or planned into work messages grouped by prefix key. Dropped files
 * gather in drops, one per `intake/<team>/<project>/<kind>/` prefix, each planned as one batch
 * once no file has arrived for the quiet period.
 *
 * Every step can run twice: drop and batch ids are derived from the records, an event joins
 * one drop, a drop closes once, jobs are created if absent, reservations of a batch that
 * already existed are given back, jobs are ended only from `pending`, and work messages carry
 * deduplication ids.
 */
import type { PipelineDeps } from '../types';
import { recordVerdicts } from '../verdicts';
import { planBatchSpec } from './batch';
import {
  closeDropNow,
  closeDropWhenQuiet,
  dropsWaitForQuiet,
  ensureDropPlanned,
  planDropPart,
  sendClose,
} from './close';
import { type DropJoins, joinDrops } from './drops';
import { fromManifest, sendDeferred } from './manifest';
import { batchesFromOpenAiFiles, isOpenAiBatchKey } from './openai';
import { type DropItem, type IntakeItem, type IntakeRecord, itemsOf } from './records';
import { BatchPlanningPendingError } from './resume';
import { finishShardedBatch, planShard } from './shard';
import type { BatchSpec } from './spec';

export { type PlanDecision, type PlannedBatch, planBatchSpec } from './batch';
export { type CloseOutcome, closeDropWhenQuiet, ensureDropPlanned } from './close';
export {
  batchIdsOf,
  DROP_MARKER_TTL_DAYS,
  type DropJoins,
  dropPrefixOf,
  dropSpecs,
  joinDrops,
} from './drops';
export { type OffPeakDecision, offPeakDecision } from './manifest';
export { batchesFromOpenAiFiles, OPENAI_BATCH_SEGMENT } from './openai';
export {
  type DropItem,
  decodeEventKey,
  type IntakeItem,
  type IntakeRecord,
  itemsOf,
} from './records';
export { BatchPlanningPendingError, type ResumeOutcome, resumeUnplanned } from './resume';
export { finishShardedBatch, planShard, shardsWanted } from './shard';
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
        else if (item.type === 'verdicts') await recordVerdicts(item.key, deps);
        else if (item.type === 'close-drop') {
          const outcome = await closeDropWhenQuiet(item.body, item.messageId, deps);
          if (outcome === 'waiting')
            deps.logger?.debug('drop not quiet yet', { dropId: item.body.dropId });
        } else if (item.type === 'plan-shard') await planShard(item.body, deps);
        else if (item.type === 'plan-finish') await finishShardedBatch(item.body, deps);
        else if (item.type === 'plan-drop-part')
          await planDropPart(item.body, item.messageId, deps);
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
  const openAiFiles = drops.filter((d) => isOpenAiBatchKey(d.key));
  try {
    specs.push(...(await batchesFromOpenAiFiles(openAiFiles, deps)));
  } catch (err) {
    fail(
      openAiFiles.map((d) => d.messageId),
      err,
    );
  }
  const dropped = drops.filter((d) => !isOpenAiBatchKey(d.key));
  let owned: DropJoins['owned'] = new Map();
  try {
    const joins = await joinDrops(dropped, deps);
    owned = joins.owned;
    for (const [dropId, { prefix, messageIds }] of joins.joined) {
      try {
        if (dropsWaitForQuiet(deps))
          await sendClose(
            { type: 'close-drop', dropId, ...prefix },
            deps.settings.drops.quietMs,
            deps,
          );
        else await closeDropNow({ dropId, ...prefix }, messageIds, deps);
      } catch (err) {
        fail(messageIds, err);
      }
    }
  } catch (err) {
    fail(
      dropped.map((d) => d.messageId),
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
  // A file skipped because an earlier drop has it is only safe if that drop got planned.
  for (const { team, ownerId, messageIds } of owned.values()) {
    try {
      await ensureDropPlanned(team, ownerId, deps);
    } catch (err) {
      if (!(err instanceof BatchPlanningPendingError))
        deps.logger?.error('drop could not be planned again', {
          team,
          dropId: ownerId,
          error: (err as Error).message,
        });
      fail(messageIds, err);
    }
  }
  return failures;
}
