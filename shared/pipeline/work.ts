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
import { groupProfile } from '../executor/profile';
import type { JobErrorCode } from '../job-errors';
import { LlmError } from '../llm/errors';
import type { JobItem } from '../ports/jobs';
import { monthOf, WARMUP_JOB_ID } from '../ports/ledger';
import { METRICS } from '../resources';
import type { BatchRef, ChatMessage } from '../types';
import { admit, BudgetBusyError, BudgetExhaustedError, reserveBudget } from './admit';
import { attemptFor } from './attempts';
import {
  allotFrom,
  groupPricesAt,
  probeBudget,
  probeWorstCase,
  settleTakenOver,
} from './call-budget';
import type { WorkResult } from './comeback';
import { isRequestKeyOf, outputPrefixFor } from './keys';
import { parseBody, WorkBodySchema, type WorkJob } from './messages';
import { checkedRequest, type StoredRequest, storedRequestReader } from './request';
import { effectiveSensitivity } from './sensitivity';
import { failRemaining, remedyFor } from './stop';
import { queueFinalizeIfDone } from './trigger-finalize';
import type { WorkerDeps } from './types';
import { workRecorder } from './work-ledger';
import { emitBudget } from './work-metrics';

/** How often a job waiting for budget looks again. */
const BUDGET_POLL_MS = 250;

/** How often a running message re-reads its batch to notice a cancel. */
const CANCEL_CHECK_INTERVAL_MS = 1_000;

/**
 * Removes one markdown fence around a whole answer (```ts ... ```), which models add to test
 * files even when told not to; a fence inside the text is left alone.
 */
