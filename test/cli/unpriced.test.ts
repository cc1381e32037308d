/**
 * Unpriced work is never shown as $0: the local summary says how many responses have no cost
 * yet, and the UNPRICED note names the fix for the reason (a holiday list is not a price row).
 * `costs reprice` prices with the stack's own pricing settings, read from its cdk.json.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unpricedNote } from '../../cli/lib/costs';
import { cliCatalog, stackPricing } from '../../cli/lib/prices';
import { summaryText } from '../../packages/tools/local';
import type { ResultsSummary } from '../../shared/pipeline/finalize';
import { resolvePrice } from '../../shared/pricing/cost';
import { testTempDir } from '../support/temp';

const unpricedBatch = {
  batchId: 'b-2027',
  team: 'payments',
  project: 'checkout',
  kind: 'docs',
  jobs: 2,
  states: { succeeded: 2, failed: 0, skipped_budget: 0, reused: 0, cancelled: 0, expired: 0 },
  unpricedRequests: 2,
  tokens: { hit: 0, miss: 100, output: 10, reasoning: 0 },
  cacheHitRatio: 0,
  costNanoUsd: 0,
  warmupCostNanoUsd: 0,
  counterfactualNanoUsd: 0,
  savingsNanoUsd: 0,
  awsOverhead: { estimatedNanoUsd: 1_000, per1000JobsNanoUsd: 500_000 },
  outputPrefix: 'outputs/payments/checkout/b-2027/',
} as unknown as ResultsSummary;

describe('unpriced work', () => {
  it('is not shown as $0.00 in the local summary', () => {
    // Act
    const text = summaryText([unpricedBatch], 'bucket');

    // Assess
    expect(text).toContain('$0.00 + 2 unpriced');
    expect(text).toContain('plus 2 unpriced response(s) of unknown cost');
    expect(text).toContain('saved unknown until they are priced');
  });

  it('is explained by its reason: a missing holiday list asks for the list, not a price row', () => {
    // Act
    const note = unpricedNote({
      requests: 3,
      hitTokens: 0,
      missTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
      models: ['deepseek-flash'],
      reasons: ['holidays_unknown'],
    });

    // Assess
    expect(note).toContain('holiday list');
    expect(note).not.toContain('add a row');
    expect(note).toContain('costs reprice');
  });
});

describe("reprice's catalog", () => {
  it("uses the stack's pricing.v41SwitchAt and pricing.prices from its cdk.json", async () => {
    // Prepare: a stack that switched to V4.1 Flash prices at 04:00 UTC and prices a new alias
    const dir = await testTempDir('wb-stack-');
    const pricing = {
      v41SwitchAt: '2026-09-10T04:00:00Z',
      prices: {
        rows: [
          {
            model: 'deepseek-flash-1017',
            from: '2026-10-17T00:00:00Z',
            billedAs: 'deepseek-flash',
            source: 'the model name the API returns since 2026-10-17',
          },
        ],
      },
    };
    await writeFile(join(dir, 'cdk.json'), JSON.stringify({ context: { warmbatch: { pricing } } }));

    // Act
    const stack = await stackPricing(dir, undefined);
    const catalog = await cliCatalog({}, { cwd: dir, ...(stack ? { stack } : {}) });

    // Assess: between the two candidate instants, v4-flash still bills at its own row
    const between = new Date('2026-09-10T00:00:00Z');
    expect(resolvePrice('deepseek-v4-flash', between, catalog).billedAs).toBe('deepseek-v4-flash');
    expect(
      resolvePrice('deepseek-flash-1017', new Date('2026-11-30T12:00:00Z'), catalog).billedAs,
    ).toBe('deepseek-flash');
    expect(await stackPricing(join(dir, 'none'), undefined)).toBeUndefined();
  });
});
