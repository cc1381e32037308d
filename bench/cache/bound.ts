/**
 * A true lower bound on the input cost of a workload: what no strategy, warm-up or order can
 * beat under a cache model, computed from the workload's whole prompt tree (every job's rendered
 * token ids, across groups).
 *
 * A prompt token can be billed as a hit only if an earlier request held the same prefix up to
 * and including it; so every node of the combined prompt tree (every distinct prefix) is billed
 * at the miss price at least once, in whichever request first holds it, and every other use of it
 * is billed at least at the hit price. Warm-ups only add requests, so they cannot go below this.
 * Under `units64` a request hits whole 64-token units from token 0, so the argument runs over
 * the tree of whole units and every prompt's tail past its last whole unit is a miss. Under
 * `persisted-units` any prefix may become a unit, so the token tree is used as it is.
 *
 * The tree is never built: for prompts sorted lexicographically, the number of distinct prefixes
 * is the sum of lengths less the sum of each prompt's common prefix with the one before it, and
 * that common prefix is the part of the prompt the bound bills as a hit.
 *
 * With a miss rate p (the provider's best effort: a would-be hit misses whole), each job's hit
 * share misses with probability p, so the expected bound prices each job as
 * (1 - p) x its bound usage + p x its whole prompt at the miss price.
 */
import { type CacheModel, UNIT_TOKENS } from '../../local/sim/cache';
import type { Pricer } from './metrics';

/** One job's prompt as token ids, with the model it is sent to (caches are per model). */
export interface BoundPrompt {
  model: string;
  tokens: Int32Array;
}

function compare(a: Int32Array, b: Int32Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function commonPrefix(a: Int32Array, b: Int32Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** The hit tokens the bound grants each prompt (in input order): at most what any order allows. */
export function boundHitTokens(prompts: readonly BoundPrompt[], cacheModel: CacheModel): number[] {
  const hits = new Array<number>(prompts.length).fill(0);
  const byModel = new Map<string, number[]>();
  for (const [i, p] of prompts.entries()) {
    const list = byModel.get(p.model) ?? [];
    list.push(i);
    byModel.set(p.model, list);
  }
  for (const indices of byModel.values()) {
    indices.sort((a, b) =>
      compare((prompts[a] as BoundPrompt).tokens, (prompts[b] as BoundPrompt).tokens),
    );
    for (let k = 1; k < indices.length; k++) {
      const i = indices[k] as number;
      const lcp = commonPrefix(
        (prompts[indices[k - 1] as number] as BoundPrompt).tokens,
        (prompts[i] as BoundPrompt).tokens,
      );
      hits[i] = cacheModel === 'units64' ? Math.floor(lcp / UNIT_TOKENS) * UNIT_TOKENS : lcp;
    }
  }
  return hits;
}

export interface LowerBound {
  /** Expected input cost at the miss rate, nano-USD: no strategy's expected cost is lower. */
  inputCostNano: number;
  /** Prompt tokens billed as hits at a miss rate of 0. */
  hitTokens: number;
  /** Prompt tokens billed as misses at a miss rate of 0 (the distinct tokens of the tree). */
  missTokens: number;
}

/** The lower bound of a workload's input cost under a cache model and a miss rate. */
export function lowerBoundInputCost(
  prompts: readonly BoundPrompt[],
  cacheModel: CacheModel,
  price: Pricer,
  at: Date,
  missRate = 0,
): LowerBound {
  if (!(missRate >= 0 && missRate <= 1)) throw new RangeError('missRate must be within [0, 1]');
  const hits = boundHitTokens(prompts, cacheModel);
  let cost = 0;
  let hitTokens = 0;
  let missTokens = 0;
  for (const [i, p] of prompts.entries()) {
    const hit = hits[i] as number;
    const length = p.tokens.length;
    hitTokens += hit;
    missTokens += length - hit;
    const usage = (h: number) => ({
      promptHitTokens: h,
      promptMissTokens: length - h,
      completionTokens: 0,
      reasoningTokens: 0,
    });
    const served = price(p.model, at, usage(hit));
    const missed = hit > 0 && missRate > 0 ? price(p.model, at, usage(0)) : served;
    // Floored, so rounding can only lower the bound.
    cost += Math.floor((1 - missRate) * served + missRate * missed);
  }
  return { inputCostNano: cost, hitTokens, missTokens };
}
