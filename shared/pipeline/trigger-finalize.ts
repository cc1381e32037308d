/**
 * The finalize trigger: whoever ends a batch's last job (the planner for jobs it ended itself,
 * the worker for the rest) queues finalization once.
 */
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
export async function queueFinalizeIfDone(batchId: string, deps: PipelineDeps): Promise<boolean> {
  const first = await deps.jobs.markFinalizeQueued(batchId);
  if (!first) {
    const batch = await deps.jobs.getBatch(batchId);
    if (!batch?.finalizeQueued || batch.status === 'done') return false;
  }
  const body: FinalizeBody = { type: 'finalize', batchId };
  await deps.queues.send(deps.queueUrls.finalize, [{ body: JSON.stringify(body) }]);
  deps.logger?.info(first ? 'finalize queued' : 'finalize queued again', { batchId });
  return true;
}
