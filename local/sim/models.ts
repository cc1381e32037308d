import type { Usage } from '../../shared/types';

/**
 * The models the simulator serves, and what it charges for them.
 *
 * The project's price catalog (shared/pricing) is the source of truth for prices; until the
 * simulator is wired to it, this table mirrors the DeepSeek rows of the team's facts sheet so the
 * simulator bills exactly what the catalog will. Prices are integer micro-USD per million tokens.
 */

export interface SimModel {
  id: string;
  /** Prompt tokens the model accepts; longer prompts answer 400. */
  contextTokens: number;
  /** Reasoning models return `reasoning_content` and count reasoning tokens as output. */
  reasoning: boolean;
}

interface PriceRow {
  model: string;
  from: string;
  until?: string;
  hit: number;
  miss: number;
  output: number;
  /** Peak prices, when the provider has peak windows (the off-peak prices are the row's own). */
  peak?: { hit: number; miss: number; output: number };
}

const K128 = 131_072;
const M1 = 1_048_576;

export const SIM_MODELS: readonly SimModel[] = [
  { id: 'deepseek-chat', contextTokens: K128, reasoning: false },
  { id: 'deepseek-reasoner', contextTokens: K128, reasoning: true },
  { id: 'deepseek-v4-flash', contextTokens: M1, reasoning: false },
  { id: 'deepseek-v4-pro', contextTokens: M1, reasoning: false },
  { id: 'deepseek-flash', contextTokens: M1, reasoning: false },
];

const PRICES: readonly PriceRow[] = [
  {
    model: 'deepseek-chat',
    from: '2025-09-29T00:00:00Z',
    until: '2026-07-24T16:00:00Z',
    hit: 28_000,
    miss: 280_000,
    output: 420_000,
  },
  {
    model: 'deepseek-reasoner',
    from: '2025-09-29T00:00:00Z',
    until: '2026-07-24T16:00:00Z',
    hit: 28_000,
    miss: 280_000,
    output: 420_000,
  },
  {
    model: 'deepseek-v4-flash',
    from: '2026-04-24T00:00:00Z',
    hit: 2_800,
    miss: 140_000,
    output: 280_000,
  },
  {
    model: 'deepseek-v4-pro',
    from: '2026-04-24T00:00:00Z',
    hit: 3_625,
    miss: 435_000,
    output: 870_000,
  },
  {
    model: 'deepseek-flash',
    from: '2026-04-24T00:00:00Z',
    hit: 3_000,
    miss: 150_000,
    output: 600_000,
    peak: { hit: 6_000, miss: 300_000, output: 1_200_000 },
  },
];

/** A model the simulator does not serve at the given time; the server answers 400. */
export class UnknownModelError extends Error {
  override name = 'UnknownModelError';
  constructor(
    readonly model: string,
    options?: { cause?: unknown },
  ) {
    super(`Model Not Exist: ${model}`, options);
  }
}

/** Looks a served model up by id; throws UnknownModelError for any other id. */
export function findModel(id: string): SimModel {
  const model = SIM_MODELS.find((m) => m.id === id);
  if (!model) throw new UnknownModelError(id);
  return model;
}

// DeepSeek's peak windows: 01:00-04:00 and 06:00-10:00 UTC, Monday to Friday (public holidays
// in China are not modelled).
function isPeak(at: Date): boolean {
  const day = at.getUTCDay();
  if (day === 0 || day === 6) return false;
  const hour = at.getUTCHours();
  return (hour >= 1 && hour < 4) || (hour >= 6 && hour < 10);
}

/**
 * Cost of one billed response in integer nano-USD: tokens times micro-USD-per-million prices
 * is exact in pico-USD, rounded once (half up). Throws UnknownModelError when no price row is in
 * force at `at`: an unpriced model is never served for free.
 */
export function responseCostNanoUsd(model: string, at: Date, usage: Usage): number {
  const t = at.getTime();
  const row = PRICES.find(
    (p) =>
      p.model === model &&
      Date.parse(p.from) <= t &&
      (p.until === undefined || t < Date.parse(p.until)),
  );
  if (!row) throw new UnknownModelError(model);
  const price = row.peak && isPeak(at) ? row.peak : row;
  const pico =
    BigInt(usage.promptHitTokens) * BigInt(price.hit) +
    BigInt(usage.promptMissTokens) * BigInt(price.miss) +
    BigInt(usage.completionTokens) * BigInt(price.output);
  return Number((pico + 500n) / 1000n);
}