export function stripOuterFence(text: string): string {
  const match = /^\s*(`{3,}|~{3,})[^\n]*\n([\s\S]*?)\n\1\s*$/.exec(text);
  return match ? `${match[2]}\n` : text;
}

/**
 * Runs one work message. `deadline` is epoch ms (Lambda's remaining time minus a margin);
 * `owner` names this invocation's leases.
 */
export async function processWorkMessage(
  rawBody: string,
  options: {
    deadline: number;
    owner: string;
    /** The message's last deliveries before its DLQ: jobs stop waiting (see admit). */
    lastChance?: boolean;
  },
  deps: WorkerDeps,
): Promise<WorkResult> {
  const msg = parseBody(WorkBodySchema, rawBody, 'work');
  const { batchId, team, project, kind, lane } = msg;
  const batch: BatchRef = { team, batchId };
  const { settings, jobs: store, ledger } = deps;
  const now = () => deps.clock.now();
  const where = (jobId: string) => ({
    team,
    project,
    batchId,
    jobId,
    kind,
    group: msg.prefixKey,
    ...(msg.tags ? { tags: msg.tags } : {}),
    ...(lane !== 'primary' ? { lane } : {}),
  });
  const result: WorkResult = {
    batchId,
    claimed: 0,
    skipped: 0,
    leased: 0,
    succeeded: 0,
    failed: 0,
    expired: 0,
    waited: 0,
    reused: 0,
    skippedBudget: 0,
    released: 0,
    retry: false,
    finalizeQueued: false,
  };
  const limit = pLimit(settings.concurrency.claims);
  const catalog = await deps.prices.catalog();
  // The ledger side: billed responses, and the reservations of jobs and probes.
  const ledgerOf = workRecorder(
    {
      team,
      batchId,
      where,
      owner: options.owner,
      ...(msg.reservedMonth ? { reservedMonth: msg.reservedMonth } : {}),
      catalog,
    },
    deps,
  );
  const { reservations, callHolds, estimates, record, recordCall, returnHold, giveBack } = ledgerOf;
  // Each running job's in-flight mark on its request.
  const holding = new Map<string, string>();

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
    }
    await giveBack(job);
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
    if (ended) result.expired++;
    await giveBack(job);
  };

  const release = async (job: WorkJob, waited?: { notBefore?: number }) => {
    const out = await store.releaseJob(batch, job.jobId, options.owner, now(), {
      uncounted: waited !== undefined,
    });
    if (out === 'released') {
      if (waited) result.waited++;
      else result.released++;
      result.retry = true;
      if (waited?.notBefore !== undefined)
        result.notBefore = Math.max(result.notBefore ?? 0, waited.notBefore);
    }
    await giveBack(job);
  };

  // Claim first: a job another worker holds, or one that ended, costs no call.
  const claimToRun = async (
    job: WorkJob,
    readRequest: ReturnType<typeof storedRequestReader>,
  ): Promise<
    { job: WorkJob; claimed: JobItem; attempts: number; request: StoredRequest } | undefined
  > => {
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
    // Taken over after its lease ran out: the dead owner's calls are accounted for first.
    if (claim.job.attempts > 1) await settleTakenOver(batch, claim.job, options.owner, now(), deps);
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
      !isRequestKeyOf(batch, job.requestKey) ||
      !job.outputKey.startsWith(outputPrefixFor({ ...batch, project }))
    ) {
      await fail(job, 'error', `the job's keys are not under batch ${team}/${batchId}: refused`);
      return undefined;
    }
    // The request is checked before anything depends on it (the reuse entry is keyed by it).
    const checked = await checkedRequest(readRequest, job, msg.model);
    if (!checked.ok) {
      deps.logger?.warn('stored request refused', { jobId: job.jobId, code: checked.code });
      await fail(job, checked.code, checked.reason);
      return undefined;
    }
    const { request } = checked;
    const admission = await admit(job, { batch, lastChance: options.lastChance ?? false }, deps);
    if (admission.kind === 'reused') {
      const ended = await store.endJob(
        batch,
        job.jobId,
        { state: 'reused', responseId: admission.responseId },
        { now: now(), owner: options.owner },
      );
      if (ended) result.reused++;
      return undefined;
    }
    if (admission.kind === 'wait') {
      deps.logger?.info('job waits', { jobId: job.jobId, why: admission.why });
      await release(job, admission);
      return undefined;
    }
    holding.set(job.jobId, job.requestHash);
    return { job, claimed: claim.job, attempts, request };
  };
  // Requests are read in parallel too; the runnable jobs keep the message's order. The jobs
  // share a few request objects, each read once and let go after the claims: a set may hold
  // other messages' jobs, and the runnable ones hold their own requests.
  const runnable = await claimAll();
  async function claimAll() {
    const readRequest = storedRequestReader(deps.objects, batch);
    const claimed = await limit.map(msg.jobs, (job) => claimToRun(job, readRequest));
    return claimed.filter((r) => r !== undefined);
  }

  const first = runnable[0];
  if (first) {
    const byId = new Map(runnable.map((r) => [r.job.jobId, r]));
    const group: ExecGroup = {
      prefixKey: msg.prefixKey,
      model: msg.model,
      team,
      // Raised to the stack's floor for the team and project right before an endpoint is chosen.
      sensitivity: effectiveSensitivity(settings, { team, projects: [project] }, msg.sensitivity),
      prefixMessages: first.request.messages.slice(0, -1),
      prefixTokens: msg.warmup?.prefixTokens ?? first.job.prefixTokens,
      // The group's later messages run after this one and use its warm-up too.
      laterJobs: Math.max(0, msg.total - 1 - msg.seq),
      ...groupPricesAt(msg.model, now(), catalog),
      jobs: runnable.map((r) => ({
        jobId: r.job.jobId,
        messages: r.request.messages,
        maxTokens: r.request.maxTokens,
      })),
    };
    let stopped: LlmError | undefined;
    // Once this group's cache probe could not reserve its worst case, nothing more of it is sent.
    const probes = probeBudget(
      {
        batch,
        lastChance: options.lastChance ?? false,
        waitUntil: options.deadline - settings.executor.stopMarginMs,
        pollMs: BUDGET_POLL_MS,
      },
      deps,
    );

    const beforeCall = async (
      _g: ExecGroup,
      call: { jobId?: string; messages: ChatMessage[]; maxTokens?: number },
    ) => {
      const entry = call.jobId === undefined ? undefined : byId.get(call.jobId);
      const job = entry?.job;
      probes.check();
      // A warm-up or cache probe reserves its worst case before it is sent, like a job.
      const hold = entry
        ? undefined
        : await probes.reserve(
            probeWorstCase(
              msg.model,
              group.prefixTokens,
              call.maxTokens ?? 1,
              now(),
              new Date(options.deadline),
              catalog,
            ),
          );
      // A job reserves its budget right before its call, waiting (in its slot) while running
      // jobs hold the budget, until little of the invocation is left.
      if (entry && !reservations.has(entry.job.jobId))
        reservations.set(
          entry.job.jobId,
          await reserveBudget(
            entry.job,
            entry.claimed,
            {
              batch,
              owner: options.owner,
              lastChance: options.lastChance ?? false,
              waitUntil: options.deadline - settings.executor.stopMarginMs,
              pollMs: BUDGET_POLL_MS,
            },
            deps,
          ),
        );
      const attempt = attemptFor(
        {
          team,
          project,
          batchId,
          kind,
          model: msg.model,
          group: msg.prefixKey,
          ...(msg.tags ? { tags: msg.tags } : {}),
          lane,
          ...(job ? { jobId: job.jobId, requestHash: job.requestHash } : {}),
          owner: options.owner,
          promptTokens: job ? job.prefixTokens + job.uniqueTokens : group.prefixTokens,
          maxTokens: call.maxTokens ?? job?.maxOutputTokens ?? 1,
        },
        now(),
        settings.referenceModel,
        catalog,
      );
      estimates.set(attempt.jobId, attempt.estimatedUsage);
      try {
        await ledger.recordAttempt(hold ? { ...attempt, reserved: { ...hold } } : attempt);
      } catch (err) {
        await returnHold(hold);
        throw err;
      }
      if (hold) callHolds.set(attempt.attemptId, { ...hold });
      return attempt.attemptId;
    };

    const onWarmupSettled = async (_g: ExecGroup, outcome: WarmupOutcome) => {
      const billed = [
        ...(outcome.response?.discarded ?? []),
        ...(outcome.response ? [outcome.response] : []),
        ...(outcome.error instanceof LlmError ? outcome.error.billed : []),
      ];
      const hold = outcome.attemptId ? callHolds.get(outcome.attemptId) : undefined;
      if (outcome.attemptId) callHolds.delete(outcome.attemptId);
      await recordCall(billed, WARMUP_JOB_ID, 'warmup', outcome.attemptId, hold);
      await returnHold(hold);
      // A warm-up or check probe refused for the key or the balance stops the batch too.
      if (outcome.error instanceof LlmError && outcome.error.stopsBatch) stopped ??= outcome.error;
    };

    const onJobSettled = async (_g: ExecGroup, outcome: JobOutcome) => {
      const entry = byId.get(outcome.jobId);
      if (!entry) return;
      const { job, attempts } = entry;
      if (outcome.status === 'succeeded') {
        const response = outcome.response;
        // Its discarded answers draw on the job's reservation first; the answer settles the rest.
        const held = reservations.get(job.jobId);
        const allot = allotFrom(held);
        for (const d of response.discarded) await record(d, job.jobId, 'discarded', { allot });
        // The job item keeps what is left, so an owner that takes the job over settles no more.
        if (held && response.discarded.length > 0)
          await store.setReservation(batch, job.jobId, options.owner, { ...held });
        const content = kind === 'tests' ? stripOuterFence(response.content) : response.content;
        await deps.objects.put(job.outputKey, content);
        const latencyMs = Math.max(0, Math.round(now().getTime() - response.sentAt));
        const out = await record(response, job.jobId, 'job', {
          job,
          latencyMs,
          finishReason: response.finishReason,
          ...(outcome.attemptId ? { attemptId: outcome.attemptId } : {}),
        });
        if (out.jobUpdated) {
          result.succeeded++;
          deps.metrics?.addMetric(METRICS.jobsSucceeded, 'Count', 1);
          await store.putReuse({
            requestHash: job.requestHash,
            outputKey: job.outputKey,
            responseId: response.responseId,
            createdAt: now().toISOString(),
            expiresAt: Math.floor(now().getTime() / 1000) + settings.reuseTtlDays * 86_400,
            origin: { team, batchId, jobId: job.jobId, requestKey: job.requestKey },
          });
          // The mark needs no ending now (a write saved a job): admission reads the reuse item
          // before the mark, and a job already waiting comes back when the mark ends anyway.
          holding.delete(job.jobId);
        }
        return;
      }
      if (outcome.status === 'failed') {
        const err = outcome.error;
        await recordCall(
          err instanceof LlmError ? err.billed : [],
          job.jobId,
          'discarded',
          outcome.attemptId,
          reservations.get(job.jobId),
        );
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
      else if (outcome.error instanceof BudgetExhaustedError) {
        const ended = await store.endJob(
          batch,
          job.jobId,
          { state: 'skipped_budget', error: { code: 'budget', reason: outcome.error.message } },
          { now: now(), owner: options.owner },
        );
        if (ended) result.skippedBudget++;
        await giveBack(job);
      } else if (outcome.error instanceof BudgetBusyError) await release(job, {});
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

    const profile = await groupProfile(deps, group, now());
    await runGroups(
      [group],
      {
        llm: deps.llm,
        profileFor: profile.profileFor,
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

    await profile.save();
    if (stopped) await failRemaining(batch, stopped, deps);
  }
  // Identical requests elsewhere wait on these marks: end those of jobs that left no answer.
  await limit.map([...holding], ([jobId, hash]) =>
    store.letGoRequest(hash, { team, batchId, jobId }),
  );

  await emitBudget(team, monthOf(now().toISOString()), deps);
  result.finalizeQueued = await queueFinalizeIfDone(batch, deps);
  deps.logger?.info('work message done', { ...result, prefixKey: msg.prefixKey, seq: msg.seq });
  return result;
}
