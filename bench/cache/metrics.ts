/**
 * The cache benchmark's arithmetic: what a run cost, what the best possible run would cost, and
 * the ratios that compare strategies. Pure functions over token counts; money in integer nano-USD.
 */
import { type CacheModel, UNIT_TOKENS } from '../../local/sim/cache';
import { nanoToUsd } from '../../shared/pricing/estimate';
import type { Usage } from '../../shared/types';

/** Cost of one billed response in integer nano-USD; throws for a model it cannot price. */
export type Pricer = (model: string, at: Date, usage: Usage) => number;

/** Prefix tokens the provider can bill as hits: whole 64-token units under the older rule. */
export function cacheablePrefixTokens(prefixTokens: number, cacheModel: CacheModel): number {
  return cacheModel === 'units64'
    ? Math.floor(prefixTokens / UNIT_TOKENS) * UNIT_TOKENS
    : prefixTokens;
}

/** A group's true token shape: its prefix and each job's whole prompt. */
export interface GroupShape {
  model: string;
  prefixTokens: number;
  jobPromptTokens: readonly number[];
}

/**
 * The least input cost a group can be served for: the prefix paid once at the miss price and
 * at the hit price for every other job (its cacheable part; under `units64` the part past the
 * last whole unit stays at the miss price), plus every job's unique part at the miss price.
 * Priced per request with the same pricer as the runs, so rounding matches.
 */
export function optimumInputCostNano(
  groups: readonly GroupShape[],
  cacheModel: CacheModel,
  price: Pricer,
  at: Date,
): number {
  let total = 0;
  for (const group of groups) {
    const cached = cacheablePrefixTokens(group.prefixTokens, cacheModel);
    for (const [i, prompt] of group.jobPromptTokens.entries()) {
      if (prompt < group.prefixTokens)
        throw new RangeError(`a job prompt (${prompt}) is shorter than its prefix`);
      const hit = i === 0 ? 0 : cached;
      total += price(group.model, at, {
        promptHitTokens: hit,
        promptMissTokens: prompt - hit,
        completionTokens: 0,
        reasoningTokens: 0,
      });
    }
  }
  return total;
}

export interface Tally {
  requests: number;
  hitTokens: number;
  missTokens: number;
  outputTokens: number;
  /** Sum over responses of their prompt tokens' cost. */
  inputCostNano: number;
  /** Sum over responses of their whole cost. */
  totalCostNano: number;
}

/** Adds up billed responses of one model, each priced at `at`. */
export function tally(usages: readonly Usage[], model: string, price: Pricer, at: Date): Tally {
  const out: Tally = {
    requests: 0,
    hitTokens: 0,
    missTokens: 0,
    outputTokens: 0,
    inputCostNano: 0,
    totalCostNano: 0,
  };
  for (const usage of usages) {
    out.requests++;
    out.hitTokens += usage.promptHitTokens;
    out.missTokens += usage.promptMissTokens;
    out.outputTokens += usage.completionTokens;
    out.inputCostNano += price(model, at, { ...usage, completionTokens: 0, reasoningTokens: 0 });
    out.totalCostNano += price(model, at, usage);
  }
  return out;
}

/** `value / base`, rounded to 4 decimals for reporting. */
export function ratio(value: number, base: number): number {
  if (!(base > 0)) throw new RangeError('a ratio needs a positive base');
  return Math.round((value / base) * 10_000) / 10_000;
}

/** Total cost per 1,000 jobs, in USD. */
export function costPer1000Usd(totalCostNano: number, jobs: number): number {
  if (!(jobs > 0)) throw new RangeError('cost per 1,000 jobs needs at least one job');
  return nanoToUsd((totalCostNano * 1000) / jobs);
}

/** Simulated seconds from a measured duration: every simulated delay was multiplied by timeScale. */
export function simulatedSeconds(elapsedMs: number, timeScale: number): number {
  if (!(timeScale > 0)) throw new RangeError('timeScale must be positive to convert wall time');
  return elapsedMs / timeScale / 1000;
}
