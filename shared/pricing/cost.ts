/**
 * Pricing a request: which catalog row applies at an instant (following aliases), at which tier,
 * and what a usage costs on it; and the dearest price a request could pay over an interval, for
 * reservations.
 *
 * Money is integers. Prices are micro-USD per million tokens, so tokens x price is exact in
 * pico-USD; the sum is rounded once, half up, to integer nano-USD, the unit of every stored
 * cost. BigInt carries the exact sum, which can pass 2^53 long before the result does.
 */

import type { Tier, Usage } from '../types';
import { DEFAULT_REFERENCE_MODEL } from './builtin';
import {
  type Catalog,
  defaultCatalog,
  isAlias,
  isPeakAt,
  isPeakRow,
  knownModels,
  modelsInForce,
  type PriceRow,
  rowAt,
  ruleAt,
} from './catalog';
import {
  HolidaysUnknownError,
  ModelNotInForceError,
  ModelRetiredError,
  PricingError,
  UnknownModelError,
} from './errors';
import type { TierPrices } from './schema';

export type { Tier };
export {
  HolidaysUnknownError,
  ModelNotInForceError,
  ModelRetiredError,
  PricingError,
  UnknownModelError,
};

/** The prices that apply to one request, micro-USD per million tokens. */
export interface ResolvedPrice extends TierPrices {
  /** The model as asked. */
  model: string;
  /** The model whose row priced it (differs from `model` through aliases). */
  billedAs: string;
  tier: Tier;
  /** The row whose prices apply. */
  row: PriceRow;
  /** Alias rows followed from `model` to `billedAs`, in order. */
  via: PriceRow[];
  /** Why the tier was assumed rather than known (peak, for want of a holiday list). */
  assumed?: string;
}

export interface ResolveOptions {
  /**
   * A weekday peak window in a year without a holiday list: throw HolidaysUnknownError (the
   * ledger, which must not guess), or take peak (estimates and reservations, which must not
   * undershoot). Default throw.
   */
  holidaysUnknown?: 'throw' | 'peak';
}

/**
 * A request's cost in integer nano-USD. `totalNanoUsd` is the cost: the exact sum rounded
 * once. The three components are each rounded on their own, for display only; they may
 * differ from the total by one nano-USD and must never be summed into a stored figure.
 */
export interface RequestCost {
  hitNanoUsd: number;
  missNanoUsd: number;
  outputNanoUsd: number;
  totalNanoUsd: number;
}

const PICO_PER_NANO = 1000n;
/** Aliases may chain (deepseek-chat -> deepseek-v4-flash -> deepseek-flash), never loop. */
const MAX_ALIAS_DEPTH = 8;

function notPriced(catalog: Catalog, model: string, at: Date): PricingError {
  const rows = catalog.byModel.get(model) ?? [];
  if (rows.length === 0) return new UnknownModelError(model, knownModels(catalog));
  const t = at.getTime();
  const inForceNow = modelsInForce(catalog, t);
  const lastEnd = Math.max(...rows.map((r) => r.untilMs));
  if (lastEnd <= t) return new ModelRetiredError(model, at, new Date(lastEnd), inForceNow);
  return new ModelNotInForceError(model, at, inForceNow);
}

/**
 * The prices of `model` at instant `at`: the row in force then (the highest source's), through
 * any alias, at its peak prices when its peak rule bills `at` at peak.
 * @throws UnknownModelError, ModelRetiredError, ModelNotInForceError, HolidaysUnknownError.
 */
export function resolvePrice(
  model: string,
  at: Date,
  catalog: Catalog = defaultCatalog(),
  options: ResolveOptions = {},
): ResolvedPrice {
  const t = at.getTime();
  if (Number.isNaN(t)) throw new RangeError('Cannot price a request at an invalid date');
  const via: PriceRow[] = [];
  let current = model;
  for (;;) {
    const row = rowAt(catalog, current, t);
    if (!row) throw notPriced(catalog, current, at);
    if (isAlias(row)) {
      via.push(row);
      if (via.length > MAX_ALIAS_DEPTH)
        throw new RangeError(`aliases of ${model} loop: ${via.map((r) => r.id).join(' -> ')}`);
      current = row.billedAs;
      continue;
    }
    const base = { model, billedAs: current, row, via };
    if (!isPeakRow(row)) return { ...base, ...row.flat, tier: 'flat' };
    const rule = ruleAt(catalog, row.peakRule, t);
    if (!rule) throw new RangeError(`${row.id}: peak rule ${row.peakRule} not in force`);
    try {
      const peak = isPeakAt(catalog, rule, t);
      return { ...base, ...(peak ? row.peak : row.offPeak), tier: peak ? 'peak' : 'off-peak' };
    } catch (err) {
      if (!(err instanceof HolidaysUnknownError) || options.holidaysUnknown !== 'peak') throw err;
      return { ...base, ...row.peak, tier: 'peak', assumed: err.message };
    }
  }
}

