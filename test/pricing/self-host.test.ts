import { describe, expect, it } from 'vitest';
import { buildCatalog } from '../../shared/pricing/catalog';
import {
  moneyJson,
  selfHostBreakEven,
  selfHostName,
  usdToNano,
} from '../../shared/pricing/self-host';

const AT = new Date('2026-01-15T12:00:00Z');
const WORKLOAD = { at: AT, inputTokens: 2000, cachedTokens: 0, outputTokens: 2000 };

describe('selfHostBreakEven', () => {
  it('rounds the break-even volume up: the first whole month of jobs whose API bill reaches the fixed cost', () => {
    // $1 fixed against $0.035 a job: 28.57 jobs -> 29 (28 jobs cost $0.98, 29 cost $1.015).
    const e = selfHostBreakEven({
      ...WORKLOAD,
      models: ['gpt-5.4'],
      monthlyCostsNanoUsd: [usdToNano('1')],
    });

    expect(e.options[0]?.breakEven[0]).toMatchObject({ jobsPerMonth: 29, tokensPerMonth: 116_000 });
  });

  it('prices the cached share at the hit price: caching pushes break-even out', () => {
    const of = (cachedTokens: number) =>
      selfHostBreakEven({
        ...WORKLOAD,
        cachedTokens,
        models: ['deepseek-chat'],
        monthlyCostsNanoUsd: [usdToNano('25000')],
      }).options[0]?.breakEven[0]?.jobsPerMonth ?? 0;

    // 1,500 of 2,000 prompt tokens at $0.028 instead of $0.28.
    expect(of(1500)).toBeGreaterThan(of(0));
    // A job: 500 x $0.28 + 1,500 x $0.028 + 2,000 x $0.42 per 1M = $0.001022; $25,000 / that.
    expect(of(1500)).toBe(24_461_840);
  });

  it('never breaks even against a model that costs nothing', () => {
    const catalog = buildCatalog([
      {
        origin: 'test',
        data: {
          rows: [
            {
              model: 'free-model',
              provider: 'deepseek',
              from: '2025-01-01T00:00:00Z',
              flat: { hit: 0, miss: 0, output: 0 },
              source: 'test',
              reference: false,
            },
          ],
          peakRules: [],
          holidays: [],
        },
      },
    ]);
    const e = selfHostBreakEven(
      { ...WORKLOAD, models: ['free-model'], monthlyCostsNanoUsd: [usdToNano('1')] },
      catalog,
    );

    expect(e.options[0]?.breakEven[0]).toMatchObject({
      jobsPerMonth: null,
      reason: 'a job costs nothing on the API',
    });
  });

  it('refuses no cost, a zero cost and more cached than input tokens', () => {
    expect(() => selfHostBreakEven({ ...WORKLOAD, models: [], monthlyCostsNanoUsd: [] })).toThrow(
      RangeError,
    );
    expect(() => selfHostBreakEven({ ...WORKLOAD, models: [], monthlyCostsNanoUsd: [0] })).toThrow(
      RangeError,
    );
    expect(() =>
      selfHostBreakEven({ ...WORKLOAD, cachedTokens: 3000, models: [], monthlyCostsNanoUsd: [1] }),
    ).toThrow(/cachedTokens/);
  });
});

describe('money at the edge', () => {
  it('reads USD exactly and writes it as a 9-decimal string beside the integer', () => {
    expect(usdToNano('25000')).toBe(25_000_000_000_000);
    expect(usdToNano('0.000000001')).toBe(1);
    expect(usdToNano('12.5')).toBe(12_500_000_000);
    expect(() => usdToNano('1e3')).toThrow(RangeError);
    expect(() => usdToNano('1.0000000001')).toThrow(RangeError);
    expect(moneyJson(1_400_000)).toEqual({ usd: '0.001400000', nanoUsd: 1_400_000 });
    expect(moneyJson(-5)).toEqual({ usd: '-0.000000005', nanoUsd: -5 });
    expect(selfHostName(usdToNano('50000.5'))).toBe('self-host $50,000.5/month');
  });
});
