/**
 * The lost-call estimate: an attempt is priced as its worst case, every prompt token a miss and
 * `max_tokens` of output, so a call whose answer never reached the ledger is never undercounted.
 */
import { describe, expect, it } from 'vitest';
import { attemptFor } from '../../shared/pipeline/attempts';
import { defaultCatalog } from '../../shared/pricing/catalog';
import { requestCost, resolvePrice } from '../../shared/pricing/cost';

const AT = new Date('2026-11-30T12:00:00Z'); // a Monday off-peak in Beijing: deepseek-flash flat off-peak
const call = {
  team: 'payments',
  project: 'checkout',
  batchId: 'b1',
  kind: 'docs' as const,
  model: 'deepseek-flash',
  jobId: 'job-0000',
  owner: 'worker-a',
  promptTokens: 1_000,
  maxTokens: 4_000,
};

describe('the estimate of a lost call', () => {
  it('counts max_tokens of output at the output price besides every prompt token as a miss', () => {
    // Act
    const attempt = attemptFor(call, AT, 'gpt-5.4', defaultCatalog());

    // Assess: 1,000 x $0.15/M + 4,000 x $0.60/M = $0.00015 + $0.0024
    const price = resolvePrice('deepseek-flash', AT, defaultCatalog());
    expect(price.output).toBe(600_000);
    expect(attempt.estimatedUsage).toEqual({
      promptHitTokens: 0,
      promptMissTokens: 1_000,
      completionTokens: 4_000,
      reasoningTokens: 0,
    });
    expect(attempt.estimatedCostNanoUsd).toBe(2_550_000);
    expect(attempt.estimatedCostNanoUsd).toBe(
      requestCost('deepseek-flash', AT, attempt.estimatedUsage, defaultCatalog()).totalNanoUsd,
    );
  });

  it('grows with max_tokens alone', () => {
    // Act
    const small = attemptFor({ ...call, maxTokens: 1 }, AT, 'gpt-5.4', defaultCatalog());
    const large = attemptFor({ ...call, maxTokens: 8_000 }, AT, 'gpt-5.4', defaultCatalog());

    // Assess
    expect(large.estimatedCostNanoUsd - small.estimatedCostNanoUsd).toBe(7_999 * 600);
  });
});