function tokenCount(name: string, value: number): bigint {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer token count, got ${value}`);
  }
  return BigInt(value);
}

/** Rounds exact pico-USD to nano-USD, half up, and checks it still fits a safe number. */
function picoToNano(pico: bigint): number {
  const nano = Number((pico + PICO_PER_NANO / 2n) / PICO_PER_NANO);
  if (!Number.isSafeInteger(nano)) {
    throw new RangeError(`Cost of ${pico} pico-USD does not fit a safe integer of nano-USD`);
  }
  return nano;
}

/** Cost of usage at resolved prices; see `requestCost`. */
export function costAtPrice(price: TierPrices, usage: Usage): RequestCost {
  // completionTokens already includes reasoningTokens: billing both would count reasoning twice.
  const hit = tokenCount('promptHitTokens', usage.promptHitTokens) * BigInt(price.hit);
  const miss = tokenCount('promptMissTokens', usage.promptMissTokens) * BigInt(price.miss);
  const output = tokenCount('completionTokens', usage.completionTokens) * BigInt(price.output);
  return {
    hitNanoUsd: picoToNano(hit),
    missNanoUsd: picoToNano(miss),
    outputNanoUsd: picoToNano(output),
    totalNanoUsd: picoToNano(hit + miss + output),
  };
}

/**
 * What one billed response cost, in integer nano-USD, priced by the row in force at `at`.
 * Reasoning tokens are billed as output once: they are part of `completionTokens`.
 * @throws as `resolvePrice`.
 */
export function requestCost(
  model: string,
  at: Date,
  usage: Usage,
  catalog: Catalog = defaultCatalog(),
): RequestCost {
  return costAtPrice(resolvePrice(model, at, catalog), usage);
}

/**
 * What the same tokens would have cost on a reference model (GPT-5.4 unless named), every
 * prompt token at its input (miss) price, in integer nano-USD; stored beside each job's cost
 * so savings are reported, not guessed.
 */
export function counterfactualNanoUsd(
  referenceModel: string | undefined,
  at: Date,
  usage: Usage,
  catalog: Catalog = defaultCatalog(),
): number {
  const price = resolvePrice(referenceModel ?? DEFAULT_REFERENCE_MODEL, at, catalog);
  const prompt =
    tokenCount('promptHitTokens', usage.promptHitTokens) +
    tokenCount('promptMissTokens', usage.promptMissTokens);
  const allMiss: Usage = {
    promptHitTokens: 0,
    promptMissTokens: Number(prompt),
    completionTokens: usage.completionTokens,
    reasoningTokens: usage.reasoningTokens,
  };
  return costAtPrice(price, allMiss).totalNanoUsd;
}

const DAY_MS = 86_400_000;
/** Days after a change of rows or rules in which every weekday, and the end of any holiday run, occurs. */
const SCAN_DAYS = 16;

/** Instants at which the price of any model can change within [from, until). */
function changePoints(catalog: Catalog, from: number, until: number): number[] {
  const points = new Set<number>([from]);
  for (const r of [...catalog.rows, ...catalog.peakRules])
    for (const b of [r.fromMs, r.untilMs]) if (from < b && b < until) points.add(b);
  const starts = new Set<number>();
  for (const rule of catalog.peakRules)
    for (const w of rule.windowsUtc)
      starts.add((Number(w.from.slice(0, 2)) * 60 + Number(w.from.slice(3))) * 60_000);
  for (const p of [...points]) {
    const end = Math.min(until, p + SCAN_DAYS * DAY_MS);
    for (let day = Math.floor(p / DAY_MS) * DAY_MS; day < end; day += DAY_MS)
      for (const s of starts) if (day + s >= p && day + s < end) points.add(day + s);
  }
  return [...points].sort((a, b) => a - b);
}

const dearest = new WeakMap<Catalog, Map<string, ResolvedPrice>>();

/**
 * The dearest prices `model` can be billed at any instant of [from, until), each token class at
 * its highest: peak when a peak window can fall in the interval, the higher row when prices
 * change in it. A reservation priced so never undershoots the bill. A year without a holiday
 * list counts as peak.
 * @throws as `resolvePrice` at `from` when the model is priced at no instant of the interval.
 */
export function highestPrice(
  model: string,
  from: Date,
  until: Date,
  catalog: Catalog = defaultCatalog(),
): ResolvedPrice {
  const key = `${model}|${from.getTime()}|${until.getTime()}`;
  let memo = dearest.get(catalog);
  const known = memo?.get(key);
  if (known) return known;
  let best: ResolvedPrice | undefined;
  const end = Math.max(until.getTime(), from.getTime() + 1);
  for (const t of changePoints(catalog, from.getTime(), end)) {
    let p: ResolvedPrice;
    try {
      p = resolvePrice(model, new Date(t), catalog, { holidaysUnknown: 'peak' });
    } catch (err) {
      if (err instanceof PricingError) continue;
      throw err;
    }
    best =
      best === undefined
        ? p
        : {
            ...(p.output > best.output ? p : best),
            hit: Math.max(best.hit, p.hit),
            miss: Math.max(best.miss, p.miss),
            output: Math.max(best.output, p.output),
          };
  }
  if (!best) return resolvePrice(model, from, catalog);
  if (!memo) {
    memo = new Map();
    dearest.set(catalog, memo);
  }
  if (memo.size > 256) memo.clear();
  memo.set(key, best);
  return best;
}
