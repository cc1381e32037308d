/**
 * The worker's domain: one work message (a chunk of one prefix group) within a deadline, in
 * steps. Claim (work-claim): jobs are leased before any call, so a redelivered message or a
 * second worker makes no call for a job that ended or is leased elsewhere. Send (work-send):
 * the executor runs the group's warm-up protocol and sends each call through the worker's step,
 * which reserves, calls the provider and records (work-record). Settle (work-settle): a pure
 * decision of what becomes of each job left unanswered, carried out by `applyVerdict`.
 */
import pLimit from 'p-limit';
import type { ExecGroup, GroupReport } from '../executor/executor';
import { runGroup } from '../executor/executor';
import { groupProfile } from '../executor/profile';
import { monthOf } from '../ports/ledger';
import { groupPricesAt } from './call-budget';
import type { WorkResult } from './comeback';
import { parseBody, WorkBodySchema } from './messages';
import { effectiveSensitivity } from './sensitivity';
import { failRemaining } from './stop';
import { queueFinalizeIfDone } from './trigger-finalize';
import type { WorkerDeps } from './types';
import { claimAll, type Runnable } from './work-claim';
import { emitBudget } from './work-metrics';
import { applyVerdict, openRun, settleFacts, type WorkOptions, type WorkRun } from './work-run';
import { sendStep } from './work-send';
import { settle } from './work-settle';

export { stripOuterFence } from './work-record';

/** How often a running message re-reads its batch to notice a cancel. */
const CANCEL_CHECK_INTERVAL_MS = 1_000;

/**
 * Runs one work message. `deadline` is epoch ms (Lambda's remaining time minus a margin);
 * `owner` names this invocation's leases.
 */
export async function processWorkMessage(
  rawBody: string,
  options: WorkOptions,
  deps: WorkerDeps,
): Promise<WorkResult> {
  const msg = parseBody(WorkBodySchema, rawBody, 'work');
  const run = await openRun(msg, options, deps);
  const runnable = await claimAll(run);
  if (runnable.length > 0) await runClaimed(run, runnable);
  // Identical requests elsewhere wait on these marks: end those of jobs that left no answer.
  const limit = pLimit(deps.settings.concurrency.claims);
  await limit.map([...run.holding], ([jobId, hash]) =>
    deps.jobs.letGoRequest(hash, { team: msg.team, batchId: msg.batchId, jobId }),
  );
  await emitBudget(msg.team, monthOf(run.now().toISOString()), deps);
  const { result } = run;
  result.finalizeQueued = await queueFinalizeIfDone(run.batch, deps);
  deps.logger?.info('work message done', { ...result, prefixKey: msg.prefixKey, seq: msg.seq });
  return result;
}

/** The group of the claimed jobs, as the executor runs it. */
function execGroup(run: WorkRun, runnable: readonly Runnable[], first: Runnable): ExecGroup {
  const { msg, deps } = run;
  return {
    prefixKey: msg.prefixKey,
    model: msg.model,
    team: msg.team,
    // Raised to the stack's floor for the team and project right before an endpoint is chosen.
    sensitivity: effectiveSensitivity(
      deps.settings,
      { team: msg.team, projects: [msg.project] },
      msg.sensitivity,
    ),
    prefixMessages: first.request.messages.slice(0, -1),
    prefixTokens: msg.warmup?.prefixTokens ?? first.job.prefixTokens,
    // The group's later messages run after this one and use its warm-up too.
    laterJobs: Math.max(0, msg.total - 1 - msg.seq),
    ...groupPricesAt(msg.model, run.now(), run.catalog),
    jobs: runnable.map((r) => ({
      jobId: r.job.jobId,
      messages: r.request.messages,
      maxTokens: r.request.maxTokens,
    })),
  };
}

/** Sends the claimed jobs as one group, then settles those that were never sent. */
async function runClaimed(run: WorkRun, runnable: Runnable[]): Promise<void> {
  const { deps, options, msg } = run;
  const [first] = runnable;
  if (!first) return;
  const group = execGroup(run, runnable, first);
  const profile = await groupProfile(deps, group, run.now());
  const report = await runGroup(
    group,
    {
      llm: deps.llm,
      send: sendStep(run, group, runnable),
      profileFor: profile.profileFor,
      now: () => run.now().getTime(),
      deadline: options.deadline,
      ...(run.startBy !== undefined ? { startBy: run.startBy } : {}),
      logger: deps.logger,
      checkStop: stopCheck(run),
    },
    { ...deps.settings.executor, warmup: msg.warmup ? msg.warmup.mode : 'none' },
  );
  await settleUnsent(run, runnable, report);
  await profile.save();
  if (run.stopped) await failRemaining(run.batch, run.stopped, deps);
}

/**
 * Jobs the executor did not start (time, the batch's deadline, a stop): given back, expired or
 * failed. They reserved nothing; those the send step refused it settled itself.
 */
async function settleUnsent(run: WorkRun, runnable: Runnable[], report: GroupReport) {
  const byId = new Map(runnable.map((r) => [r.job.jobId, r]));
  const limit = pLimit(run.deps.settings.concurrency.claims);
  await limit.map(report.jobs, async (outcome) => {
    const entry = byId.get(outcome.jobId);
    if (!entry || outcome.status !== 'not_started' || outcome.cause === 'before_call') return;
    await applyVerdict(run, entry.job, settle(outcome, settleFacts(run, entry.attempts)));
  });
}

/**
 * Why nothing more of the message may start: the batch was stopped by a call's error, or
 * cancelled while this message runs (then jobs claimed but not yet started are handed back,
 * and releasing them in a cancelled batch ends them cancelled). The batch item is read at most
 * once a second.
 */
function stopCheck(run: WorkRun): () => Promise<string | undefined> {
  let cancelled = false;
  let checkedAt = Number.NEGATIVE_INFINITY;
  return async () => {
    if (run.stopped) return `batch stopped: ${run.stopped.message}`;
    const now = run.now().getTime();
    if (!cancelled && now - checkedAt >= CANCEL_CHECK_INTERVAL_MS) {
      checkedAt = now;
      cancelled = (await run.deps.jobs.getBatch(run.batch))?.status === 'cancelled';
    }
    return cancelled ? 'batch cancelled' : undefined;
  };
}
