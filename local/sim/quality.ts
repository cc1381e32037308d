import { hashString } from './prng';

/**
 * How good the simulated model's tests are. For JS/TS sources the simulator writes real test
 * files that pass when run; a seeded fraction of them is broken (a syntax error, a wrong import
 * or a failing assertion), and a repair request (one that carries the failure output after the
 * model's previous answer) fixes a broken test with a seeded probability. Decisions are hashes of
 * (seed, model, path, round), not draws from the fault generator, so they do not depend on the
 * order requests arrive in, and a test can compute what the simulator will do.
 */
export interface QualityRates {
  /** Probability that a first answer (a test file) is broken. */
  brokenTestRate: number;
  /** Probability that a repair request returns a fixed test. */
  repairSuccessRate: number;
}

export interface SimQuality extends QualityRates {
  /** Per model id (as requested), rates that replace the defaults: a shadow run then differs. */
  byModel: Record<string, Partial<QualityRates>>;
}

export const DEFAULT_QUALITY: SimQuality = { brokenTestRate: 0, repairSuccessRate: 1, byModel: {} };

/** How a broken test is broken. */
export const BREAKS = ['syntax', 'import', 'assertion'] as const;
export type BreakKind = (typeof BREAKS)[number];

/** The rates that apply to a model. */
export function ratesFor(quality: SimQuality, model: string): QualityRates {
  const own = quality.byModel[model] ?? {};
  return {
    brokenTestRate: own.brokenTestRate ?? quality.brokenTestRate,
    repairSuccessRate: own.repairSuccessRate ?? quality.repairSuccessRate,
  };
}

/** A uniform number in [0, 1) from the seed and the parts, the same on every run. */
export function qualityDraw(seed: number, ...parts: readonly (string | number)[]): number {
  return hashString([String(seed), ...parts.map(String)].join('\0')) / 4_294_967_296;
}

/**
 * Whether the answer of round `round` (0: the first answer, k: the k-th repair) for `path` is
 * broken: a first answer with probability brokenTestRate; a repair of a broken answer stays
 * broken with probability 1 - repairSuccessRate. A repair of an answer that was not broken
 * (the caller's test command failed for its own reasons) is left as it was: not broken.
 */
export function isBrokenAt(
  quality: SimQuality,
  seed: number,
  model: string,
  path: string,
  round: number,
): boolean {
  const rates = ratesFor(quality, model);
  if (round === 0) return qualityDraw(seed, model, path, 'broken') < rates.brokenTestRate;
  if (!isBrokenAt(quality, seed, model, path, round - 1)) return false;
  return qualityDraw(seed, model, path, 'repair', round) >= rates.repairSuccessRate;
}

/** Which way an answer is broken (chosen per round, so a failed repair may break differently). */
export function breakKindAt(seed: number, model: string, path: string, round: number): BreakKind {
  const i = Math.floor(qualityDraw(seed, model, path, 'kind', round) * BREAKS.length);
  return BREAKS[Math.min(i, BREAKS.length - 1)] as BreakKind;
}
