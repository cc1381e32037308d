/**
 * A provider error that stops a whole batch (a bad key, no balance): the reason a person can
 * act on, and the end of the batch's other pending jobs, which would fail the same way.
 */
import pLimit from 'p-limit';
import type { LlmError } from '../llm/errors';
import type { BatchRef } from '../types';
import type { WorkerDeps } from './types';

/** What a person can do about a permanent provider error, appended to the job's reason. */
export function remedyFor(err: LlmError | undefined): string {
  if (err?.status === 401) return '. Check the API key stored for this endpoint';
  if (err?.status === 402) return '. Top up the provider account, then run the batch again';
  return '';
}

/** After a 401/402, the batch's other pending jobs would fail the same way: end them now. */
export async function failRemaining(
  batch: BatchRef,
  err: LlmError,
  deps: WorkerDeps,
): Promise<void> {
  // Pending jobs hold no budget: only a running job's owner reserves for it.
  const pending = (await deps.jobs.listJobs(batch)).filter((j) => j.state === 'pending');
  const error = { code: err.name, reason: `batch stopped: ${err.message}${remedyFor(err)}` };
  const limit = pLimit(deps.settings.concurrency.jobEnds);
  await limit.map(pending, async (j) => {
    await deps.jobs.endJob(batch, j.jobId, { state: 'failed', error }, { now: deps.clock.now() });
  });
}
