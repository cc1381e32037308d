/**
 * What becomes of a job the worker could not answer: a pure decision from what happened to it,
 * its attempts, the settings and the batch's deadline, so every branch is tested without a store.
 */
import type { JobOutcome } from '../executor/executor';
import type { JobErrorCode } from '../job-errors';
import { LlmError } from '../llm/errors';
import { BudgetBusyError, BudgetExhaustedError } from './admit';
import { remedyFor } from './stop';

/** The job's next state; `run` only after a claim, when nothing stands in its way. */
export type Verdict =
  | { kind: 'run' }
  | { kind: 'fail'; code: JobErrorCode; reason: string }
  /** Ended `expired`: the batch's deadline passed before its request could be sent. */
  | { kind: 'expire' }
  /**
   * Given back to pending for a later delivery; `waited` when it made no call (budget busy):
   * such a release does not count as an attempt.
   */
  | { kind: 'release'; waited?: { notBefore?: number } }
  /** Ended `skipped_budget`: no room on the team's budget. */
  | { kind: 'skip'; reason: string };

/** What is settled: a job just claimed, or a call that failed or was not started. */
export type Unanswered = { status: 'claimed' } | Exclude<JobOutcome, { status: 'succeeded' }>;

export interface SettleFacts {
  /** The job's attempts, this one included. */
  attempts: number;
  maxAttempts: number;
  /** Epoch ms. */
  now: number;
  /** Epoch ms of the batch's deadline, if it has one. */
  startBy?: number;
  /** The error that stopped the batch (a bad key, no balance), if one did. */
  stopped?: LlmError;
}

/** Decides what becomes of an unanswered job. */
export function settle(outcome: Unanswered, facts: SettleFacts): Verdict {
  const pastDeadline = facts.startBy !== undefined && facts.now >= facts.startBy;
  if (outcome.status === 'claimed') {
    if (pastDeadline) return { kind: 'expire' };
    if (facts.attempts > facts.maxAttempts)
      return {
        kind: 'fail',
        code: 'max_attempts',
        reason: `gave up after ${facts.maxAttempts} attempts; the last ones did not finish (provider errors or timeouts): run the batch again later`,
      };
    return { kind: 'run' };
  }
  if (outcome.status === 'failed') return settleFailed(outcome.error, facts, pastDeadline);
  if (outcome.cause === 'batch_deadline') return { kind: 'expire' };
  if (outcome.error instanceof BudgetExhaustedError)
    return { kind: 'skip', reason: outcome.error.message };
  if (outcome.error instanceof BudgetBusyError) return { kind: 'release', waited: {} };
  const { stopped } = facts;
  if (stopped)
    return {
      kind: 'fail',
      code: stopped.name,
      reason: `batch stopped: ${stopped.message}${remedyFor(stopped)}`,
    };
  return { kind: 'release' };
}

function settleFailed(err: Error, facts: SettleFacts, pastDeadline: boolean): Verdict {
  const llmErr = err instanceof LlmError ? err : undefined;
  const status = llmErr?.status ? ` (HTTP ${llmErr.status})` : '';
  // A retry that would have crossed the batch's deadline was not sent: the job expires.
  if (llmErr?.retryable && pastDeadline) return { kind: 'expire' };
  // The last attempt: end the job now, naming the error, rather than give it back for a
  // delivery that could only say that attempts ran out.
  if (llmErr?.retryable && facts.attempts >= facts.maxAttempts)
    return {
      kind: 'fail',
      code: 'max_attempts',
      reason: `gave up after ${facts.maxAttempts} attempts; the last one failed with ${llmErr.name}${status}: ${err.message}. The provider was failing or slow: run the batch again later`,
    };
  if (llmErr?.retryable) return { kind: 'release' };
  return {
    kind: 'fail',
    code: llmErr?.name ?? 'error',
    reason: `the provider refused the request${status}: ${err.message}${remedyFor(llmErr)}`,
  };
}
