/**
 * Confidence intervals for pass rates, so a comparison says how much its sample can tell.
 * Wilson's score interval for one proportion, and Newcombe's hybrid score intervals (his
 * "method 10") for the difference of two: independent samples (Newcombe 1998, Statistics in
 * Medicine 17:873-890) and paired ones, the same files judged under two models (Newcombe 1998,
 * Statistics in Medicine 17:2635-2650). No well-kept npm package offers these; the formulas are
 * short and tested against the papers' published values (test/quality/stats.test.ts).
 */

/** The normal quantile for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/** The playbook's sample for a quality comparison: 200+ outputs per task type. */
export const PLAYBOOK_SAMPLE_PER_TASK_TYPE = 200;

export interface Interval {
  lower: number;
  upper: number;
}

function counts(...values: number[]): void {
  for (const v of values)
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`counts must be non-negative integers, got ${v}`);
}

/** Wilson's score interval (no continuity correction) for `successes` of `n`; null when n = 0. */
export function wilson(successes: number, n: number, z = Z95): Interval | null {
  counts(successes, n);
  if (successes > n) throw new RangeError(`${successes} successes of ${n}`);
  if (n === 0) return null;
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}

/** A difference of proportions `p1 - p2` with its interval. */
export interface Difference extends Interval {
  difference: number;
}

/**
 * Newcombe's hybrid score interval for p1 - p2 of two independent samples: k1 of n1, k2 of n2.
 * Null when either sample is empty.
 */
export function newcombeIndependent(
  k1: number,
  n1: number,
  k2: number,
  n2: number,
  z = Z95,
): Difference | null {
  const a = wilson(k1, n1, z);
  const b = wilson(k2, n2, z);
  if (!a || !b) return null;
  const p1 = k1 / n1;
  const p2 = k2 / n2;
  const d = p1 - p2;
  return {
    difference: d,
    lower: Math.max(-1, d - Math.hypot(p1 - a.lower, b.upper - p2)),
    upper: Math.min(1, d + Math.hypot(a.upper - p1, p2 - b.lower)),
  };
}

/** A paired 2x2 table: how many items passed under both, only the first, only the second, neither. */
export interface PairedCounts {
  both: number;
  firstOnly: number;
  secondOnly: number;
  neither: number;
}

/**
 * Newcombe's hybrid score interval for p1 - p2 on paired data (each item judged under both),
 * with his correlation term: phi from (ad - bc), less n/2 when positive, 0 in between. Null when
 * there are no pairs.
 */
export function newcombePaired(t: PairedCounts, z = Z95): Difference | null {
  const { both: a, firstOnly: b, secondOnly: c, neither: d } = t;
  counts(a, b, c, d);
  const n = a + b + c + d;
  const first = wilson(a + b, n, z);
  const second = wilson(a + c, n, z);
  if (!first || !second) return null;
  const p1 = (a + b) / n;
  const p2 = (a + c) / n;
  const denominator = (a + b) * (c + d) * (a + c) * (b + d);
  const cross = a * d - b * c;
  const corrected = cross > n / 2 ? cross - n / 2 : Math.min(cross, 0);
  const phi = denominator === 0 ? 0 : corrected / Math.sqrt(denominator);
  const spread = (x: number, y: number) => Math.sqrt(Math.max(0, x * x - 2 * phi * x * y + y * y));
  // (b - c) / n is p1 - p2 without the rounding of two divisions.
  const diff = (b - c) / n;
  return {
    difference: diff,
    lower: Math.max(-1, diff - spread(p1 - first.lower, second.upper - p2)),
    upper: Math.min(1, diff + spread(first.upper - p1, p2 - second.lower)),
  };
}
