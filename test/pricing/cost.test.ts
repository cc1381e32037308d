import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { catalogFrom } from '../../shared/pricing/catalog';
import {
  counterfactualNanoUsd,
  requestCost,
  resolvePrice,
  UnknownModelError,
} from '../../shared/pricing/cost';
import type { Usage } from '../../shared/types';

function usage(overrides: Partial<Usage> = {}): Usage {
  return {
    promptHitTokens: 0,
    promptMissTokens: 0,
    completionTokens: 0,
    reasoningTokens: 0,
    ...overrides,
  };
}

const V32_AT = new Date('2026-01-15T12:00:00Z');
/** Flat V4 prices were in force then. */
const V4_FLAT_AT = new Date('2026-05-20T12:00:00Z');
/** Wednesday 2026-11-25, 02:30 UTC (10:30 in Beijing): a peak hour on a working day. */
const FLASH_PEAK = new Date('2026-11-25T02:30:00Z');
/** The same Wednesday, 12:00 UTC: off-peak. */
const FLASH_OFF_PEAK = new Date('2026-11-25T12:00:00Z');

const tokenCount = fc.integer({ min: 0, max: 2_000_000_000 });
const anyUsage = fc.record({
  promptHitTokens: tokenCount,
  promptMissTokens: tokenCount,
  completionTokens: tokenCount,
  reasoningTokens: fc.constant(0),
});
const pricedAt = fc.constantFrom(
  ['deepseek-chat', V32_AT] as const,
  ['deepseek-v4-flash', V4_FLAT_AT] as const,
  ['deepseek-v4-pro', V4_FLAT_AT] as const,
  ['deepseek-v4-pro', FLASH_PEAK] as const,
  ['deepseek-flash', FLASH_PEAK] as const,
  ['deepseek-flash', FLASH_OFF_PEAK] as const,
  ['gpt-5.4', V32_AT] as const,
  ['gpt-5.4-pro', V32_AT] as const,
);

