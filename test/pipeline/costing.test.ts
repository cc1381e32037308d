/**
 * Pricing a billed response: the real cost and the counterfactual on the reference model are
 * priced apart, so an unpriceable reference never loses the real cost; and only primary-lane
 * job answers the provider reported count towards savings.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../shared/configuration-error';
import { attemptFor } from '../../shared/pipeline/attempts';
import { priceUsage } from '../../shared/pipeline/costing';
import { parseSettings } from '../../shared/pipeline/settings';
import { defaultCatalog } from '../../shared/pricing/catalog';

const AT = new Date('2026-11-30T12:00:00Z');
const usage = {
  promptHitTokens: 2_000,
  promptMissTokens: 1_000,
  completionTokens: 500,
  reasoningTokens: 0,
};
const base = {
  model: 'deepseek-flash',
  at: AT,
  usage,
  referenceModel: 'gpt-5.4',
  catalog: defaultCatalog(),
};

describe('the real cost and the counterfactual', () => {
  it('keeps the real cost when the reference model cannot be priced, and says which model could not', () => {
    // Act
    const priced = priceUsage({ ...base, purpose: 'job', referenceModel: 'gpt-5.4-xhigh' });

    // Assess: 2,000 x $0.003/M + 1,000 x $0.15/M + 500 x $0.60/M = $0.000456
    expect(priced.unpriced).toBeUndefined();
    expect(priced.costNanoUsd).toBe(456_000);
    expect(priced.price?.billedAs).toBe('deepseek-flash');
    expect(priced.counterfactualNanoUsd).toBe(0);
    expect(priced.referenceUnpriced?.reason).toBe('unknown_model');
    expect(priced.referenceUnpriced?.detail).toContain('gpt-5.4-xhigh');
  });

  it('refuses settings whose reference model no price row names, naming it', () => {
    // Prepare
    const endpoints = { public: { name: 'public', baseURL: 'https://api.deepseek.com' } };

    // Act / Assess
    const bad = () => parseSettings({ endpoints, referenceModel: 'gpt-5.4-xhigh' });
    expect(bad).toThrow(ConfigurationError);
    expect(bad).toThrow(/referenceModel: gpt-5\.4-xhigh is in no price row/);
    expect(parseSettings({ endpoints, referenceModel: 'gpt-5.4-pro' }).referenceModel).toBe(
      'gpt-5.4-pro',
    );
  });
});

describe('savings', () => {
  it('count a primary-lane job answer', () => {
    // Assess: 3,000 x $2.50/M + 500 x $15.00/M = $0.015, every prompt token at the miss price
    expect(priceUsage({ ...base, purpose: 'job' }).counterfactualNanoUsd).toBe(15_000_000);
  });

  it('never count repairs, shadow runs, overhead or estimates of lost calls', () => {
    // Act
    const repair = priceUsage({ ...base, purpose: 'job', lane: 'repair' });
    const shadow = priceUsage({ ...base, purpose: 'job', lane: 'shadow' });
    const warmup = priceUsage({ ...base, purpose: 'warmup' });
    const estimate = priceUsage({ ...base, purpose: 'job', estimated: true });
    const lost = attemptFor(
      {
        team: 't',
        project: 'p',
        batchId: 'b',
        kind: 'docs',
        model: 'deepseek-flash',
        jobId: 'job-0000',
        owner: 'w',
        promptTokens: 3_000,
        maxTokens: 4_096,
      },
      AT,
      'gpt-5.4',
      defaultCatalog(),
    );

    // Assess: each keeps its real cost, none claims a saving
    for (const p of [repair, shadow, warmup, estimate]) {
      expect(p.costNanoUsd).toBe(456_000);
      expect(p.counterfactualNanoUsd).toBe(0);
    }
    expect(lost.estimatedCostNanoUsd).toBeGreaterThan(0);
    expect(lost.estimatedCounterfactualNanoUsd).toBe(0);
  });
});
