/**
 * `warmbatch prices` shows every alias hop a model is billed through, and no cache-hit price
 * for a reference model that has none (FACTS: n/a).
 */
import { describe, expect, it } from 'vitest';
import { pricesInForce, renderPrices } from '../../cli/commands/prices';
import { defaultCatalog } from '../../shared/pricing/catalog';

const AT = new Date('2026-11-30T12:00:00Z');

describe('prices', () => {
  it('names every alias hop: deepseek-chat -> deepseek-v4-flash -> deepseek-flash', () => {
    // Act
    const rows = pricesInForce(defaultCatalog(), AT, 'deepseek-chat');
    const text = renderPrices(AT, rows, defaultCatalog()).replace(/\s+/g, ' ');

    // Assess
    expect(rows[0]?.billedAs).toBe('deepseek-flash');
    expect(rows[0]?.via).toHaveLength(2);
    expect(text).toMatch(/deepseek-chat@[^ ]+ \(built-in\) -> deepseek-v4-flash@/);
  });

  it('shows n/a, not a price, for the hit price of a reference model without a cache price', () => {
    // Act
    const rows = pricesInForce(defaultCatalog(), AT, 'gpt-5.4');
    const text = renderPrices(AT, rows, defaultCatalog());

    // Assess
    const line = text.split('\n').find((l) => l.includes('gpt-5.4')) ?? '';
    expect(line).toContain('n/a');
    expect(line).not.toContain('$2.50 │ $2.50');
  });
});