describe('requestCost', () => {
  it('prices the seed document figures exactly', () => {
    // 1,000 files of 2K input + 2K output on V3.2: input $0.56, output $0.84, total $1.40.
    const cost = requestCost(
      'deepseek-chat',
      V32_AT,
      usage({ promptMissTokens: 2_000_000, completionTokens: 2_000_000 }),
    );

    expect(cost).toEqual({
      hitNanoUsd: 0,
      missNanoUsd: 560_000_000,
      outputNanoUsd: 840_000_000,
      totalNanoUsd: 1_400_000_000,
    });
  });

  it('prices a 4K prompt sent 1,000 times at the V3.2 cache-hit price at $0.112', () => {
    const cost = requestCost('deepseek-chat', V32_AT, usage({ promptHitTokens: 4_000_000 }));

    expect(cost.totalNanoUsd).toBe(112_000_000);
  });

  it('rounds the exact total once, half up, to nano-USD', () => {
    // 1 hit token on v4-flash = 2,800 pico; 1 miss token = 140,000 pico; 1 output = 280,000 pico.
    const cost = requestCost(
      'deepseek-v4-flash',
      V4_FLAT_AT,
      usage({ promptHitTokens: 1, promptMissTokens: 1, completionTokens: 1 }),
    );

    // 2,800 + 140,000 + 280,000 = 422,800 pico = 422.8 nano -> 423.
    expect(cost.totalNanoUsd).toBe(423);
    expect(cost.hitNanoUsd).toBe(3);
  });

  it('rounds exactly half a nano-USD up', () => {
    // 3,625 pico x 2 = 7,250 pico = 7.25 nano -> 7; x 4 = 14.5 nano -> 15.
    const two = requestCost('deepseek-v4-pro', V4_FLAT_AT, usage({ promptHitTokens: 2 }));
    const four = requestCost('deepseek-v4-pro', V4_FLAT_AT, usage({ promptHitTokens: 4 }));

    expect(two.totalNanoUsd).toBe(7);
    expect(four.totalNanoUsd).toBe(15);
  });

  it('stays exact where the pico-USD sum passes 2^53', () => {
    // About 3e17 pico-USD, far past 2^53 (9.0e15): a float sum would lose the last digits.
    const cost = requestCost(
      'gpt-5.4-pro',
      V32_AT,
      usage({ promptMissTokens: 1_999_999_999, completionTokens: 2_000_000_001 }),
    );

    // 1,999,999,999 x 30e6 + 2,000,000,001 x 120e6 = 300,000,000,090,000,000 pico.
    expect(cost.totalNanoUsd).toBe(300_000_000_090_000);
    expect(Number.isSafeInteger(cost.totalNanoUsd)).toBe(true);
  });

  it('bills reasoning tokens once, as part of completion tokens', () => {
    const plain = requestCost('deepseek-reasoner', V32_AT, usage({ completionTokens: 1_000 }));
    const reasoning = requestCost(
      'deepseek-reasoner',
      V32_AT,
      usage({ completionTokens: 1_000, reasoningTokens: 800 }),
    );

    expect(reasoning).toEqual(plain);
  });

  it('charges a peak deepseek-flash request exactly twice the off-peak one', () => {
    fc.assert(
      fc.property(anyUsage, (u) => {
        const peak = requestCost('deepseek-flash', FLASH_PEAK, u);
        const offPeak = requestCost('deepseek-flash', FLASH_OFF_PEAK, u);

        // Off-peak prices are multiples of 1,000 pico per token, so both totals are exact.
        expect(peak.totalNanoUsd).toBe(2 * offPeak.totalNanoUsd);
      }),
    );
  });

  it('refuses negative or fractional token counts', () => {
    expect(() => requestCost('deepseek-chat', V32_AT, usage({ promptMissTokens: -1 }))).toThrow(
      RangeError,
    );
    expect(() => requestCost('deepseek-chat', V32_AT, usage({ completionTokens: 1.5 }))).toThrow(
      RangeError,
    );
  });

  it('gives safe integer costs that match exact BigInt arithmetic', () => {
    fc.assert(
      fc.property(pricedAt, anyUsage, ([model, at], u) => {
        const price = resolvePrice(model, at);

        const cost = requestCost(model, at, u);

        const pico =
          BigInt(u.promptHitTokens) * BigInt(price.hit) +
          BigInt(u.promptMissTokens) * BigInt(price.miss) +
          BigInt(u.completionTokens) * BigInt(price.output);
        for (const v of Object.values(cost)) expect(Number.isSafeInteger(v)).toBe(true);
        expect(BigInt(cost.totalNanoUsd) * 1000n - pico).toBeGreaterThan(-500n);
        expect(BigInt(cost.totalNanoUsd) * 1000n - pico).toBeLessThanOrEqual(500n);
      }),
    );
  });

  it('keeps display components within one nano-USD of the total', () => {
    fc.assert(
      fc.property(pricedAt, anyUsage, ([model, at], u) => {
        const c = requestCost(model, at, u);

        const sum = c.hitNanoUsd + c.missNanoUsd + c.outputNanoUsd;

        expect(Math.abs(sum - c.totalNanoUsd)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('is additive within one rounding: two requests cost their combined usage', () => {
    fc.assert(
      fc.property(pricedAt, anyUsage, anyUsage, ([model, at], a, b) => {
        const combined = usage({
          promptHitTokens: a.promptHitTokens + b.promptHitTokens,
          promptMissTokens: a.promptMissTokens + b.promptMissTokens,
          completionTokens: a.completionTokens + b.completionTokens,
        });

        const separate =
          requestCost(model, at, a).totalNanoUsd + requestCost(model, at, b).totalNanoUsd;
        const together = requestCost(model, at, combined).totalNanoUsd;

        expect(Math.abs(separate - together)).toBeLessThanOrEqual(1);
      }),
    );
  });
});

describe('counterfactualNanoUsd', () => {
  it('prices the seed figures on GPT-5.4 by default: $5 input + $30 output', () => {
    const u = usage({ promptMissTokens: 2_000_000, completionTokens: 2_000_000 });

    expect(counterfactualNanoUsd(undefined, V32_AT, u)).toBe(35_000_000_000);
  });

  it('prices cached prompt tokens at the reference input price', () => {
    const u = usage({ promptHitTokens: 4_000_000 });

    // The seed: 4M tokens at GPT-5.4's input price = $10.00.
    expect(counterfactualNanoUsd('gpt-5.4', V32_AT, u)).toBe(10_000_000_000);
  });

  it('gives no cache discount even when the reference model has one', () => {
    const u = usage({ promptHitTokens: 1_000_000 });

    expect(counterfactualNanoUsd('deepseek-chat', V32_AT, u)).toBe(280_000_000);
  });

  it('refuses an unknown reference model instead of pricing it at zero', () => {
    expect(() => counterfactualNanoUsd('gpt-9', V32_AT, usage())).toThrow(UnknownModelError);
  });

  it('uses the catalog passed in', () => {
    const catalog = catalogFrom([
      [
        'test',
        {
          rows: [
            {
              model: 'ref',
              provider: 'openai',
              from: '2020-01-01T00:00:00Z',
              flat: { hit: 1_000_000, miss: 1_000_000, output: 2_000_000 },
              source: 'test row',
              reference: true,
            },
          ],
        },
      ],
    ]);

    const nano = counterfactualNanoUsd('ref', V32_AT, usage({ promptMissTokens: 3 }), catalog);

    // 3 tokens x 1,000,000 micro-USD per million = 3,000,000 pico = 3,000 nano-USD.
    expect(nano).toBe(3_000);
  });
});
