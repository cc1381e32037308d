/**
 * The worker's domain: one work message (a chunk of one prefix group) within a deadline.
 *
 * Jobs are claimed before any call, so a redelivered message or a second worker makes no call
 * for a job that ended or is leased elsewhere. Every billed response (job, warm-up, or a billed
 * attempt the client discarded) is written with `recordBilledResponse`, keyed by the provider's
 * response id, so a response is in the ledger once whatever is retried.
 */
import pLimit from 'p-limit';
import type { ExecGroup, JobOutcome, WarmupOutcome } from '../executor/executor';
import { runGroups } from '../executor/executor';
import type { JobErrorCode } from '../job-errors';
import { type BilledResponse, LlmError } from '../llm/errors';
import { retryDelayMs } from '../llm/retry';
import { type CostRecord, WARMUP_JOB_ID } from '../ports/ledger';
import { counterfactualNanoUsd, requestCost } from '../pricing/cost';
import { METRICS } from '../resources';
import type { BatchRef, ChatMessage, Usage } from '../types';
import { attemptFor, reconcileAttempts } from './attempts';
import { outputPrefixFor, requestKeyFor } from './keys';
import { parseBody, type WorkBody, WorkBodySchema, type WorkJob } from './messages';
import type { StoredRequest } from './request';
import type { PipelineSettings } from './settings';
import { queueFinalizeIfDone } from './trigger-finalize';
import type { WorkerDeps } from './types';

/** How often a running message re-reads its batch to notice a cancel. */
const CANCEL_CHECK_INTERVAL_MS = 1_000;

/** Some jobs of the message must run again: the handler reports it as a batch item failure. */
export class RetryLaterError extends Error {
  override name = 'RetryLaterError';
}

export interface WorkResult {
  batchId: string;
  claimed: number;
  /** Jobs not claimed (ended, leased elsewhere, cancelled): no call made. */
  skipped: number;
  /** Of `skipped`: jobs another delivery of this message still holds; the message must come back. */
  leased: number;
  succeeded: number;
  failed: number;
  /** Jobs ended `expired`: the batch's deadline passed before they could be sent. */
  expired: number;
  /** Jobs given back to `pending` for a later delivery. */
  released: number;
  /** True when the message must be delivered again. */
  retry: boolean;
  /** Epoch ms before which a delivery again is pointless: the latest lease held elsewhere. */
  notBefore?: number;
  finalizeQueued: boolean;
}

/**
 * Removes one markdown fence around a whole answer (```ts ... ```), which models add to test
 * files even when told not to; a fence inside the text is left alone.
 */
