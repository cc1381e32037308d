/**
 * Attempt records: every provider call is written to the ledger before it is sent, and the
 * record goes away in the transaction that writes the call's billed response (or when the call
 * ends with nothing billed). A worker that dies in between leaves its attempt behind; whoever
 * next owns the job (or finalize, for the batch) turns it into an estimated `billed_unrecorded`
 * cost record, so the ledger accounts for every call: exactly, or estimated and marked.
 */
import { randomUUID } from 'node:crypto';
import { type AttemptRecord, WARMUP_JOB_ID } from '../ports/ledger';
import type { Catalog } from '../pricing/catalog';
import { METRICS } from '../resources';
import type { BatchRef, Kind, Lane, Usage } from '../types';
import { priceUsage } from './costing';
import type { PipelineDeps } from './types';

/** What is known of a call before it is sent. */
export interface CallToRecord {
  team: string;
  project: string;
  batchId: string;
  kind: Kind;
  model: string;
  lane?: Lane;
  /** Undefined for a warm-up. */
  jobId?: string;
  /** The call's prefix group and the batch's tags. */
  group?: string;
  tags?: Record<string, string>;
  requestHash?: string;
  owner: string;
  /** Estimated prompt tokens of the request. */
  promptTokens: number;
  maxTokens: number;
}

/**
 * The attempt record of a call about to be sent, with an upper-bound estimate: every prompt
 * token a cache miss and `max_tokens` of output, priced by the catalog at the sending instant
 * (the month the record would be booked in). Warm-ups carry no counterfactual: a run on the
 * reference model would not send them. An estimate the catalog cannot price does not block the
 * call: it is kept unpriced, with the reason, as a billed response would be.
 */
export function attemptFor(
  call: CallToRecord,
  at: Date,
  referenceModel: string,
  catalog: Catalog,
): AttemptRecord {
  const usage: Usage = {
    promptHitTokens: 0,
    promptMissTokens: call.promptTokens,
    completionTokens: call.maxTokens,
    reasoningTokens: 0,
  };
  const jobId = call.jobId ?? WARMUP_JOB_ID;
  const priced = priceUsage({
    model: call.model,
    at,
    usage,
    purpose: jobId === WARMUP_JOB_ID ? 'warmup' : 'job',
    // An upper bound is not a saving: the job's retried answer carries the real counterfactual.
    estimated: true,
    referenceModel,
    catalog,
  });
  return {
    attemptId: randomUUID(),
    team: call.team,
    project: call.project,
    batchId: call.batchId,
    jobId,
    kind: call.kind,
    model: call.model,
    ...(call.lane && call.lane !== 'primary' ? { lane: call.lane } : {}),
    ...(call.requestHash ? { requestHash: call.requestHash } : {}),
    ...(call.group ? { group: call.group } : {}),
    ...(call.tags ? { tags: call.tags } : {}),
    owner: call.owner,
    sentAt: at.toISOString(),
    estimatedUsage: usage,
    estimatedCostNanoUsd: priced.costNanoUsd,
    estimatedCounterfactualNanoUsd: priced.counterfactualNanoUsd,
    referenceModel,
    ...(priced.price ? { price: priced.price } : {}),
    ...(priced.unpriced ? { unpriced: priced.unpriced } : {}),
  };
}

/**
 * Reconciles the open attempts of a batch (of one job, when given): each becomes an estimated
 * `billed_unrecorded` cost record, once, with a metric and a warning. Call it only where the
 * calls behind them cannot still be running: on taking over a job whose lease expired (a lease
 * outlasts the invocation that took it), or at finalize (every job has ended).
 */
export async function reconcileAttempts(
  batch: BatchRef,
  jobId: string | undefined,
  deps: Pick<PipelineDeps, 'ledger' | 'logger' | 'metrics'>,
  /**
   * The job's reservation the dead owner still held: the estimates settle against it first
   * (it is reduced in place), so a lost call stays within the cap too.
   */
  held?: { nanoUsd: number; month: string },
): Promise<number> {
  let reconciled = 0;
  for (const attempt of await deps.ledger.openAttempts(batch, jobId)) {
    const part =
      held && held.nanoUsd > 0 && attempt.jobId !== WARMUP_JOB_ID
        ? {
            nanoUsd: attempt.unpriced
              ? held.nanoUsd
              : Math.min(held.nanoUsd, attempt.estimatedCostNanoUsd),
            month: held.month,
          }
        : undefined;
    if (!(await deps.ledger.reconcileAttempt(attempt, part))) continue;
    if (held && part) held.nanoUsd -= part.nanoUsd;
    reconciled++;
    deps.logger?.warn('a call was billed but never recorded: the ledger holds its estimate', {
      team: batch.team,
      batchId: batch.batchId,
      jobId: attempt.jobId,
      attemptId: attempt.attemptId,
      sentAt: attempt.sentAt,
      estimatedCostNanoUsd: attempt.estimatedCostNanoUsd,
    });
    if (deps.metrics) {
      const single = deps.metrics.singleMetric();
      single.clearDefaultDimensions();
      single.addMetric(METRICS.billedUnrecorded, 'Count', 1);
    }
  }
  return reconciled;
}
