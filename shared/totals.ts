/**
 * Token and money totals: one shape for every place that adds billed responses up (batch items
 * and monthly roll-ups in the ledger, the CLI's chargeback report, the DeepSeek simulator's own
 * billing), and the one arithmetic they share. Money is integer nano-USD.
 */
import type { Usage } from './types';

/**
 * The fields of a total, in the order reports print them; each is an ADD counter in DynamoDB.
 * `warmupRequests` and `warmupCostNanoUsd` are the pipeline's own overhead within `requests` and
 * `costNanoUsd`: warm-ups, cache probes and attempts the client discarded, everything billed
 * that is not a job's answer. The counterfactual counts job answers only: a run on the reference
 * model would send none of the overhead.
 */
export const TOTAL_FIELDS = [
  'requests',
  'hitTokens',
  'missTokens',
  'outputTokens',
  'reasoningTokens',
  'costNanoUsd',
  'counterfactualNanoUsd',
  'warmupRequests',
  'warmupCostNanoUsd',
  // Of the above, what reconciled `billed_unrecorded` records hold: estimates, not bills.
  'estimatedRequests',
  'estimatedCostNanoUsd',
  // Not in costNanoUsd (the provider's bill): the estimated AWS cost of the pipeline's own
  // requests and functions, one ledger line per batch (purpose `aws`). Model + AWS = total.
  'awsCostNanoUsd',
] as const;
export type TotalField = (typeof TOTAL_FIELDS)[number];
export type Totals = Record<TotalField, number>;

/**
 * What a provider bills: totals without the counterfactual, the overhead split and the estimates,
 * which only the ledger computes (the simulator plays the provider, so it reports these).
 */
export type BilledTotals = Omit<
  Totals,
  | 'counterfactualNanoUsd'
  | 'warmupRequests'
  | 'warmupCostNanoUsd'
  | 'estimatedRequests'
  | 'estimatedCostNanoUsd'
  | 'awsCostNanoUsd'
>;

/** Totals of nothing. */
export function zeroTotals(): Totals {
  return Object.fromEntries(TOTAL_FIELDS.map((f) => [f, 0])) as Totals;
}

/** Billed totals of nothing. */
export function zeroBilledTotals(): BilledTotals {
  const {
    counterfactualNanoUsd: _c,
    warmupRequests: _w,
    warmupCostNanoUsd: _wc,
    estimatedRequests: _r,
    estimatedCostNanoUsd: _e,
    awsCostNanoUsd: _a,
    ...billed
  } = zeroTotals();
  return billed;
}

/** Share of the cost that was overhead (warm-ups, probes, discarded attempts); 0 when nothing was spent. */
export function warmupShare(t: Pick<Totals, 'costNanoUsd' | 'warmupCostNanoUsd'>): number {
  return t.costNanoUsd === 0
    ? 0
    : Math.round((t.warmupCostNanoUsd / t.costNanoUsd) * 10_000) / 10_000;
}

/** What the work saved against the reference model: its counterfactual minus everything paid, overhead included. */
export function savingsNanoUsd(t: Pick<Totals, 'costNanoUsd' | 'counterfactualNanoUsd'>): number {
  return t.counterfactualNanoUsd - t.costNanoUsd;
}

/** Adds `from` into `into`, field by field over the fields `into` has; returns `into`. */
export function addTotals<T extends Partial<Totals>>(into: T, from: Partial<Totals>): T {
  for (const field of TOTAL_FIELDS)
    if (into[field] !== undefined)
      (into as Partial<Totals>)[field] = (into[field] ?? 0) + (from[field] ?? 0);
  return into;
}

/**
 * The totals of one billed response. `overhead` when it is not a job's answer (a warm-up, a
 * probe, a discarded attempt); `estimated` for a reconciled `billed_unrecorded` record, whose
 * usage and cost are an upper-bound estimate.
 */
export function totalsOfResponse(
  usage: Usage,
  costNanoUsd: number,
  counterfactualNanoUsd: number,
  marks: { overhead?: boolean; estimated?: boolean } = {},
): Totals {
  const { overhead = false, estimated = false } = marks;
  return {
    requests: 1,
    hitTokens: usage.promptHitTokens,
    missTokens: usage.promptMissTokens,
    outputTokens: usage.completionTokens,
    reasoningTokens: usage.reasoningTokens,
    costNanoUsd,
    counterfactualNanoUsd,
    warmupRequests: overhead ? 1 : 0,
    warmupCostNanoUsd: overhead ? costNanoUsd : 0,
    estimatedRequests: estimated ? 1 : 0,
    estimatedCostNanoUsd: estimated ? costNanoUsd : 0,
    awsCostNanoUsd: 0,
  };
}

/** The totals of a batch's AWS line: its estimate, apart from the model cost and its tokens. */
export function totalsOfAwsLine(awsCostNanoUsd: number): Totals {
  return { ...zeroTotals(), awsCostNanoUsd };
}

/** Model cost plus the estimated AWS cost: what a team is charged back in all. */
export function totalCostNanoUsd(t: Pick<Totals, 'costNanoUsd' | 'awsCostNanoUsd'>): number {
  return t.costNanoUsd + t.awsCostNanoUsd;
}
