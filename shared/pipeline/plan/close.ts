/**
 * Closing a drop: once no file has joined it for the quiet period, the drop is closed (only if
 * no file joined since its closer read it) and planned as its batches. Close messages come
 * through the intake queue, delayed by the quiet period, any number of times: a drop already
 * closed is only checked to have been planned, so it is planned once.
 */
import type { OpenDrop } from '../../ports/jobs';
import type { CloseDropBody, PlanDropPartBody } from '../messages';
import type { PipelineDeps } from '../types';
import { planBatchSpec } from './batch';
import { batchIdsOfFiles, dropSpecs } from './drops';
import { BatchPlanningPendingError, resumeUnplanned } from './resume';
import { type BatchSpec, PLANNING_STALE_AFTER_MS } from './spec';

/** SQS delays a message by whole seconds, 900 at most. */
const MAX_DELAY_SECONDS = 900;

/** Closes tried before waiting again, when files keep joining between the read and the close. */
const CLOSE_ATTEMPTS = 3;

/** Whether drops wait for a quiet period (on the intake queue) or close in the invocation. */
export function dropsWaitForQuiet(deps: Pick<PipelineDeps, 'queueUrls' | 'settings'>): boolean {
  return deps.queueUrls.intake !== undefined && deps.settings.drops.quietMs > 0;
}

/** Sends a drop's close message to the intake queue, delayed by about `delayMs`. */
export async function sendClose(
  body: CloseDropBody,
  delayMs: number,
  deps: Pick<PipelineDeps, 'queues' | 'queueUrls'>,
): Promise<void> {
  const url = deps.queueUrls.intake;
  if (!url) throw new Error('no intake queue URL: cannot wait for a drop to go quiet');
  const delaySeconds = Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(delayMs / 1000)));
  await deps.queues.send(url, [{ body: JSON.stringify(body), delaySeconds }]);
}

/** What a close message did. */
export type CloseOutcome = 'planned' | 'waiting' | 'already-closed';

/**
 * Handles a close message: plans the drop if it is quiet, sends the message again for when it
 * will be if a file arrived since, and only checks the planning of a drop already closed.
 * @throws BatchPlanningPendingError when a closed drop's batch may still be being planned.
 */
export async function closeDropWhenQuiet(
  body: CloseDropBody,
  messageId: string,
  deps: PipelineDeps,
): Promise<CloseOutcome> {
  const { quietMs } = deps.settings.drops;
  for (let attempt = 0; attempt < CLOSE_ATTEMPTS; attempt++) {
    const open = await deps.jobs.getOpenDrop(body);
    if (open?.dropId !== body.dropId) {
      await ensureDropPlanned(body.team, body.dropId, deps);
      return 'already-closed';
    }
    const now = deps.clock.now().getTime();
    const quietAt = Date.parse(open.lastArrivalAt) + quietMs;
    if (quietAt > now) {
      await sendClose(body, quietAt - now, deps);
      return 'waiting';
    }
    if (await closeAndPlan(open, [messageId], deps)) return 'planned';
  }
  await sendClose(body, quietMs, deps);
  return 'waiting';
}

/**
 * Closes the drop of a prefix now (drops that do not wait for quiet), or, if another planner
 * closed it first, checks that it was planned.
 */
export async function closeDropNow(
  drop: Pick<OpenDrop, 'dropId' | 'team' | 'project' | 'kind'>,
  messageIds: readonly string[],
  deps: PipelineDeps,
): Promise<void> {
  for (let attempt = 0; attempt < CLOSE_ATTEMPTS; attempt++) {
    const open = await deps.jobs.getOpenDrop(drop);
    if (open?.dropId !== drop.dropId) return ensureDropPlanned(drop.team, drop.dropId, deps);
    if (await closeAndPlan(open, messageIds, deps)) return;
  }
  throw new BatchPlanningPendingError(`drop ${drop.dropId} kept receiving files while closing`);
}

/**
 * Closes an open drop with the files it has, unless one joined since it was read (false), and
 * plans its batches.
 */