export function stripOuterFence(text: string): string {
  const match = /^\s*(`{3,}|~{3,})[^\n]*\n([\s\S]*?)\n\1\s*$/.exec(text);
  return match ? `${match[2]}\n` : text;
}

/** Builds the ledger record of a billed response, priced at its `created` time. */
export function costRecordFor(
  billed: BilledResponse,
  where: { team: string; project: string; batchId: string; jobId: string; kind: WorkBody['kind'] },
  referenceModel: string,
): CostRecord {
  const at = new Date(billed.created * 1000);
  return {
    responseId: billed.responseId,
    ...where,
    model: billed.model,
    endpoint: billed.endpoint,
    usage: billed.usage,
    costNanoUsd: requestCost(billed.model, at, billed.usage).totalNanoUsd,
    counterfactualNanoUsd: counterfactualNanoUsd(referenceModel, at, billed.usage),
    referenceModel,
    created: at.toISOString(),
  };
}

function emitUsage(deps: WorkerDeps, usage: Usage, cost: number, counterfactual: number): void {
  const m = deps.metrics;
  if (!m) return;
  m.addMetric(METRICS.cacheHitTokens, 'Count', usage.promptHitTokens);
  m.addMetric(METRICS.cacheMissTokens, 'Count', usage.promptMissTokens);
  m.addMetric(METRICS.costNanoUsd, 'Count', cost);
  m.addMetric(METRICS.counterfactualNanoUsd, 'Count', counterfactual);
}

/**
 * Runs one work message. `deadline` is epoch ms (Lambda's remaining time minus a margin);
 * `owner` names this invocation's leases.
 */
export async function processWorkMessage(
  rawBody: string,
  options: { deadline: number; owner: string },
  deps: WorkerDeps,
): Promise<WorkResult> {
  const msg = parseBody(WorkBodySchema, rawBody, 'work');
  const { batchId, team, project, kind } = msg;
  const batch: BatchRef = { team, batchId };
  const { settings, jobs: store, ledger } = deps;
  const now = () => deps.clock.now();
  const where = (jobId: string) => ({ team, project, batchId, jobId, kind });
  const result: WorkResult = {
    batchId,
    claimed: 0,
    skipped: 0,
    leased: 0,
    succeeded: 0,
    failed: 0,
    expired: 0,
    released: 0,
    retry: false,
    finalizeQueued: false,
  };
  const limit = pLimit(settings.concurrency.claims);

  const record = async (
    billed: BilledResponse,
    jobId: string,
    job?: WorkJob,
    attemptId?: string,
  ) => {
    const rec = costRecordFor(billed, where(jobId), settings.referenceModel);
    const out = await ledger.recordBilledResponse({
      record: rec,
      ...(attemptId ? { attempt: { team, batchId, jobId, attemptId } } : {}),
      ...(job
        ? {
            job: {
              owner: options.owner,
              outputKey: job.outputKey,
              reservedNanoUsd: job.reservedNanoUsd,
              reservedMonth: msg.reservedMonth,
            },
          }
        : {}),
    });
    if (!out.duplicate) emitUsage(deps, rec.usage, rec.costNanoUsd, rec.counterfactualNanoUsd);
    return out;
  };

  /**
   * Records a call's billed responses; the last one settles the call's attempt record in the
   * same transaction, and a call with nothing billed just closes it.
   */
  const recordCall = async (
    billed: readonly BilledResponse[],
    jobId: string,
    attemptId: string | undefined,
  ) => {
    for (const [i, b] of billed.entries())
      await record(b, jobId, undefined, i === billed.length - 1 ? attemptId : undefined);
    if (billed.length === 0 && attemptId)
      await ledger.closeAttempt({ team, batchId, jobId, attemptId });
  };

  const fail = async (job: WorkJob, code: JobErrorCode, reason: string) => {
    const ended = await store.endJob(
      batch,
      job.jobId,
      { state: 'failed', error: { code, reason } },
      { now: now(), owner: options.owner },
    );
    if (ended) {
      result.failed++;
      deps.metrics?.addMetric(METRICS.jobsFailed, 'Count', 1);
      if (job.reservedNanoUsd > 0)
        await ledger.release(team, msg.reservedMonth, job.reservedNanoUsd);
    }
  };

  // No request of the batch is sent after its deadline; what is left then expires.
  const startBy = msg.deadline === undefined ? undefined : Date.parse(msg.deadline);
  const pastDeadline = () => startBy !== undefined && now().getTime() >= startBy;
  const expire = async (job: WorkJob) => {
    const ended = await store.endJob(
      batch,
      job.jobId,
      {
        state: 'expired',
        error: {
          code: 'deadline',
          reason: `the batch's deadline ${msg.deadline} passed before this file's request could be sent: submit it again with a later --deadline (or none)`,
        },
      },
      { now: now(), owner: options.owner },
    );
    if (ended) {
      result.expired++;
      if (job.reservedNanoUsd > 0)
        await ledger.release(team, msg.reservedMonth, job.reservedNanoUsd);
    }
  };

  const release = async (job: WorkJob) => {
    const out = await store.releaseJob(batch, job.jobId, options.owner, now());
    if (out === 'released') {
      result.released++;
      result.retry = true;
    } else if (out === 'cancelled' && job.reservedNanoUsd > 0) {
      await ledger.release(team, msg.reservedMonth, job.reservedNanoUsd);
    }
  };

  // Claim first: a job another worker holds, or one that ended, costs no call.
  const claimToRun = async (
    job: WorkJob,
  ): Promise<{ job: WorkJob; attempts: number; request: StoredRequest } | undefined> => {
    const claim = await store.claimJob(batch, job.jobId, options.owner, settings.leaseMs, now());
    if (!claim.job) {
      result.skipped++;
      // Leased elsewhere: a redelivery while the first delivery still runs. The lease holder
      // may yet give the job back (a retryable failure), and its message is this one, so
      // this copy must not be deleted: it comes back, and then finds the job ended, pending
      // again, or its lease expired.
      if (claim.reason === 'leased') {
        result.leased++;
        result.retry = true;
        if (claim.leaseUntil !== undefined)
          result.notBefore = Math.max(result.notBefore ?? 0, claim.leaseUntil);
      }
      return undefined;
    }
    result.claimed++;
    // Taken over after its lease ran out: a call of the earlier owner may have been billed and
    // never recorded. That owner's invocation has ended (a lease outlasts it): reconcile.
    if (claim.job.attempts > 1) await reconcileAttempts(batch, job.jobId, deps);
    if (pastDeadline()) {
      await expire(job);
      return undefined;
    }
    const { attempts } = claim.job;
    if (attempts > settings.maxAttempts) {
      await fail(
        job,
        'max_attempts',
        `gave up after ${settings.maxAttempts} attempts; the last ones did not finish (provider errors or timeouts): run the batch again later`,
      );
      return undefined;
    }
    // Keys can come back from job items (a resumed planning), which the team's own credentials
    // may update: the worker reads and writes only its batch's own keys.
    if (
      job.requestKey !== requestKeyFor(batch, job.jobId) ||
      !job.outputKey.startsWith(outputPrefixFor({ ...batch, project }))
    ) {
      await fail(job, 'error', `the job's keys are not under batch ${team}/${batchId}: refused`);
      return undefined;
    }
    const text = await deps.objects.getText(job.requestKey);
    if (text === undefined) {
      await fail(job, 'missing_request', `the planned request ${job.requestKey} is missing`);
      return undefined;
    }
    return { job, attempts, request: JSON.parse(text) as StoredRequest };
  };
  // Requests are read in parallel too; the runnable jobs keep the message's order.
  const runnable = (await limit.map(msg.jobs, claimToRun)).filter((r) => r !== undefined);

  const first = runnable[0];
  if (first) {
    const byId = new Map(runnable.map((r) => [r.job.jobId, r]));
    const group: ExecGroup = {
      prefixKey: msg.prefixKey,
      model: msg.model,
      team,
      sensitivity: msg.sensitivity,
      prefixMessages: first.request.messages.slice(0, -1),
      prefixTokens: msg.warmup?.prefixTokens ?? first.job.prefixTokens,
      jobs: runnable.map((r) => ({
        jobId: r.job.jobId,
        messages: r.request.messages,
        maxTokens: r.request.maxTokens,
      })),
    };
    let stopped: LlmError | undefined;

    const beforeCall = async (
      _g: ExecGroup,
      call: { jobId?: string; messages: ChatMessage[]; maxTokens?: number },
    ) => {
      const job = call.jobId === undefined ? undefined : byId.get(call.jobId)?.job;
      const attempt = attemptFor(
        {
          team,
          project,
          batchId,
          kind,
          model: msg.model,
          ...(job ? { jobId: job.jobId, requestHash: job.requestHash } : {}),
          owner: options.owner,
          promptTokens: job ? job.prefixTokens + job.uniqueTokens : group.prefixTokens,
          maxTokens: call.maxTokens ?? job?.maxOutputTokens ?? 1,
        },
        now(),
        settings.referenceModel,
      );
      await ledger.recordAttempt(attempt);
      return attempt.attemptId;
    };

    const onWarmupSettled = async (_g: ExecGroup, outcome: WarmupOutcome) => {
      const billed = [
        ...(outcome.response?.discarded ?? []),
        ...(outcome.response ? [outcome.response] : []),
        ...(outcome.error instanceof LlmError ? outcome.error.billed : []),
      ];
      await recordCall(billed, WARMUP_JOB_ID, outcome.attemptId);
      // A warm-up or check probe refused for the key or the balance stops the batch too.
      if (outcome.error instanceof LlmError && outcome.error.stopsBatch) stopped ??= outcome.error;
    };

    const onJobSettled = async (_g: ExecGroup, outcome: JobOutcome) => {
      const entry = byId.get(outcome.jobId);
      if (!entry) return;
      const { job, attempts } = entry;
      if (outcome.status === 'succeeded') {
        const response = outcome.response;
        for (const d of response.discarded) await record(d, job.jobId);
        const content = kind === 'tests' ? stripOuterFence(response.content) : response.content;
        await deps.objects.put(job.outputKey, content);
        const out = await record(response, job.jobId, job, outcome.attemptId);
        if (out.jobUpdated) {
          result.succeeded++;
          deps.metrics?.addMetric(METRICS.jobsSucceeded, 'Count', 1);
          await store.putReuse({
            requestHash: job.requestHash,
            outputKey: job.outputKey,
            responseId: response.responseId,
            createdAt: now().toISOString(),
            expiresAt: Math.floor(now().getTime() / 1000) + settings.reuseTtlDays * 86_400,
          });
        }
        return;
      }
      if (outcome.status === 'failed') {
        const err = outcome.error;
        await recordCall(err instanceof LlmError ? err.billed : [], job.jobId, outcome.attemptId);
        const llmErr = err instanceof LlmError ? err : undefined;
        if (llmErr?.stopsBatch) stopped ??= llmErr;
        // A retry that would have crossed the batch's deadline was not sent: the job expires.
        if (llmErr?.retryable && pastDeadline()) await expire(job);
        else if (llmErr?.retryable && attempts >= settings.maxAttempts)
          // The last attempt: end the job now, naming the error, rather than give it back for a
          // delivery that could only say that attempts ran out.
          await fail(
            job,
            'max_attempts',
            `gave up after ${settings.maxAttempts} attempts; the last one failed with ${llmErr.name}${llmErr.status ? ` (HTTP ${llmErr.status})` : ''}: ${err.message}. The provider was failing or slow: run the batch again later`,
          );
        else if (llmErr?.retryable) await release(job);
        else
          await fail(
            job,
            llmErr?.name ?? 'error',
            `the provider refused the request${llmErr?.status ? ` (HTTP ${llmErr.status})` : ''}: ${err.message}${remedyFor(llmErr)}`,
          );
        return;
      }
      if (outcome.cause === 'batch_deadline') await expire(job);
      else if (stopped)
        await fail(job, stopped.name, `batch stopped: ${stopped.message}${remedyFor(stopped)}`);
      else await release(job);
    };

    // A batch cancelled while this message runs starts nothing more: jobs claimed but not yet
    // started are handed back, and releasing them in a cancelled batch ends them cancelled.
    // The batch item is read at most once a second.
    let cancelled = false;
    let checkedAt = Number.NEGATIVE_INFINITY;
    const checkStop = async (): Promise<string | undefined> => {
      if (!cancelled && now().getTime() - checkedAt >= CANCEL_CHECK_INTERVAL_MS) {
        checkedAt = now().getTime();
        cancelled = (await store.getBatch(batch))?.status === 'cancelled';
      }
      return cancelled ? 'batch cancelled' : undefined;
    };

    await runGroups(
      [group],
      {
        llm: deps.llm,
        now: () => now().getTime(),
        deadline: options.deadline,
        ...(startBy !== undefined ? { startBy } : {}),
        logger: deps.logger,
        checkStop,
        beforeCall,
        onJobSettled,
        onWarmupSettled,
      },
      {
        ...settings.executor,
        warmup: msg.warmup ? msg.warmup.mode : 'none',
      },
    );

    if (stopped) await failRemaining(batch, msg.reservedMonth, stopped, deps);
  }

  await emitBudget(team, msg.reservedMonth, deps);
  result.finalizeQueued = await queueFinalizeIfDone(batch, deps);
  deps.logger?.info('work message done', { ...result, prefixKey: msg.prefixKey, seq: msg.seq });
  return result;
}

