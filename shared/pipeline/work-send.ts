/**
 * The send step: what one call of a work message does, inside its concurrency slot. The call
 * reserves its budget and records its attempt (prepare), goes to the provider (callProvider,
 * the one place a request leaves for an endpoint), and is recorded at once (work-record), so
 * its reservation settles while the other jobs of the message still wait for budget, and an
 * answer is in the ledger before the invocation can die.
 */
import type { CallResult, ExecCall, ExecGroup, SendCall } from '../executor/executor';
import type { CallOptions, LlmRequest, LlmResponse } from '../llm/client';
import { LlmError } from '../llm/errors';
import { reserveBudget } from './admit';
import { attemptFor } from './attempts';
import { probeBudget, probeWorstCase } from './call-budget';
import type { Runnable } from './work-claim';
import { recordAnswer, recordFailure, recordWarmup } from './work-record';
import { applyVerdict, settleFacts, type WorkRun } from './work-run';
import { settle } from './work-settle';

/** How often a job waiting for budget looks again. */
const BUDGET_POLL_MS = 250;

/** The executor's `send` for one work message: prepare, call the provider, record. */
export function sendStep(run: WorkRun, group: ExecGroup, runnable: readonly Runnable[]): SendCall {
  const byId = new Map(runnable.map((r) => [r.job.jobId, r]));
  const { options, deps } = run;
  // Once this group's cache probe could not reserve its worst case, nothing more of it is sent.
  const probes = probeBudget(
    {
      batch: run.batch,
      lastChance: options.lastChance ?? false,
      waitUntil: options.deadline - deps.settings.executor.stopMarginMs,
      pollMs: BUDGET_POLL_MS,
    },
    deps,
  );
  return async (_group, call, request, callOptions): Promise<CallResult> => {
    const entry = call.jobId === undefined ? undefined : byId.get(call.jobId);
    let attemptId: string;
    try {
      attemptId = await prepareCall(run, group, entry, call, probes);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      // Nothing was sent: a job is settled now (given back, or skipped for budget).
      if (entry) await applyVerdict(run, entry.job, settle(notSent(entry, error), facts(entry)));
      return { status: 'not_sent', error };
    }
    const sentAt = run.now().getTime();
    let response: LlmResponse;
    try {
      response = await callProvider(run, request, callOptions);
    } catch (error) {
      // The first error that stops the batch: no other call of it starts from now on.
      if (error instanceof LlmError && error.stopsBatch) run.stopped ??= error;
      if (!entry) await recordWarmup(run, { error, attemptId });
      else {
        await recordFailure(run, entry, error, attemptId);
        const failed = { jobId: entry.job.jobId, status: 'failed' as const, error: asError(error) };
        await applyVerdict(run, entry.job, settle(failed, facts(entry)));
      }
      return { status: 'failed', error, attemptId };
    }
    const answeredAt = run.now().getTime();
    if (entry) await recordAnswer(run, entry, response, attemptId);
    else await recordWarmup(run, { response, attemptId });
    return { status: 'answered', response, sentAt, answeredAt, attemptId };
  };

  function facts(entry: Runnable) {
    return settleFacts(run, entry.attempts);
  }
}

const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

const notSent = (entry: Runnable, error: Error) => ({
  jobId: entry.job.jobId,
  status: 'not_started' as const,
  reason: error.message,
  cause: 'before_call' as const,
  error,
});

/**
 * Sends one request to the provider. The endpoint is chosen by the client from the request's
 * sensitivity (raised to the stack's floor in the group); this is where a request leaves.
 */
export function callProvider(
  run: WorkRun,
  request: LlmRequest,
  options: CallOptions,
): Promise<LlmResponse> {
  return run.deps.llm.complete(request, options);
}

/**
 * Before a call is sent: a warm-up or cache probe reserves its worst case, a job its estimate
 * (waiting, in its slot, while running jobs hold the budget, until little of the invocation is
 * left); then the attempt is recorded, so a call billed and never answered is still accounted.
 * A throw means the call is not sent.
 */
async function prepareCall(
  run: WorkRun,
  group: ExecGroup,
  entry: Runnable | undefined,
  call: ExecCall,
  probes: ReturnType<typeof probeBudget>,
): Promise<string> {
  const { msg, options, deps, catalog } = run;
  const { reservations, callHolds, estimates, returnHold } = run.ledger;
  const job = entry?.job;
  probes.check();
  const hold = entry
    ? undefined
    : await probes.reserve(
        probeWorstCase(
          msg.model,
          group.prefixTokens,
          call.maxTokens ?? 1,
          run.now(),
          new Date(options.deadline),
          catalog,
        ),
      );
  if (entry && !reservations.has(entry.job.jobId))
    reservations.set(
      entry.job.jobId,
      await reserveBudget(
        entry.job,
        entry.claimed,
        {
          batch: run.batch,
          owner: options.owner,
          lastChance: options.lastChance ?? false,
          waitUntil: options.deadline - deps.settings.executor.stopMarginMs,
          pollMs: BUDGET_POLL_MS,
        },
        deps,
      ),
    );
  const attempt = attemptFor(
    {
      team: msg.team,
      project: msg.project,
      batchId: msg.batchId,
      kind: msg.kind,
      model: msg.model,
      group: msg.prefixKey,
      ...(msg.tags ? { tags: msg.tags } : {}),
      lane: msg.lane,
      ...(job ? { jobId: job.jobId, requestHash: job.requestHash } : {}),
      owner: options.owner,
      promptTokens: job ? job.prefixTokens + job.uniqueTokens : group.prefixTokens,
      maxTokens: call.maxTokens ?? job?.maxOutputTokens ?? 1,
    },
    run.now(),
    deps.settings.referenceModel,
    catalog,
  );
  estimates.set(attempt.jobId, attempt.estimatedUsage);
  try {
    await deps.ledger.recordAttempt(hold ? { ...attempt, reserved: { ...hold } } : attempt);
  } catch (err) {
    await returnHold(hold);
    throw err;
  }
  if (hold) callHolds.set(attempt.attemptId, { ...hold });
  return attempt.attemptId;
}
