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

/** What handling one item leaves for later in the invocation: files of drops, batches to plan. */
interface Gathered {
  drops: DropItem[];
  specs: BatchSpec[];
}

type Handler<T extends IntakeItem['type']> = (
  item: Extract<IntakeItem, { type: T }>,
  gathered: Gathered,
  deps: PipelineDeps,
) => Promise<unknown>;

/** One handler per kind of item an intake or planning record carries. */
const HANDLERS: { [T in IntakeItem['type']]: Handler<T> } = {
  // Dropped files are joined to their drops together, after every record is read.
  drop: async (item, gathered) => {
    gathered.drops.push(item);
  },
  // Verdicts are not planning: their own consumer records them.
  verdicts: (item, _gathered, deps) => recordVerdicts(item.key, deps),
  'close-drop': async (item, _gathered, deps) => {
    const outcome = await closeDropWhenQuiet(item.body, item.messageId, deps);
    if (outcome === 'waiting')
      deps.logger?.debug('drop not quiet yet', { dropId: item.body.dropId });
  },
  'plan-shard': (item, _gathered, deps) => planShard(item.body, deps),
  'plan-finish': (item, _gathered, deps) => finishShardedBatch(item.body, deps),
  'plan-drop-part': (item, _gathered, deps) => planDropPart(item.body, item.messageId, deps),
  manifest: async (item, gathered, deps) => {
    const out = await fromManifest(item.key, item.messageId, deps, true);
    if (out && 'deferred' in out) {
      await sendDeferred(out.deferred, deps);
      deps.logger?.info('batch deferred to off-peak', {
        manifestKey: item.key,
        until: out.deferred.notBefore,
      });
    } else if (out) gathered.specs.push(out);
  },
  // A deferred batch comes back: sent on again until its hour, then planned.
  deferred: async (item, gathered, deps) => {
    if (Date.parse(item.body.notBefore) > deps.clock.now().getTime()) {
      await sendDeferred(item.body, deps);
      return;
    }
    const out = await fromManifest(item.body.manifestKey, item.messageId, deps, false);
    if (out && !('deferred' in out)) gathered.specs.push(out);
  },
};

function handle(item: IntakeItem, gathered: Gathered, deps: PipelineDeps): Promise<unknown> {
  return (HANDLERS[item.type] as Handler<IntakeItem['type']>)(item, gathered, deps);
}

/** Per message id, the error that made its work fail. */
type Failures = Map<string, Error>;

const failWith = (failures: Failures, ids: readonly string[], err: unknown) => {
  const error = err instanceof Error ? err : new Error(String(err));
  for (const id of ids) failures.set(id, error);
};

/**
 * Plans the records of one planner invocation. Returns, per message id, the error that made its
 * batch fail (absent: done); the handler reports those as batch item failures so SQS redelivers.
 */
export async function planIntake(
  records: readonly IntakeRecord[],
  deps: PipelineDeps,
): Promise<Map<string, Error>> {
  const failures: Failures = new Map();
  const gathered: Gathered = { drops: [], specs: [] };
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
        await handle(item, gathered, deps);
      } catch (err) {
        failWith(failures, [item.messageId], err);
      }
    }
  }
  const { drops, specs } = gathered;
  const openAiFiles = drops.filter((d) => isOpenAiBatchKey(d.key));
  try {
    specs.push(...(await batchesFromOpenAiFiles(openAiFiles, deps)));
  } catch (err) {
    failWith(
      failures,
      openAiFiles.map((d) => d.messageId),
      err,
    );
  }
  const owned = await joinDropped(
    drops.filter((d) => !isOpenAiBatchKey(d.key)),
    failures,
    deps,
  );
  for (const spec of specs) {
    try {
      await planBatchSpec(spec, deps);
    } catch (err) {
      deps.logger?.error('batch planning failed', {
        batchId: spec.batchId,
        error: (err as Error).message,
      });
      failWith(failures, spec.messageIds, err);
    }
  }
  await ensureOwnedPlanned(owned, failures, deps);
  return failures;
}

/**
 * Joins dropped files to their drops, and closes each drop joined: after its quiet period, or
 * now. Returns the files an earlier drop already has.
 */
async function joinDropped(
  dropped: readonly DropItem[],
  failures: Failures,
  deps: PipelineDeps,
): Promise<DropJoins['owned']> {
  try {
    const joins = await joinDrops(dropped, deps);
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
        failWith(failures, messageIds, err);
      }
    }
    return joins.owned;
  } catch (err) {
    failWith(
      failures,
      dropped.map((d) => d.messageId),
      err,
    );
    return new Map();
  }
}

/** A file skipped because an earlier drop has it is only safe if that drop got planned. */
async function ensureOwnedPlanned(
  owned: DropJoins['owned'],
  failures: Failures,
  deps: PipelineDeps,
): Promise<void> {
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
      failWith(failures, messageIds, err);
    }
  }
}
