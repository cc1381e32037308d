/**
 * The finalize trigger: whoever ends a batch's last job (the planner for jobs it ended itself,
 * the worker for the rest) queues finalization once.
 */
import type { BatchRef } from '../types';
import type { FinalizeBody } from './messages';
import type { PipelineDeps } from './types';

/**
 * Sends the finalize message when every job of the batch has ended. The store's conditional
 * flag picks one caller, which marks the batch before sending; if that send then fails, the
 * caller throws, its message comes back, and whoever next sees the batch marked but not `done`
 * sends again. So a failed send delays finalization instead of losing it; a second finalize
 * message is harmless, as finalize rewrites the same objects.
 * @returns true when this call sent the message.
 */
export async function queueFinalizeIfDone(batch: BatchRef, deps: PipelineDeps): Promise<boolean> {
  const { team, batchId } = batch;
  const first = await deps.jobs.markFinalizeQueued(batch);
  if (!first) {
    const item = await deps.jobs.getBatch(batch);
    if (!item?.finalizeQueued || item.status === 'done') return false;
  }
  const body: FinalizeBody = { type: 'finalize', team, batchId };
  await deps.queues.send(deps.queueUrls.finalize, [{ body: JSON.stringify(body) }]);
  deps.logger?.info(first ? 'finalize queued' : 'finalize queued again', { team, batchId });
  return true;
}