/** What a person can do about a permanent provider error, appended to the job's reason. */
function remedyFor(err: LlmError | undefined): string {
  if (err?.status === 401) return '. Check the API key stored for this endpoint';
  if (err?.status === 402) return '. Top up the provider account, then run the batch again';
  return '';
}

/** After a 401/402, the batch's other pending jobs would fail the same way: end them now. */
async function failRemaining(
  batch: BatchRef,
  month: string,
  err: LlmError,
  deps: WorkerDeps,
): Promise<void> {
  const pending = (await deps.jobs.listJobs(batch)).filter((j) => j.state === 'pending');
  const error = { code: err.name, reason: `batch stopped: ${err.message}${remedyFor(err)}` };
  const limit = pLimit(deps.settings.concurrency.jobEnds);
  await limit.map(pending, async (j) => {
    const ended = await deps.jobs.endJob(
      batch,
      j.jobId,
      { state: 'failed', error },
      { now: deps.clock.now() },
    );
    if (ended && j.reservedNanoUsd > 0)
      await deps.ledger.release(batch.team, month, j.reservedNanoUsd);
  });
}

/** BudgetUsedPercent with the team as its only dimension, as the budget alarm expects. */
async function emitBudget(team: string, month: string, deps: WorkerDeps): Promise<void> {
  if (!deps.metrics) return;
  const budget = await deps.ledger.budget(team, month);
  if (!budget?.capNanoUsd) return;
  const single = deps.metrics.singleMetric();
  single.clearDefaultDimensions();
  single.addDimension(METRICS.budgetDimension, team);
  single.addMetric(
    METRICS.budgetUsedPercent,
    'Percent',
    (budget.spentNanoUsd * 100) / budget.capNanoUsd,
  );
}

