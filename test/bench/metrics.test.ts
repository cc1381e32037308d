import { describe, expect, it } from 'vitest';
import {
  cacheablePrefixTokens,
  costPer1000Usd,
  type GroupShape,
  optimumInputCostNano,
  type Pricer,
  ratio,
  simulatedSeconds,
  tally,
} from '../../bench/cache/metrics';
import { catalogPricer } from '../../bench/cache/run';

const AT = new Date('2026-11-01T12:00:00Z');

/** Hit 1 nano-USD a token, miss 10, output 100: costs are easy to compute by hand. */
const simplePricer: Pricer = (_model, _at, u) =>
  u.promptHitTokens * 1 + u.promptMissTokens * 10 + u.completionTokens * 100;

const group = (prefixTokens: number, jobPromptTokens: number[]): GroupShape => ({
  model: 'deepseek-flash',
  prefixTokens,
  jobPromptTokens,
});

describe('cacheablePrefixTokens', () => {
  it('floors the prefix to whole 64-token units under units64', () => {
    expect(cacheablePrefixTokens(200, 'units64')).toBe(192);
    expect(cacheablePrefixTokens(63, 'units64')).toBe(0);
    expect(cacheablePrefixTokens(128, 'units64')).toBe(128);
  });

  it('caches the whole prefix under persisted-units', () => {
    expect(cacheablePrefixTokens(200, 'persisted-units')).toBe(200);
  });
});

describe('optimumInputCostNano', () => {
  it('pays the prefix once at the miss price and at the hit price for every other job', () => {
    // Prefix 128, three jobs with 20, 30 and 50 unique tokens.
    const shapes = [group(128, [148, 158, 178])];

    const cost = optimumInputCostNano(shapes, 'persisted-units', simplePricer, AT);

    // 128*10 + 2*128*1 + (20+30+50)*10
    expect(cost).toBe(1280 + 256 + 1000);
  });

  it('leaves the part past the last whole unit at the miss price under units64', () => {
    const shapes = [group(200, [210, 220])];

    const cost = optimumInputCostNano(shapes, 'units64', simplePricer, AT);

    // Job 1: 210 miss. Job 2: 192 hit, 28 miss.
    expect(cost).toBe(2100 + 192 + 280);
  });

  it('adds up independent groups', () => {
    const a = group(100, [110]);
    const b = group(64, [70, 70]);

    const both = optimumInputCostNano([a, b], 'persisted-units', simplePricer, AT);

    expect(both).toBe(1100 + (700 + 64 + 60));
  });

  it('prices with the catalog in integer nano-USD', () => {
    // deepseek-flash on Sunday 2026-11-01 (off-peak): miss $0.15, hit $0.003 per 1M.
    // 1M-token prefix, two jobs of 1M + 0.
    const shapes = [group(1_000_000, [1_000_000, 1_000_000])];

    const cost = optimumInputCostNano(shapes, 'persisted-units', catalogPricer, AT);

    expect(cost).toBe(150_000_000 + 3_000_000);
  });

  it('refuses a job shorter than its prefix', () => {
    expect(() =>
      optimumInputCostNano([group(100, [99])], 'persisted-units', simplePricer, AT),
    ).toThrow(RangeError);
  });
});

describe('tally', () => {
  it('adds tokens and prices input apart from output', () => {
    const usages = [
      { promptHitTokens: 0, promptMissTokens: 100, completionTokens: 5, reasoningTokens: 0 },
      { promptHitTokens: 64, promptMissTokens: 36, completionTokens: 1, reasoningTokens: 0 },
    ];

    const t = tally(usages, 'deepseek-flash', simplePricer, AT);

    expect(t).toEqual({
      requests: 2,
      hitTokens: 64,
      missTokens: 136,
      outputTokens: 6,
      inputCostNano: 1000 + 64 + 360,
      totalCostNano: 1000 + 64 + 360 + 600,
    });
  });

  it('fails on a model the catalog does not know instead of calling it free', () => {
    const usages = [
      { promptHitTokens: 0, promptMissTokens: 1, completionTokens: 0, reasoningTokens: 0 },
    ];

    expect(() => tally(usages, 'no-such-model', catalogPricer, AT)).toThrow(/no-such-model/);
  });
});

describe('ratios and units', () => {
  it('rounds ratios to four decimals and refuses a zero base', () => {
    expect(ratio(2, 3)).toBe(0.6667);
    expect(() => ratio(1, 0)).toThrow(RangeError);
  });

  it('states cost per 1,000 jobs in USD', () => {
    expect(costPer1000Usd(5_000_000, 500)).toBe(0.01);
  });

  it('turns measured milliseconds into simulated seconds', () => {
    expect(simulatedSeconds(500, 0.005)).toBe(100);
  });
});
