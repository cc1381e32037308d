import { describe, expect, it } from 'vitest';
import { decideWarmup } from '../../shared/executor/warmup';

// deepseek-flash off-peak, micro-USD per million tokens.
const flash = { hit: 3_000, miss: 150_000, output: 600_000 };

describe('decideWarmup', () => {
  it('never warms a group of one: nothing else would use what it builds', () => {
    expect(
      decideWarmup({ jobs: 1, prefixTokens: 3_000, prices: flash, verifyMinJobs: 8 }).mode,
    ).toBe('none');
  });

  it('never warms a prefix shorter than one cache unit', () => {
    expect(
      decideWarmup({ jobs: 50, prefixTokens: 63, prices: flash, verifyMinJobs: 8 }),
    ).toMatchObject({
      mode: 'none',
    });
  });

  it('warms two jobs sharing a long prefix, saving what the second would pay at the miss price', () => {
    // Prepare: unwarmed 2 x 3000 x 150,000; warmed 3000 x 150,000 + 600,000 + 2 x 3000 x 3,000.
    const expected = 2 * 3_000 * 150_000 - (3_000 * 150_000 + 600_000 + 2 * 3_000 * 3_000);

    // Act
    const plan = decideWarmup({ jobs: 2, prefixTokens: 3_000, prices: flash, verifyMinJobs: 8 });

    // Assess
    expect(plan).toMatchObject({ mode: 'prefix-probe', verify: false, savingPicoUsd: expected });
  });

  it('checks the cache only for groups of verifyMinJobs and more', () => {
    const at = (jobs: number) =>
      decideWarmup({ jobs, prefixTokens: 3_000, prices: flash, verifyMinJobs: 8 });
    expect(at(7)).toMatchObject({ mode: 'prefix-probe', verify: false });
    expect(at(8)).toMatchObject({ mode: 'prefix-probe', verify: true });
  });

  it("runs the first job alone when the probe's output costs more than the saving", () => {
    // 2 jobs x 64 tokens: unwarmed 2 x 64 x 150,000 = 19.2M; warmed 9.6M + 600M + ... > unwarmed
    const pricey = { ...flash, output: 600_000_000 };
    expect(decideWarmup({ jobs: 2, prefixTokens: 64, prices: pricey, verifyMinJobs: 8 }).mode).toBe(
      'first-alone',
    );
  });

  it('decides as for DeepSeek when no prices are given', () => {
    expect(decideWarmup({ jobs: 3, prefixTokens: 2_000, verifyMinJobs: 8 }).mode).toBe(
      'prefix-probe',
    );
  });
});
