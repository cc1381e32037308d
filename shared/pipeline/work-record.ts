/**
 * The record step: what a settled call leaves in the stores. Every billed response (a job's
 * answer, a warm-up, or a billed attempt the client discarded) is written with
 * `recordBilledResponse`, keyed by the provider's response id, so a response is in the ledger
 * once whatever is retried.
 */

import type { LlmResponse } from '../llm/client';
import { LlmError } from '../llm/errors';
import { WARMUP_JOB_ID } from '../ports/ledger';
import { METRICS } from '../resources';
import { allotFrom } from './call-budget';
import type { Runnable } from './work-claim';
import type { WorkRun } from './work-run';

/**
 * Removes one markdown fence around a whole answer (```ts ... ```), which models add to test
 * files even when told not to; a fence inside the text is left alone.
 */
export function stripOuterFence(text: string): string {
  const match = /^\s*(`{3,}|~{3,})[^\n]*\n([\s\S]*?)\n\1\s*$/.exec(text);
  return match ? `${match[2]}\n` : text;
}

/** A job's answer: its output, its bill (which ends the job succeeded), and the reuse entry. */
export async function recordAnswer(
  run: WorkRun,
  entry: Runnable,
  response: LlmResponse,
  attemptId: string | undefined,
): Promise<void> {
  const { batch, deps, options, msg } = run;
  const { job } = entry;
  const { reservations, record } = run.ledger;
  // Its discarded answers draw on the job's reservation first; the answer settles the rest.
  const held = reservations.get(job.jobId);
  const allot = allotFrom(held);
  for (const d of response.discarded) await record(d, job.jobId, 'discarded', { allot });
  // The job item keeps what is left, so an owner that takes the job over settles no more.
  if (held && response.discarded.length > 0)
    await deps.jobs.setReservation(batch, job.jobId, options.owner, { ...held });
  const content = msg.kind === 'tests' ? stripOuterFence(response.content) : response.content;
  await deps.objects.put(job.outputKey, content);
  const latencyMs = Math.max(0, Math.round(run.now().getTime() - response.sentAt));
  const out = await record(response, job.jobId, 'job', {
    job,
    latencyMs,
    finishReason: response.finishReason,
    ...(attemptId ? { attemptId } : {}),
  });
  if (!out.jobUpdated) return;
  run.result.succeeded++;
  deps.metrics?.addMetric(METRICS.jobsSucceeded, 'Count', 1);
  const now = run.now();
  await deps.jobs.putReuse({
    requestHash: job.requestHash,
    outputKey: job.outputKey,
    responseId: response.responseId,
    createdAt: now.toISOString(),
    expiresAt: Math.floor(now.getTime() / 1000) + deps.settings.reuseTtlDays * 86_400,
    origin: {
      team: batch.team,
      batchId: batch.batchId,
      jobId: job.jobId,
      requestKey: job.requestKey,
    },
  });
  // The mark needs no ending now (a write saved a job): admission reads the reuse item
  // before the mark, and a job already waiting comes back when the mark ends anyway.
  run.holding.delete(job.jobId);
}

/** A job's failed call: what the provider billed for it, against the job's reservation. */
export async function recordFailure(
  run: WorkRun,
  entry: Runnable,
  error: unknown,
  attemptId: string | undefined,
): Promise<void> {
  const { jobId } = entry.job;
  await run.ledger.recordCall(
    error instanceof LlmError ? error.billed : [],
    jobId,
    'discarded',
    attemptId,
    run.ledger.reservations.get(jobId),
  );
}

/** A warm-up's or probe's call: what was billed, against what it reserved; the rest goes back. */
export async function recordWarmup(
  run: WorkRun,
  outcome: { response?: LlmResponse; error?: unknown; attemptId: string | undefined },
): Promise<void> {
  const { callHolds, recordCall, returnHold } = run.ledger;
  const { response, error, attemptId } = outcome;
  const billed = [
    ...(response?.discarded ?? []),
    ...(response ? [response] : []),
    ...(error instanceof LlmError ? error.billed : []),
  ];
  const hold = attemptId ? callHolds.get(attemptId) : undefined;
  if (attemptId) callHolds.delete(attemptId);
  await recordCall(billed, WARMUP_JOB_ID, 'warmup', attemptId, hold);
  await returnHold(hold);
}
