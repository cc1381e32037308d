import { describe, expect, it } from 'vitest';
import {
  CATALOG,
  CN_HOLIDAYS_2026,
  CN_HOLIDAYS_2027_PROVISIONAL,
  type PriceRow,
} from '../../shared/pricing/catalog';

function row(model: string): PriceRow {
  const found = CATALOG.find((r) => r.model === model);
  if (found === undefined) throw new Error(`no catalog row for ${model}`);
  return found;
}

describe('price catalog', () => {
  // Figures as published, USD per 1M tokens (hit, miss, output), from the facts page's
  // "Models and prices" table; micro-USD per 1M = USD x 1,000,000.
  it.each([
    ['deepseek-chat', 0.028, 0.28, 0.42],
    ['deepseek-reasoner', 0.028, 0.28, 0.42],
    ['deepseek-v4-flash', 0.0028, 0.14, 0.28],
    ['deepseek-v4-pro', 0.003625, 0.435, 0.87],
    ['deepseek-flash', 0.003, 0.15, 0.6],
    ['gpt-5.4', 2.5, 2.5, 15],
    ['gpt-5.4-pro', 30, 30, 120],
  ])('pins %s to its published prices', (model, hit, miss, output) => {
    const r = row(model);

    expect([r.hit, r.miss, r.output]).toEqual([
      Math.round(hit * 1e6),
      Math.round(miss * 1e6),
      Math.round(output * 1e6),
    ]);
  });

  it('pins deepseek-v4-flash cache hits to 2,800 micro-USD per million tokens', () => {
    expect(row('deepseek-v4-flash').hit).toBe(2_800);
  });

  it('pins deepseek-flash peak prices to twice its off-peak prices', () => {
    const r = row('deepseek-flash');

    expect(r.peak?.prices).toEqual({ hit: 6_000, miss: 300_000, output: 1_200_000 });
    expect(r.peak?.windows).toEqual([
      { startHourUtc: 1, endHourUtc: 4 },
      { startHourUtc: 6, endHourUtc: 10 },
    ]);
  });

  it('ends the V3.2 models at 2026-07-24 15:59 UTC and starts them on 2025-09-29', () => {
    for (const model of ['deepseek-chat', 'deepseek-reasoner']) {
      const r = row(model);
      expect(r.effectiveFrom).toBe('2025-09-29T00:00:00Z');
      expect(r.effectiveUntil).toBe('2026-07-24T16:00:00Z');
    }
  });

  it('starts the V4 models on 2026-04-24', () => {
    expect(row('deepseek-v4-flash').effectiveFrom).toBe('2026-04-24T00:00:00Z');
    expect(row('deepseek-v4-pro').effectiveFrom).toBe('2026-04-24T00:00:00Z');
  });

  it('gives reference models no cache discount', () => {
    const references = CATALOG.filter((r) => r.reference);

    expect(references.map((r) => r.model).sort()).toEqual(['gpt-5.4', 'gpt-5.4-pro']);
    for (const r of references) expect(r.hit).toBe(r.miss);
  });

  it('holds every price as a non-negative safe integer with a source and valid dates', () => {
    for (const r of CATALOG) {
      const prices = [r.hit, r.miss, r.output, ...Object.values(r.peak?.prices ?? {})];
      for (const p of prices) expect(Number.isSafeInteger(p) && p >= 0).toBe(true);
      expect(r.source.length).toBeGreaterThan(5);
      expect(Number.isNaN(Date.parse(r.effectiveFrom))).toBe(false);
      if (r.effectiveUntil !== undefined) {
        expect(Date.parse(r.effectiveUntil)).toBeGreaterThan(Date.parse(r.effectiveFrom));
      }
    }
  });

  it('never has two rows of one model in force at once', () => {
    const end = (r: PriceRow) => (r.effectiveUntil ? Date.parse(r.effectiveUntil) : Infinity);
    for (const a of CATALOG) {
      for (const b of CATALOG) {
        if (a === b || a.model !== b.model) continue;
        const overlap =
          Date.parse(a.effectiveFrom) < end(b) && Date.parse(b.effectiveFrom) < end(a);
        expect(overlap).toBe(false);
      }
    }
  });

  it('holds the 2026 State Council holiday arrangement', () => {
    expect(CN_HOLIDAYS_2026).toHaveLength(33);
    expect(CN_HOLIDAYS_2026).toContain('2026-02-23');
    expect(CN_HOLIDAYS_2026).toContain('2026-10-07');
    expect(CN_HOLIDAYS_2026).not.toContain('2026-02-14');
  });

  it('holds the 2027 statutory holidays as valid, sorted dates', () => {
    for (const list of [CN_HOLIDAYS_2026, CN_HOLIDAYS_2027_PROVISIONAL]) {
      for (const d of list) expect(new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10)).toBe(d);
      expect([...list].sort()).toEqual(list);
    }
    expect(CN_HOLIDAYS_2027_PROVISIONAL).toHaveLength(13);
  });
});
