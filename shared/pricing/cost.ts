/**
 * Pricing a request: which catalog row applies at a time, and what a usage costs on it.
 *
 * Money is integers. Prices are micro-USD per million tokens, so tokens x price is exact in
 * pico-USD; the sum is rounded once, half up, to integer nano-USD, the unit of every stored
 * cost. BigInt carries the exact sum, which can pass 2^53 long before the result does.
 */

import type { Usage } from '../types';
import { CATALOG, DEFAULT_REFERENCE_MODEL, type PeakSchedule, type PriceRow } from './catalog';

/** The model is in no row of the catalog. */
export class UnknownModelError extends Error {
  override readonly name = 'UnknownModelError';
  readonly model: string;
  readonly knownModels: readonly string[];

  constructor(model: string, knownModels: readonly string[], options?: ErrorOptions) {
    super(`Unknown model "${model}"; known models: ${knownModels.join(', ')}`, options);
    this.model = model;
    this.knownModels = knownModels;
  }
}

/** The model is in the catalog, but no row of it is in force at that time. */
export class ModelNotInForceError extends Error {
  override readonly name = 'ModelNotInForceError';
  readonly model: string;
  readonly at: Date;
  readonly modelsInForce: readonly string[];

  constructor(model: string, at: Date, modelsInForce: readonly string[], options?: ErrorOptions) {
    super(
      `Model "${model}" is not priced at ${at.toISOString()} (retired or not yet in force); ` +
        `models in force then: ${modelsInForce.length > 0 ? modelsInForce.join(', ') : 'none'}`,
      options,
    );
    this.model = model;
    this.at = at;
    this.modelsInForce = modelsInForce;
  }
}

/** The prices that apply to one request, micro-USD per million tokens. */
export interface ResolvedPrice {
  model: string;
  hit: number;
  miss: number;
  output: number;
  /** Whether the peak prices apply at that time. */
  peak: boolean;
  row: PriceRow;
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

function inForce(row: PriceRow, t: number): boolean {
  return (
    Date.parse(row.effectiveFrom) <= t &&
    (row.effectiveUntil === undefined || t < Date.parse(row.effectiveUntil))
  );
}

/** `YYYY-MM-DD` and weekday (0 = Sunday) of an instant in China Standard Time (UTC+8). */
function chinaDay(at: Date): { date: string; weekday: number } {
  const shifted = new Date(at.getTime() + 8 * 3_600_000);
  return { date: shifted.toISOString().slice(0, 10), weekday: shifted.getUTCDay() };
}

/** Whether a peak schedule's prices apply at an instant. */
export function isPeak(schedule: PeakSchedule, at: Date): boolean {
  const hour = at.getUTCHours();
  if (!schedule.windows.some((w) => w.startHourUtc <= hour && hour < w.endHourUtc)) return false;
  const { date, weekday } = chinaDay(at);
  if (weekday === 0 || weekday === 6) return false;
  return !schedule.holidays.includes(date);
}

/** Every model id in the catalog, sorted. */
export function knownModels(catalog: readonly PriceRow[] = CATALOG): string[] {
  return [...new Set(catalog.map((r) => r.model))].sort();
}

/** The model ids that have a row in force at an instant, sorted. */
export function modelsInForce(at: Date, catalog: readonly PriceRow[] = CATALOG): string[] {
  const t = at.getTime();
  return [...new Set(catalog.filter((r) => inForce(r, t)).map((r) => r.model))].sort();
}

/**
 * The prices of `model` at instant `at`: the catalog row in force then, at its peak prices
 * if `at` falls in a peak window.
 * @throws UnknownModelError if no row names the model (an unknown model is never free).
 * @throws ModelNotInForceError if the model is retired or not yet priced at `at`.
 */
export function resolvePrice(
  model: string,
  at: Date,
  catalog: readonly PriceRow[] = CATALOG,
): ResolvedPrice {
  const t = at.getTime();
  if (Number.isNaN(t)) throw new RangeError('Cannot price a request at an invalid date');
  const rows = catalog.filter((r) => r.model === model);
  if (rows.length === 0) throw new UnknownModelError(model, knownModels(catalog));
  const row = rows.find((r) => inForce(r, t));
  if (row === undefined) throw new ModelNotInForceError(model, at, modelsInForce(at, catalog));
  const peak = row.peak !== undefined && isPeak(row.peak, at);
  const prices = peak && row.peak ? row.peak.prices : row;
  return { model, hit: prices.hit, miss: prices.miss, output: prices.output, peak, row };
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
export function costAtPrice(
  price: Pick<ResolvedPrice, 'hit' | 'miss' | 'output'>,
  usage: Usage,
): RequestCost {
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
 * What one billed response cost, in integer nano-USD, priced by the catalog row in force at
 * `at` (peak prices inside a peak window). Reasoning tokens are billed as output once: they
 * are part of `completionTokens`.
 * @throws UnknownModelError, ModelNotInForceError as `resolvePrice`.
 */
export function requestCost(
  model: string,
  at: Date,
  usage: Usage,
  catalog: readonly PriceRow[] = CATALOG,
): RequestCost {
  return costAtPrice(resolvePrice(model, at, catalog), usage);
}

/**
 * What the same tokens would have cost on a reference model (GPT-5.4 unless named), every
 * prompt token at its input (miss) price, in integer nano-USD; stored beside each cost so
 * savings are reported, not guessed.
 */
export function counterfactualNanoUsd(
  referenceModel: string | undefined,
  at: Date,
  usage: Usage,
  catalog: readonly PriceRow[] = CATALOG,
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