/** Parses a work message body (exported for the handler's logging keys). */
export function workBatchId(rawBody: string): string | undefined {
  try {
    return (JSON.parse(rawBody) as { batchId?: string }).batchId;
  } catch {
    return undefined;
  }
}

/**
 * Seconds until a message that must come back is delivered again: a backoff growing with its
 * deliveries, with jitter, so a failing provider is not hammered and a transient failure is
 * retried in seconds rather than after the queue's visibility timeout. A job held by another
 * delivery is usually released or finished soon (that delivery is alive), so the backoff applies
 * to it too; but the last deliveries before the DLQ are not spent on it: from `receivesLeft` 2
 * the message waits out the lease instead.
 */
export function comebackSeconds(
  result: Pick<WorkResult, 'notBefore'>,
  delivery: { receiveCount: number; receivesLeft: number },
  backoff: PipelineSettings['retryBackoff'],
  nowMs: number,
  random: () => number = Math.random,
): number {
  const policy = {
    retries: 0,
    minTimeoutMs: backoff.minSeconds * 1000,
    maxTimeoutMs: backoff.maxSeconds * 1000,
  };
  const wait = retryDelayMs(Math.max(0, delivery.receiveCount - 1), policy, undefined, random);
  const untilFree =
    result.notBefore === undefined || delivery.receivesLeft > 2 ? 0 : result.notBefore - nowMs;
  return Math.ceil(Math.max(wait, untilFree) / 1000);
}

/** Throws RetryLaterError when the message must come back; used by the handler. */
export function assertDone(result: WorkResult): void {
  if (result.retry)
    throw new RetryLaterError(
      `${result.released} job(s) of batch ${result.batchId} must run again later, ${result.leased} are still held by another delivery`,
    );
}
