/**
 * Admission: what the worker decides for a job it has just claimed, before any call.
 *
 * - Reuse: an identical request answered since the job was planned (by another batch, maybe
 *   while this one waited) serves it at no cost.
 * - In flight elsewhere: while another job sends the identical request, this one waits for its
 *   answer instead of paying for it a second time, and runs if that one fails.
 * - Budget: the job reserves its upper-bound cost on the team's month right before its call,
 *   inside its concurrency slot. Without room it waits while other jobs' reservations are
 *   outstanding (they settle at their real, smaller cost and give the rest back); it is
 *   skipped only when what is spent leaves no room, with a reason naming the cap, the spend and
 *   what would let it run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobItem } from '../ports/jobs';
import { monthOf } from '../ports/ledger';
import { formatUsd } from '../pricing/estimate';
import type { BatchRef } from '../types';
import type { WorkJob } from './messages';
import type { WorkerDeps } from './types';

/** Budget a job holds while it runs. */
export interface Reservation {
  nanoUsd: number;
  month: string;
}

export type Admission =
  /** Send it (once the budget admits it, see reserveBudget). */
  | { kind: 'run' }
  /** An earlier identical request's output was copied: end it reused. */
  | { kind: 'reused'; responseId: string }
  /** Not now: give it back uncounted; `notBefore` (epoch ms) when waiting is known to end. */
  | { kind: 'wait'; why: string; notBefore?: number };

/** Exact dollars (every significant digit): a budget message never rounds money away. */
const usd = (nano: number) => formatUsd(nano);

/**
 * Decides a claimed job before its request is read: served by an identical request answered
 * meanwhile, waiting for one in flight elsewhere, or to be run (this job now marks the request
 * as in flight; the caller ends the mark). `lastChance` is true on a message's last deliveries
 * before its DLQ: the job then stops waiting and runs, so nothing is lost to the DLQ.
 */
export async function admit(
  job: WorkJob,
  ctx: { batch: BatchRef; lastChance: boolean },
  deps: WorkerDeps,
): Promise<Admission> {
  const now = deps.clock.now();
  const reuse = await deps.jobs.getReuse(job.requestHash, now);
  if (
    reuse &&
    reuse.outputKey !== job.outputKey &&
    (await deps.objects.copy(reuse.outputKey, job.outputKey))
  )
    return { kind: 'reused', responseId: reuse.responseId };
  const hold = await deps.jobs.holdRequest(
    job.requestHash,
    { team: ctx.batch.team, batchId: ctx.batch.batchId, jobId: job.jobId },
    now.getTime() + deps.settings.leaseMs,
    now,
  );
  if (hold.held || ctx.lastChance) return { kind: 'run' };
  return {
    kind: 'wait',
    why: `an identical request is being sent by ${hold.by.team}/${hold.by.batchId}`,
    notBefore: hold.untilMs,
  };
}

/** The team's budget has no room for the job and nothing reserved will come back: skip it. */
export class BudgetExhaustedError extends Error {
  override name = 'BudgetExhaustedError';
}

/** The budget is held by running jobs and this invocation cannot wait longer: come back later. */
export class BudgetBusyError extends Error {
  override name = 'BudgetBusyError';
}

/**
 * Reserves the job's upper-bound cost on the team's month, right before its call. Without room,
 * it waits while other jobs' reservations are outstanding (they settle at their real, smaller
 * cost and give the rest back), polling every `pollMs` until `waitUntil` (epoch ms), then
 * throws BudgetBusyError; with nothing outstanding (or `lastChance`) it throws
 * BudgetExhaustedError, whose message names the cap, the spend and what would let it run.
 */
export async function reserveBudget(
  job: WorkJob,
  claimed: Pick<JobItem, 'reservedNanoUsd' | 'reservedMonth'>,
  ctx: { batch: BatchRef; owner: string; lastChance: boolean; waitUntil: number; pollMs: number },
  deps: WorkerDeps,
): Promise<Reservation> {
  const team = ctx.batch.team;
  // Taken over from a worker that died holding a reservation: it is still this job's.
  if (claimed.reservedNanoUsd > 0)
    return {
      nanoUsd: claimed.reservedNanoUsd,
      month: claimed.reservedMonth ?? monthOf(deps.clock.now().toISOString()),
    };
  const reservation = await reserveAmount(
    job.estimateNanoUsd,
    {
      ...ctx,
      what: 'this job',
      remedy: 'or lower maxOutputTokens (or max_tokens) so jobs reserve less',
    },
    deps,
  );
  if (!(await deps.jobs.setReservation(ctx.batch, job.jobId, ctx.owner, reservation))) {
    // The lease was lost meanwhile: the new owner reserves for itself.
    await deps.ledger.release(team, reservation.month, reservation.nanoUsd);
    throw new BudgetBusyError('the job was taken over while it reserved');
  }
  return reservation;
}

/**
 * Reserves `nanoUsd` of the team's month before a billed call (a job's, a warm-up's or a cache
 * probe's): every call reserves its worst case, so the granted calls never take the team past
 * its cap. Without room it waits while other reservations are outstanding, polling every
 * `pollMs` until `waitUntil`, then throws BudgetBusyError; with nothing outstanding (or
 * `lastChance`) it throws BudgetExhaustedError naming the cap, the spend, `what` needed it and
 * what would let it run.
 */
export async function reserveAmount(
  nanoUsd: number,
  ctx: {
    batch: BatchRef;
    lastChance: boolean;
    waitUntil: number;
    pollMs: number;
    /** What reserves, for the reason: `this job`, `this group's cache probe`. */
    what: string;
    /** What else would let it run, after raising the budget. */
    remedy: string;
  },
  deps: WorkerDeps,
): Promise<Reservation> {
  const team = ctx.batch.team;
  const cap = deps.settings.budgets[team];
  for (;;) {
    const month = monthOf(deps.clock.now().toISOString());
    // The cap is written once a month and when it changes, not before every job: a
    // consistent read costs a fifth of a write.
    if (cap !== undefined && (await deps.ledger.budget(team, month))?.capNanoUsd !== cap)
      await deps.ledger.setBudget(team, month, cap);
    if (await deps.ledger.reserve(team, month, nanoUsd)) return { nanoUsd, month };
    const budget = await deps.ledger.budget(team, month);
    const spent = budget?.spentNanoUsd ?? 0;
    const reserved = Math.max(0, (budget?.committedNanoUsd ?? 0) - spent);
    const limit = budget?.capNanoUsd ?? cap ?? 0;
    if (reserved === 0 || ctx.lastChance)
      throw new BudgetExhaustedError(
        `team ${team}'s monthly budget of ${usd(limit)} for ${month} has ${usd(Math.max(0, limit - spent - reserved))} left (${usd(spent)} spent, ${usd(reserved)} reserved by running jobs) and ${ctx.what} may cost up to ${usd(nanoUsd)}: raise budgets.${team} to at least ${usd(spent + reserved + nanoUsd)}, ${ctx.remedy}`,
      );
    if (deps.clock.now().getTime() + ctx.pollMs >= ctx.waitUntil)
      throw new BudgetBusyError(
        `team ${team}'s budget of ${usd(limit)} for ${month} is held by running jobs (${usd(spent)} spent, ${usd(reserved)} reserved); ${ctx.what} needs up to ${usd(nanoUsd)}`,
      );
    await sleep(ctx.pollMs);
  }
}
