/**
 * Budget around the calls that are not a job's own answer: every billed call reserves before it
 * is sent, so the team's cap is a ceiling on everything billed (docs/pricing.md).
 *
 * - A warm-up or cache probe reserves its worst case (`probeWorstCase`); a group whose probe
 *   cannot reserve sends nothing (`probeBudget`).
 * - A call's billed responses settle against what it reserved, in order (`allotFrom`).
 * - A job taken over from a dead owner settles the lost call's estimate against the reservation
 *   that owner held, and reserves anew (`settleTakenOver`).
 */
import type { JobItem } from '../ports/jobs';
import { type CallReservation, type CostRecord, monthOf } from '../ports/ledger';
import type { Catalog } from '../pricing/catalog';
import { costAtPrice, highestPrice, resolvePrice } from '../pricing/cost';
import type { BatchRef } from '../types';
import { BudgetBusyError, BudgetExhaustedError, type Reservation, reserveAmount } from './admit';
import { reconcileAttempts } from './attempts';
import type { WorkerDeps } from './types';

/** Takes from `hold` what `rec` settles: its cost, or all that is left while it is unpriced. */
export const allotFrom =
  (hold: CallReservation | undefined) =>
  (rec: CostRecord): CallReservation | undefined => {
    if (!hold || hold.nanoUsd <= 0) return undefined;
    const part = rec.unpriced ? hold.nanoUsd : Math.min(hold.nanoUsd, rec.costNanoUsd);
    hold.nanoUsd -= part;
    return { nanoUsd: part, month: hold.month };
  };

/**
 * The most a warm-up or cache probe can cost: every prompt token a miss and `maxTokens` of
 * output, at the dearest price in force before the invocation's deadline (a year without a
 * holiday list counts as peak). A model no row prices throws: no call is sent unpriced.
 */
export function probeWorstCase(
  model: string,
  promptTokens: number,
  maxTokens: number,
  from: Date,
  until: Date,
  catalog: Catalog,
): number {
  const price = highestPrice(model, from, until, catalog);
  return costAtPrice(price, {
    promptHitTokens: 0,
    promptMissTokens: promptTokens,
    completionTokens: maxTokens,
    reasoningTokens: 0,
  }).totalNanoUsd;
}

/** The model's prices now, for the executor's warm-up decision; none when it cannot be priced. */
export function groupPricesAt(
  model: string,
  at: Date,
  catalog: Catalog,
): { prices?: { hit: number; miss: number; output: number } } {
  try {
    const { hit, miss, output } = resolvePrice(model, at, catalog, { holidaysUnknown: 'peak' });
    return { prices: { hit, miss, output } };
  } catch {
    return {};
  }
}

/**
 * A work message's probe budget. `reserve` reserves a probe's worst case before it is sent; once
 * a probe could not (no room), `check` stops every later call of the group: its jobs end
 * skipped with that reason, or are given back while other reservations are outstanding.
 */
export function probeBudget(
  ctx: { batch: BatchRef; lastChance: boolean; waitUntil: number; pollMs: number },
  deps: WorkerDeps,
) {
  let refused: BudgetExhaustedError | undefined;
  let waits: BudgetBusyError | undefined;
  return {
    /** Throws when the group's probe could not reserve: nothing more of it is sent. */
    check(): void {
      if (refused) throw refused;
      if (waits) throw new BudgetBusyError(waits.message);
    },
    async reserve(worstNanoUsd: number): Promise<Reservation> {
      try {
        return await reserveAmount(
          worstNanoUsd,
          {
            ...ctx,
            what: "this group's cache probe",
            remedy: 'or send the group without warming (executor.warmup none)',
          },
          deps,
        );
      } catch (err) {
        if (err instanceof BudgetExhaustedError)
          refused = new BudgetExhaustedError(
            `the group's cache probe could not reserve its worst case, so none of this message's jobs were sent: ${err.message}`,
          );
        else if (err instanceof BudgetBusyError) waits = err;
        throw refused ?? err;
      }
    },
  };
}

/**
 * A job taken over after its lease ran out: a call of the earlier owner may have been billed
 * and never recorded, and that owner's invocation has ended (a lease outlasts it), so its open
 * attempts are reconciled. The estimates settle against the reservation the dead owner still
 * held; what is left of it goes back, and the job (its `claimed` item updated in place) reserves
 * anew before its call, so the cap holds across crashes.
 */
export async function settleTakenOver(
  batch: BatchRef,
  claimed: JobItem,
  owner: string,
  now: Date,
  deps: WorkerDeps,
): Promise<void> {
  const month = claimed.reservedMonth ?? monthOf(now.toISOString());
  const held = { nanoUsd: claimed.reservedNanoUsd, month };
  const before = held.nanoUsd;
  if ((await reconcileAttempts(batch, claimed.jobId, deps, held)) === 0 || before === 0) return;
  if (held.nanoUsd > 0) await deps.ledger.release(batch.team, month, held.nanoUsd);
  await deps.jobs.setReservation(batch, claimed.jobId, owner, { nanoUsd: 0, month });
  claimed.reservedNanoUsd = 0;
}
