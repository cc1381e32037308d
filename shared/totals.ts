/**
 * Token and money totals: one shape for every place that adds billed responses up (batch items
 * and monthly roll-ups in the ledger, the CLI's chargeback report, the DeepSeek simulator's own
 * billing), and the one arithmetic they share. Money is integer nano-USD.
 */
import type { Usage } from './types';

/** The fields of a total, in the order reports print them; each is an ADD counter in DynamoDB. */
export const TOTAL_FIELDS = [
  'requests',
  'hitTokens',
  'missTokens',
  'outputTokens',
  'reasoningTokens',
  'costNanoUsd',
  'counterfactualNanoUsd',
  // Of the above, what reconciled `billed_unrecorded` records hold: estimates, not bills.
  'estimatedRequests',
  'estimatedCostNanoUsd',
] as const;
export type TotalField = (typeof TOTAL_FIELDS)[number];
export type Totals = Record<TotalField, number>;

/**
 * What a provider bills: totals without the counterfactual and the estimates, which only the
 * ledger has (the simulator plays the provider, so it reports these).
 */
export type BilledTotals = Omit<
  Totals,
  'counterfactualNanoUsd' | 'estimatedRequests' | 'estimatedCostNanoUsd'
>;

/** Totals of nothing. */
export function zeroTotals(): Totals {
  return Object.fromEntries(TOTAL_FIELDS.map((f) => [f, 0])) as Totals;
}

/** Billed totals of nothing. */
export function zeroBilledTotals(): BilledTotals {
  const {
    counterfactualNanoUsd: _c,
    estimatedRequests: _r,
    estimatedCostNanoUsd: _e,
    ...billed
  } = zeroTotals();
  return billed;
}

/** Adds `from` into `into`, field by field over the fields `into` has; returns `into`. */
export function addTotals<T extends Partial<Totals>>(into: T, from: Partial<Totals>): T {
  for (const field of TOTAL_FIELDS)
    if (into[field] !== undefined)
      (into as Partial<Totals>)[field] = (into[field] ?? 0) + (from[field] ?? 0);
  return into;
}

/** The totals of one billed response (`estimated`: a reconciled upper-bound estimate). */
export function totalsOfResponse(
  usage: Usage,
  costNanoUsd: number,
  counterfactualNanoUsd: number,
  estimated = false,
): Totals {
  return {
    estimatedRequests: estimated ? 1 : 0,
    estimatedCostNanoUsd: estimated ? costNanoUsd : 0,
    requests: 1,
    hitTokens: usage.promptHitTokens,
    missTokens: usage.promptMissTokens,
    outputTokens: usage.completionTokens,
    reasoningTokens: usage.reasoningTokens,
    costNanoUsd,
    counterfactualNanoUsd,
  };
}
