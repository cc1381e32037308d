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
import { type CostRecord, type RecordPurpose, WARMUP_JOB_ID } from '../ports/ledger';
import { METRICS } from '../resources';
import { costRecordFor } from './costing';
import { parseBody, WorkBodySchema, type WorkJob } from './messages';
import type { StoredRequest } from './request';
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
  /** Jobs given back to `pending` for a later delivery. */
  released: number;
  /** True when the message must be delivered again. */
  retry: boolean;
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

/** Publishes what one new ledger record says: tokens, cost, overhead, and whether it is unpriced. */
function emitRecord(deps: WorkerDeps, rec: CostRecord): void {
  if (rec.unpriced)
    deps.logger?.warn('billed response recorded unpriced', {
      responseId: rec.responseId,
      model: rec.model,
      pricedAt: rec.pricedAt,
      reason: rec.unpriced.reason,
      detail: rec.unpriced.detail,
    });
  const m = deps.metrics;
  if (!m) return;
  m.addMetric(METRICS.cacheHitTokens, 'Count', rec.usage.promptHitTokens);
  m.addMetric(METRICS.cacheMissTokens, 'Count', rec.usage.promptMissTokens);
  m.addMetric(METRICS.costNanoUsd, 'Count', rec.costNanoUsd);
  m.addMetric(METRICS.counterfactualNanoUsd, 'Count', rec.counterfactualNanoUsd);
  if (rec.purpose !== 'job') m.addMetric(METRICS.warmupCostNanoUsd, 'Count', rec.costNanoUsd);
  if (rec.unpriced) m.addMetric(METRICS.unpricedResponses, 'Count', 1);
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
    released: 0,
    retry: false,
    finalizeQueued: false,
  };
  const limit = pLimit(settings.concurrency.claims);
  const catalog = await deps.prices.catalog();

  const record = async (
    billed: BilledResponse,
    jobId: string,
    purpose: RecordPurpose,
    job?: WorkJob,
  ) => {
    const rec = costRecordFor(billed, { ...where(jobId), purpose }, settings, catalog);
    const out = await ledger.recordBilledResponse({
      record: rec,
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
    if (!out.duplicate) emitRecord(deps, rec);
    return out;
  };

  const fail = async (job: WorkJob, code: JobErrorCode, reason: string) => {
    const ended = await store.endJob(
      batchId,
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

  const release = async (job: WorkJob) => {
    const out = await store.releaseJob(batchId, job.jobId, options.owner, now());
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
    const claim = await store.claimJob(batchId, job.jobId, options.owner, settings.leaseMs, now());
    if (!claim.job) {
      result.skipped++;
      // Leased elsewhere: a redelivery while the first delivery still runs. The lease holder
      // may yet give the job back (a retryable failure), and its message is this one, so
      // this copy must not be deleted: it comes back, and then finds the job ended, pending
      // again, or its lease expired.
      if (claim.reason === 'leased') {
        result.leased++;
        result.retry = true;
      }
      return undefined;
    }
    result.claimed++;
    const { attempts } = claim.job;
    if (attempts > settings.maxAttempts) {
      await fail(
        job,
        'max_attempts',
        `gave up after ${settings.maxAttempts} attempts; the last ones did not finish (provider errors or timeouts): run the batch again later`,
      );
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

    const onWarmupSettled = async (_g: ExecGroup, outcome: WarmupOutcome) => {
      const billed = [
        ...(outcome.response?.discarded ?? []),
        ...(outcome.response ? [outcome.response] : []),
        ...(outcome.error instanceof LlmError ? outcome.error.billed : []),
      ];
      for (const b of billed) await record(b, WARMUP_JOB_ID, 'warmup');
      // A warm-up or check probe refused for the key or the balance stops the batch too.
      if (outcome.error instanceof LlmError && outcome.error.stopsBatch) stopped ??= outcome.error;
    };

    const onJobSettled = async (_g: ExecGroup, outcome: JobOutcome) => {
      const entry = byId.get(outcome.jobId);
      if (!entry) return;
      const { job, attempts } = entry;
      if (outcome.status === 'succeeded') {
        const response = outcome.response;
        for (const d of response.discarded) await record(d, job.jobId, 'discarded');
        const content = kind === 'tests' ? stripOuterFence(response.content) : response.content;
        await deps.objects.put(job.outputKey, content);
        const out = await record(response, job.jobId, 'job', job);
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
        if (err instanceof LlmError)
          for (const b of err.billed) await record(b, job.jobId, 'discarded');
        const llmErr = err instanceof LlmError ? err : undefined;
        if (llmErr?.stopsBatch) stopped ??= llmErr;
        if (llmErr?.retryable && attempts >= settings.maxAttempts)
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
      if (stopped)
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
        cancelled = (await store.getBatch(batchId))?.status === 'cancelled';
      }
      return cancelled ? 'batch cancelled' : undefined;
    };

    await runGroups(
      [group],
      {
        llm: deps.llm,
        now: () => now().getTime(),
        deadline: options.deadline,
        logger: deps.logger,
        checkStop,
        onJobSettled,
        onWarmupSettled,
      },
      {
        ...settings.executor,
        warmup: msg.warmup ? msg.warmup.mode : 'none',
      },
    );

    if (stopped) await failRemaining(batchId, team, msg.reservedMonth, stopped, deps);
  }

  await emitBudget(team, msg.reservedMonth, deps);
  result.finalizeQueued = await queueFinalizeIfDone(batchId, deps);
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
  batchId: string,
  team: string,
  month: string,
  err: LlmError,
  deps: WorkerDeps,
): Promise<void> {
  const pending = (await deps.jobs.listJobs(batchId)).filter((j) => j.state === 'pending');
  const error = { code: err.name, reason: `batch stopped: ${err.message}${remedyFor(err)}` };
  const limit = pLimit(deps.settings.concurrency.jobEnds);
  await limit.map(pending, async (j) => {
    const ended = await deps.jobs.endJob(
      batchId,
      j.jobId,
      { state: 'failed', error },
      { now: deps.clock.now() },
    );
    if (ended && j.reservedNanoUsd > 0) await deps.ledger.release(team, month, j.reservedNanoUsd);
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

/** Throws RetryLaterError when the message must come back; used by the handler. */
export function assertDone(result: WorkResult): void {
  if (result.retry)
    throw new RetryLaterError(
      `${result.released} job(s) of batch ${result.batchId} must run again later, ${result.leased} are still held by another delivery`,
    );
}
