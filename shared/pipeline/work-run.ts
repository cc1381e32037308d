/**
 * One work message's run: what its steps (claim, send, settle, record) share, held in one
 * object rather than in closures, and the store writes that carry out a settled verdict.
 */
import type { z } from 'zod';
import type { LlmError } from '../llm/errors';
import type { Catalog } from '../pricing/catalog';
import { METRICS } from '../resources';
import type { BatchRef } from '../types';
import type { WorkResult } from './comeback';
import type { WorkBodySchema, WorkJob } from './messages';
import type { WorkerDeps } from './types';
import { workRecorder } from './work-ledger';
import type { SettleFacts, Verdict } from './work-settle';

export type WorkMessage = z.infer<typeof WorkBodySchema>;

export interface WorkOptions {
  /** Epoch ms: Lambda's remaining time minus a margin. */
  deadline: number;
  /** Names this invocation's leases. */
  owner: string;
  /** The message's last deliveries before its DLQ: jobs stop waiting (see admit). */
  lastChance?: boolean;
}

export type WorkRun = Awaited<ReturnType<typeof openRun>>;

/** Starts a message's run: its counters, its prices, its side of the ledger. */
export async function openRun(msg: WorkMessage, options: WorkOptions, deps: WorkerDeps) {
  const { batchId, team, project, kind, lane } = msg;
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
  const catalog: Catalog = await deps.prices.catalog();
  const ledger = workRecorder(
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
  return {
    msg,
    batch: { team, batchId } as BatchRef,
    options,
    deps,
    catalog,
    ledger,
    result,
    /** Each running job's in-flight mark on its request. */
    holding: new Map<string, string>(),
    /** No request of the batch is sent after its deadline (epoch ms); what is left then expires. */
    startBy: msg.deadline === undefined ? undefined : Date.parse(msg.deadline),
    /** The first error that stopped the batch (a bad key, no balance). */
    stopped: undefined as LlmError | undefined,
    now: () => deps.clock.now(),
  };
}

/** The facts `settle` decides a job's fate from, now. */
export function settleFacts(run: WorkRun, attempts: number): SettleFacts {
  return {
    attempts,
    maxAttempts: run.deps.settings.maxAttempts,
    now: run.now().getTime(),
    ...(run.startBy !== undefined ? { startBy: run.startBy } : {}),
    ...(run.stopped ? { stopped: run.stopped } : {}),
  };
}

/**
 * Carries out a verdict on a job this run holds: ends it, or gives it back, then returns what
 * it had reserved of the budget. A job another owner took over meanwhile is not counted; `run`
 * leaves the job running.
 */
export async function applyVerdict(run: WorkRun, job: WorkJob, verdict: Verdict): Promise<void> {
  if (verdict.kind === 'run') return;
  const { batch, result, deps } = run;
  const by = { now: run.now(), owner: run.options.owner };
  if (verdict.kind === 'fail') {
    const error = { code: verdict.code, reason: verdict.reason };
    if (await deps.jobs.endJob(batch, job.jobId, { state: 'failed', error }, by)) {
      result.failed++;
      deps.metrics?.addMetric(METRICS.jobsFailed, 'Count', 1);
    }
  } else if (verdict.kind === 'expire') {
    const reason = `the batch's deadline ${run.msg.deadline} passed before this file's request could be sent: submit it again with a later --deadline (or none)`;
    const error = { code: 'deadline' as const, reason };
    if (await deps.jobs.endJob(batch, job.jobId, { state: 'expired', error }, by)) result.expired++;
  } else if (verdict.kind === 'skip') {
    const error = { code: 'budget' as const, reason: verdict.reason };
    if (await deps.jobs.endJob(batch, job.jobId, { state: 'skipped_budget', error }, by))
      result.skippedBudget++;
  } else {
    const { waited } = verdict;
    const out = await deps.jobs.releaseJob(batch, job.jobId, by.owner, by.now, {
      uncounted: waited !== undefined,
    });
    if (out === 'released') {
      if (waited) result.waited++;
      else result.released++;
      result.retry = true;
      if (waited?.notBefore !== undefined)
        result.notBefore = Math.max(result.notBefore ?? 0, waited.notBefore);
    }
  }
  await run.ledger.giveBack(job);
}
