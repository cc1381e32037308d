/**
 * Whether a group is worth warming, decided by what warming is expected to save.
 *
 * Sent at once, n jobs of a group each pay the shared prefix at the miss price: n x P x miss.
 * Warmed, a probe pays it once at the miss price (plus one output token), and the n jobs pay it
 * at the hit price: P x miss + out + n x P x hit. A check probe (sent after the warm-up to see
 * that the cache serves) adds P x hit + out. Warming pays when the difference is positive; a
 * group of one never gains (its one request builds nothing another one reuses), and a prefix
 * under one cache unit (64 tokens) cannot be served from the cache at all.
 *
 * The check is a matter of time more than money (it is one request at the hit price): it holds
 * the group for a settle and a round trip before fanning out, and takes a request slot. It is
 * sent only for groups large enough that a warm-up that failed unnoticed would cost more than
 * that: `verifyMinJobs` and up.
 *
 * A group with more than one job that is not worth a probe (a prefix too short for the probe
 * to pay for its output token) runs its first job alone and the rest after it, which costs no
 * extra request and lets the rest hit what the first one left in the cache.
 */

/** DeepSeek's documented cache unit: a prefix shorter than this is never served from the cache. */
export const CACHE_UNIT_TOKENS = 64;

/** Prices of the group's model, micro-USD per million tokens (the catalog's unit). */
export interface GroupPrices {
  hit: number;
  miss: number;
  output: number;
}

/**
 * Used when the caller gives no prices: DeepSeek's least favourable published ratios (a hit a
 * tenth of a miss, output one and a half times a miss), so that a decision taken without prices
 * warms no less often than one taken with them.
 */
export const FALLBACK_PRICES: GroupPrices = { hit: 28_000, miss: 280_000, output: 420_000 };

export type WarmupPlan =
  | { mode: 'prefix-probe'; verify: boolean; savingPicoUsd: number; reason: string }
  | { mode: 'first-alone'; reason: string }
  | { mode: 'none'; reason: string };

export interface WarmupInput {
  /** Jobs that will use the prefix: this call's and those of the group's later messages. */
  jobs: number;
  /** Tokens of the shared prefix. */
  prefixTokens: number;
  prices?: GroupPrices;
  /** Groups of at least this many jobs check that the cache serves before fanning out. */
  verifyMinJobs: number;
}

/** Decides how to warm a group from its size, its prefix and its model's prices. */
export function decideWarmup(input: WarmupInput): WarmupPlan {
  const { jobs: n, prefixTokens: p } = input;
  const { hit, miss, output } = input.prices ?? FALLBACK_PRICES;
  if (n <= 1) return { mode: 'none', reason: 'one job: nothing to share' };
  if (p < CACHE_UNIT_TOKENS)
    return { mode: 'none', reason: `prefix of ${p} tokens: under one cache unit` };
  // micro-USD per million tokens x tokens = pico-USD.
  const unwarmed = n * p * miss;
  const warmed = p * miss + output + n * p * hit;
  const saving = unwarmed - warmed;
  if (saving <= 0)
    return {
      mode: 'first-alone',
      reason: `a probe would cost more than it saves (${saving} pico-USD): first job alone, then the rest`,
    };
  const verify = n >= input.verifyMinJobs;
  return {
    mode: 'prefix-probe',
    verify,
    savingPicoUsd: saving - (verify ? p * hit + output : 0),
    reason: `${n} jobs share ${p} prefix tokens: warming saves about ${saving} pico-USD${verify ? '' : `; under ${input.verifyMinJobs} jobs, not checked`}`,
  };
}
