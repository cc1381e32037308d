import { describe, expect, it } from 'vitest';
import { newcombeIndependent, newcombePaired, wilson } from '../../shared/quality/stats';

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
const interval = (i: { lower: number; upper: number } | null) =>
  i === null ? null : [round4(i.lower), round4(i.upper)];

describe('wilson', () => {
  // Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (score, no CC).
  it.each([
    [81, 263, [0.2553, 0.3662]],
    [15, 148, [0.0624, 0.1605]],
    [0, 20, [0, 0.1611]],
    [1, 29, [0.0061, 0.1718]],
  ])("gives Newcombe's published interval for %i of %i", (k, n, expected) => {
    expect(interval(wilson(k, n))).toEqual(expected);
  });

  it('has no interval for an empty sample and refuses impossible counts', () => {
    expect(wilson(0, 0)).toBeNull();
    expect(() => wilson(3, 2)).toThrow(RangeError);
    expect(() => wilson(1.5, 2)).toThrow(RangeError);
  });

  it('narrows as the sample grows at the same rate', () => {
    const small = wilson(8, 10);
    const large = wilson(160, 200);
    expect((large?.upper ?? 1) - (large?.lower ?? 0)).toBeLessThan(
      (small?.upper ?? 1) - (small?.lower ?? 0),
    );
  });
});

describe('newcombeIndependent', () => {
  // Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10.
  it.each([
    [56, 70, 48, 80, [0.0524, 0.3339]],
    [9, 10, 3, 10, [0.1705, 0.809]],
    [5, 56, 0, 29, [-0.0381, 0.1926]],
    [0, 10, 0, 20, [-0.1611, 0.2775]],
    [0, 10, 0, 10, [-0.2775, 0.2775]],
    [10, 10, 0, 20, [0.6791, 1]],
    [10, 10, 0, 10, [0.6075, 1]],
  ])("gives Newcombe's published interval for %i/%i - %i/%i", (k1, n1, k2, n2, expected) => {
    const d = newcombeIndependent(k1, n1, k2, n2);
    expect(interval(d)).toEqual(expected);
    expect(d?.difference).toBeCloseTo(k1 / n1 - k2 / n2, 12);
  });
});

describe('newcombePaired', () => {
  // Fagerland, Lydersen and Laake, Statistical Analysis of Contingency Tables (2017), chapter 8:
  // complete response before and after consolidation therapy (Cavo et al., 2012), the Newcombe
  // square-and-add interval: -0.0621 (95% CI -0.1186 to -0.0046).
  it('gives the published interval for the Cavo et al. table', () => {
    const d = newcombePaired({ both: 59, firstOnly: 6, secondOnly: 16, neither: 80 });
    expect(round4(d?.difference ?? Number.NaN)).toBe(-0.0621);
    expect(interval(d)).toEqual([-0.1186, -0.0046]);
  });

  it('is narrower than the independent interval when the pairs agree', () => {
    const paired = newcombePaired({ both: 150, firstOnly: 10, secondOnly: 20, neither: 20 });
    const independent = newcombeIndependent(160, 200, 170, 200);
    expect(paired?.difference).toBeCloseTo(independent?.difference ?? 0, 12);
    expect((paired?.upper ?? 1) - (paired?.lower ?? 0)).toBeLessThan(
      (independent?.upper ?? 1) - (independent?.lower ?? 0),
    );
  });

  it('has no interval without pairs', () => {
    expect(newcombePaired({ both: 0, firstOnly: 0, secondOnly: 0, neither: 0 })).toBeNull();
  });
});