async function closeAndPlan(
  open: OpenDrop,
  messageIds: readonly string[],
  deps: PipelineDeps,
): Promise<boolean> {
  const files = await deps.jobs.listDropFiles(open.dropId);
  const closedAt = deps.clock.now();
  const batchIds = batchIdsOfFiles(open, files, deps.settings.drops.maxFilesPerBatch);
  if (!(await deps.jobs.closeDrop(open, { closedAt, files: files.length, batchIds }))) return false;
  deps.logger?.info('drop closed', {
    dropId: open.dropId,
    team: open.team,
    project: open.project,
    kind: open.kind,
    files: files.length,
    batchIds,
  });
  const specs = await dropSpecs(
    { ...open, closedAt: closedAt.toISOString() },
    files,
    deps,
    messageIds,
  );
  await planParts(open.dropId, specs, deps);
  return true;
}

/**
 * Plans a drop's batches: here when there is one (or no planning queue), otherwise one
 * `plan-drop-part` message each, so that each part is planned by an invocation of its own
 * instead of one invocation planning a large drop part after part.
 */
async function planParts(
  dropId: string,
  specs: readonly BatchSpec[],
  deps: PipelineDeps,
): Promise<void> {
  const queue = deps.queueUrls.plan;
  if (!queue || specs.length < 2) {
    for (const spec of specs) await planBatchSpec(spec, deps);
    return;
  }
  await deps.queues.send(
    queue,
    specs.map((spec) => ({
      body: JSON.stringify({
        type: 'plan-drop-part',
        team: spec.team,
        dropId,
        batchId: spec.batchId,
      } satisfies PlanDropPartBody),
    })),
  );
}

/**
 * Plans one part of a closed drop, rebuilt from the drop's stored files as its closer cut it
 * (the same files always give the same parts). A part already planned is left as it is.
 */
export async function planDropPart(
  body: PlanDropPartBody,
  messageId: string,
  deps: PipelineDeps,
): Promise<void> {
  const ref = { team: body.team, batchId: body.batchId };
  if ((await deps.jobs.getBatch(ref))?.plannedAt !== undefined) return;
  const drop = await deps.jobs.getClosedDrop(body.dropId);
  if (!drop || drop.team !== body.team || !drop.batchIds.includes(body.batchId)) {
    deps.logger?.warn('drop part of no closed drop ignored', { ...body });
    return;
  }
  const files = await deps.jobs.listDropFiles(drop.dropId);
  const spec = (await dropSpecs(drop, files, deps, [messageId])).find(
    (s) => s.batchId === body.batchId,
  );
  if (spec) await planBatchSpec(spec, deps);
}

/**
 * Makes sure the drop (or, for events claimed before drops existed, the batch of `team`) that
 * owns an event was planned: an open drop will be when it closes; a closed drop's batches
 * (batches of the drop's team) that stopped half-way are planned again from what they stored,
 * and ones never created are created, once the planning that closed the drop has surely ended.
 * @throws BatchPlanningPendingError while that planning may still be running.
 */
export async function ensureDropPlanned(
  team: string,
  ownerId: string,
  deps: PipelineDeps,
): Promise<void> {
  const drop = await deps.jobs.getClosedDrop(ownerId);
  if (!drop) {
    const owner = { team, batchId: ownerId };
    if (await deps.jobs.getBatch(owner)) await resumeUnplanned(owner, deps);
    return;
  }
  const missing: string[] = [];
  for (const batchId of drop.batchIds) {
    const ref = { team: drop.team, batchId };
    const batch = await deps.jobs.getBatch(ref);
    if (!batch) missing.push(batchId);
    else if (batch.plannedAt === undefined) await resumeUnplanned(ref, deps);
  }
  if (missing.length === 0) return;
  if (Date.parse(drop.closedAt) > deps.clock.now().getTime() - PLANNING_STALE_AFTER_MS)
    throw new BatchPlanningPendingError(
      `drop ${drop.dropId} was closed recently and its planning may still be running`,
    );
  const files = await deps.jobs.listDropFiles(drop.dropId);
  const specs = await dropSpecs(drop, files, deps, []);
  await planParts(
    drop.dropId,
    specs.filter((spec) => missing.includes(spec.batchId)),
    deps,
  );
  deps.logger?.info('closed drop planned again', {
    dropId: drop.dropId,
    team: drop.team,
    batchIds: missing,
  });
}
