import { describe, expect, it } from 'vitest';
import { ModelNotInForceError, UnknownModelError } from '../../shared/pricing/cost';
import {
  estimateToJson,
  estimateWorkload,
  formatUsd,
  type WorkloadSpec,
} from '../../shared/pricing/estimate';

function spec(overrides: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return {
    model: 'deepseek-chat',
    at: new Date('2026-01-15T12:00:00Z'),
    jobs: 1_000,
    inputTokens: 2_000,
    outputTokens: 2_000,
    ...overrides,
  };
}

describe('estimateWorkload', () => {
  it('prices the seed documentation workload and its GPT-5.4 comparison', () => {
    const estimate = estimateWorkload(spec({ compare: ['gpt-5.4'] }));

    expect(estimateToJson(estimate)).toEqual({
      model: 'deepseek-chat',
      billedAs: 'deepseek-chat',
      tier: 'flat',
      row: {
        id: 'deepseek-chat@2025-09-29T00:00:00Z',
        model: 'deepseek-chat',
        from: '2025-09-29T00:00:00.000Z',
        until: '2026-07-24T16:00:00.000Z',
        origin: 'built-in',
      },
      at: '2026-01-15T12:00:00.000Z',
      jobs: 1_000,
      tokens: { input: 2_000_000, cached: 0, output: 2_000_000 },
      costNanoUsd: { input: 560_000_000, cached: 0, output: 840_000_000, total: 1_400_000_000 },
      costUsd: {
        input: '0.560000000',
        cached: '0.000000000',
        output: '0.840000000',
        total: '1.400000000',
      },
      compare: [
        {
          model: 'gpt-5.4',
          billedAs: 'gpt-5.4',
          tier: 'flat',
          row: {
            id: 'gpt-5.4@2025-01-01T00:00:00Z',
            model: 'gpt-5.4',
            from: '2025-01-01T00:00:00.000Z',
            until: null,
            origin: 'built-in',
          },
          costNanoUsd: {
            input: 5_000_000_000,
            cached: 0,
            output: 30_000_000_000,
            total: 35_000_000_000,
          },
          costUsd: {
            input: '5.000000000',
            cached: '0.000000000',
            output: '30.000000000',
            total: '35.000000000',
          },
          ratio: 25,
        },
      ],
    });
  });

  it('splits input into uncached and cached tokens and prices each', () => {
    const estimate = estimateWorkload(spec({ cachedTokens: 1_500 }));

    expect(estimate.tokens).toEqual({ input: 500_000, cached: 1_500_000, output: 2_000_000 });
    expect(estimate.costNanoUsd).toEqual({
      input: 140_000_000,
      cached: 42_000_000,
      output: 840_000_000,
      total: 1_022_000_000,
    });
  });

  it('prices a compared model on the same cached share', () => {
    const estimate = estimateWorkload(spec({ cachedTokens: 1_500, compare: ['gpt-5.4'] }));

    // GPT-5.4 has no cache discount: 1.5M cached tokens at $2.50/M = $3.75.
    expect(estimate.compare[0]?.costNanoUsd).toEqual({
      input: 1_250_000_000,
      cached: 3_750_000_000,
      output: 30_000_000_000,
      total: 35_000_000_000,
    });
    expect(estimate.compare[0]?.ratio).toBe(34.2466);
  });

  it('doubles the cost of a deepseek-flash workload in a peak hour', () => {
    const base = { model: 'deepseek-flash', cachedTokens: 1_234 };

    const peak = estimateWorkload(spec({ ...base, at: new Date('2026-11-25T07:00:00Z') }));
    const offPeak = estimateWorkload(spec({ ...base, at: new Date('2026-11-25T13:00:00Z') }));

    expect(peak.tier).toBe('peak');
    expect(offPeak.tier).toBe('off-peak');
    expect(peak.costNanoUsd.total).toBe(2 * offPeak.costNanoUsd.total);
  });

  it('refuses more cached than input tokens', () => {
    expect(() => estimateWorkload(spec({ cachedTokens: 2_001 }))).toThrow(
      /cachedTokens \(2001\) cannot exceed inputTokens \(2000\)/,
    );
  });

  it('refuses negative and fractional counts', () => {
    expect(() => estimateWorkload(spec({ jobs: -1 }))).toThrow(RangeError);
    expect(() => estimateWorkload(spec({ outputTokens: 0.5 }))).toThrow(RangeError);
  });

  it('refuses totals that do not fit a safe integer', () => {
    expect(() => estimateWorkload(spec({ jobs: 2 ** 40, inputTokens: 2 ** 20 }))).toThrow(
      /too large/,
    );
  });

  it('refuses unknown and retired models, compared ones included', () => {
    expect(() => estimateWorkload(spec({ model: 'nope' }))).toThrow(UnknownModelError);
    expect(() => estimateWorkload(spec({ compare: ['deepseek-flash'] }))).toThrow(
      ModelNotInForceError,
    );
  });

  it('gives no ratio when the estimate costs nothing', () => {
    const estimate = estimateWorkload(spec({ jobs: 0, compare: ['gpt-5.4'] }));

    expect(estimate.compare[0]?.ratio).toBeNull();
  });
});

describe('formatUsd', () => {
  it.each([
    [1_400_000_000, '$1.40'],
    [35_000_000_000, '$35.00'],
    [42_000_000, '$0.042'],
    [2_800, '$0.0000028'],
    [1, '$0.000000001'],
    [0, '$0.00'],
    [-1_500_000_000, '-$1.50'],
  ])('formats %i nano-USD as %s', (nano, text) => {
    expect(formatUsd(nano)).toBe(text);
  });
});
