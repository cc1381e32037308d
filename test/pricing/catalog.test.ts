/**
 * The built-in price history, pinned row by row and boundary by boundary to the team handbook's
 * facts page (../shared/FACTS.md, "Models and prices", USD per 1M tokens). Each figure is written
 * here in USD as the page prints it and compared with what the catalog bills at an instant, so a
 * wrong row, a wrong boundary or a wrong peak rule fails a test of its own.
 */
import { describe, expect, it } from 'vitest';
import {
  ALTERNATIVE_V41_SWITCH_AT,
  builtInPrices,
  CN_HOLIDAYS_2026,
  DEFAULT_V41_SWITCH_AT,
} from '../../shared/pricing/builtin';
import { buildCatalog, builtInLayer, type Catalog } from '../../shared/pricing/catalog';
import {
  HolidaysUnknownError,
  ModelNotInForceError,
  resolvePrice,
  type Tier,
} from '../../shared/pricing/cost';
import { parsePriceData } from '../../shared/pricing/schema';

const catalog = buildCatalog([builtInLayer()]);

/** USD per 1M tokens as the facts page prints them: [hit, miss, output]. */
type Usd = [number, number, number];
const micro = ([hit, miss, output]: Usd) => ({
  hit: Math.round(hit * 1e6),
  miss: Math.round(miss * 1e6),
  output: Math.round(output * 1e6),
});

/** What the catalog bills `model` at `iso`: prices, tier and the model whose row applied. */
function billed(model: string, iso: string, c: Catalog = catalog) {
  const p = resolvePrice(model, new Date(iso), c);
  return { hit: p.hit, miss: p.miss, output: p.output, tier: p.tier, billedAs: p.billedAs };
}

const expectBilled = (
  model: string,
  iso: string,
  usd: Usd,
  tier: Tier,
  billedAs = model,
  c: Catalog = catalog,
) => expect(billed(model, iso, c)).toEqual({ ...micro(usd), tier, billedAs });

const expectNotPriced = (model: string, iso: string, c: Catalog = catalog) =>
  expect(() => resolvePrice(model, new Date(iso), c)).toThrow(ModelNotInForceError);

// FACTS: "deepseek-chat, deepseek-reasoner (V3.2) | 2025-09-29 to 2026-07-24 15:59 | 0.028 | 0.28 | 0.42"
const V32: Usd = [0.028, 0.28, 0.42];
// FACTS: "deepseek-v4-flash | 2026-04-24 to 2026-08-16 16:00 | 0.0028 | 0.14 | 0.28 | flat"
const V4_FLASH_FLAT: Usd = [0.0028, 0.14, 0.28];
// FACTS: "deepseek-v4-pro | 2026-04-24 to 2026-08-16 16:00 | 0.003625 | 0.435 | 0.87 | flat"
const V4_PRO_FLAT: Usd = [0.003625, 0.435, 0.87];
// FACTS: "deepseek-v4-flash (and -vision-exp) | 2026-08-16 16:00 to about 2026-09-09 16:00 |
// 0.007 / 0.014 | 0.22 / 0.44 | 0.66 / 1.32 | off-peak / peak"
const V4_FLASH_OFF: Usd = [0.007, 0.22, 0.66];
const V4_FLASH_PEAK: Usd = [0.014, 0.44, 1.32];
// FACTS: "deepseek-v4-pro | from 2026-08-16 16:00 | 0.022 / 0.044 | 0.66 / 1.32 | 1.98 / 3.96"
const V4_PRO_OFF: Usd = [0.022, 0.66, 1.98];
const V4_PRO_PEAK: Usd = [0.044, 1.32, 3.96];
// FACTS: "deepseek-flash (V4.1 Flash) | from about 2026-09-09 16:00 | 0.003 / 0.006 | 0.15 / 0.30 |
// 0.60 / 1.20 | off-peak / peak"
const FLASH_OFF: Usd = [0.003, 0.15, 0.6];
const FLASH_PEAK: Usd = [0.006, 0.3, 1.2];
// FACTS: "gpt-5.4 (reference) | seed | n/a | 2.50 | 15.00" (no cache discount: hit = miss)
const GPT54: Usd = [2.5, 2.5, 15];
const GPT54_PRO: Usd = [30, 30, 120];

describe('built-in rows, first and last priced instants', () => {
  it.each(['deepseek-chat', 'deepseek-reasoner'])('%s bills V3.2 from 2025-09-29', (model) => {
    expectNotPriced(model, '2025-09-28T23:59:59.999Z');
    expectBilled(model, '2025-09-29T00:00:00Z', V32, 'flat');
  });

  it.each(['deepseek-chat', 'deepseek-reasoner'])(
    '%s bills V3.2 through the 15:59 UTC minute of 2026-07-24, then V4 Flash',
    (model) => {
      expectBilled(model, '2026-07-24T15:59:59.999Z', V32, 'flat');
      expectBilled(model, '2026-07-24T16:00:00Z', V4_FLASH_FLAT, 'flat', 'deepseek-v4-flash');
    },
  );

  it('deepseek-v4-flash bills its flat row from 2026-04-24 to the last instant before 2026-08-16 16:00', () => {
    expectNotPriced('deepseek-v4-flash', '2026-04-23T23:59:59.999Z');
    expectBilled('deepseek-v4-flash', '2026-04-24T00:00:00Z', V4_FLASH_FLAT, 'flat');
    expectBilled('deepseek-v4-flash', '2026-08-16T15:59:59.999Z', V4_FLASH_FLAT, 'flat');
  });

  it('deepseek-v4-pro bills its flat row from 2026-04-24 to the last instant before 2026-08-16 16:00', () => {
    expectNotPriced('deepseek-v4-pro', '2026-04-23T23:59:59.999Z');
    expectBilled('deepseek-v4-pro', '2026-04-24T00:00:00Z', V4_PRO_FLAT, 'flat');
    expectBilled('deepseek-v4-pro', '2026-08-16T15:59:59.999Z', V4_PRO_FLAT, 'flat');
  });

  it.each(['deepseek-v4-flash', 'deepseek-v4-flash-vision-exp'])(
    '%s bills peak/off-peak from 2026-08-16 16:00 until the V4.1 switch',
    (model) => {
      // 16:00 UTC is midnight in Beijing, outside both windows: off-peak.
      expectBilled(model, '2026-08-16T16:00:00Z', V4_FLASH_OFF, 'off-peak');
      // Monday 2026-08-17 01:00 UTC (09:00 Beijing): the first peak minute.
      expectBilled(model, '2026-08-17T01:00:00Z', V4_FLASH_PEAK, 'peak');
      // The last instant before the default switch (2026-09-09 16:00 UTC).
      expectBilled(model, '2026-09-09T15:59:59.999Z', V4_FLASH_OFF, 'off-peak');
    },
  );

  it('deepseek-v4-flash-vision-exp has no price before peak billing began', () => {
    expectNotPriced('deepseek-v4-flash-vision-exp', '2026-08-16T15:59:59.999Z');
  });

  it('deepseek-v4-pro bills peak/off-peak from 2026-08-16 16:00, still in force', () => {
    expectBilled('deepseek-v4-pro', '2026-08-16T16:00:00Z', V4_PRO_OFF, 'off-peak');
    expectBilled('deepseek-v4-pro', '2026-08-17T09:59:59.999Z', V4_PRO_PEAK, 'peak');
    expectBilled('deepseek-v4-pro', '2026-11-30T02:00:00Z', V4_PRO_PEAK, 'peak');
  });

  it('deepseek-flash bills V4.1 prices from the switch, still in force', () => {
    expectNotPriced('deepseek-flash', '2026-09-09T15:59:59.999Z');
    expectBilled('deepseek-flash', '2026-09-09T16:00:00Z', FLASH_OFF, 'off-peak');
    expectBilled('deepseek-flash', '2026-11-30T02:00:00Z', FLASH_PEAK, 'peak');
    expectBilled('deepseek-flash', '2026-11-30T12:00:00Z', FLASH_OFF, 'off-peak');
  });

  it.each([
    ['gpt-5.4', GPT54],
    ['gpt-5.4-pro', GPT54_PRO],
  ] as const)(
    'reference %s bills the seed prices from 2025-01-01, without a cache discount',
    (model, usd) => {
      expectNotPriced(model, '2024-12-31T23:59:59.999Z');
      expectBilled(model, '2025-01-01T00:00:00Z', usd, 'flat');
      expectBilled(model, '2026-11-30T02:00:00Z', usd, 'flat');
    },
  );
});

describe('aliases', () => {
  it.each(['deepseek-v4-flash', 'deepseek-v4-flash-vision-exp'])(
    '%s is billed as deepseek-flash from the V4.1 switch on',
    (model) => {
      expectBilled(model, '2026-09-09T15:59:59.999Z', V4_FLASH_OFF, 'off-peak', model);
      expectBilled(model, '2026-09-09T16:00:00Z', FLASH_OFF, 'off-peak', 'deepseek-flash');
      expectBilled(model, '2026-11-30T02:00:00Z', FLASH_PEAK, 'peak', 'deepseek-flash');
    },
  );

  it('deepseek-chat follows V4 Flash through its own switches to deepseek-flash', () => {
    expectBilled(
      'deepseek-chat',
      '2026-08-17T01:00:00Z',
      V4_FLASH_PEAK,
      'peak',
      'deepseek-v4-flash',
    );
    const p = resolvePrice('deepseek-chat', new Date('2026-11-30T02:00:00Z'), catalog);
    expect(p.billedAs).toBe('deepseek-flash');
    expect(p.via.map((r) => ('billedAs' in r ? r.billedAs : r.model))).toEqual([
      'deepseek-v4-flash',
      'deepseek-flash',
    ]);
  });

  it('moves the V4.1 switch to the alternative instant when the setting says so', () => {
    const later = buildCatalog([builtInLayer({ v41SwitchAt: ALTERNATIVE_V41_SWITCH_AT })]);
    expect(DEFAULT_V41_SWITCH_AT).toBe('2026-09-09T16:00:00Z');
    expect(ALTERNATIVE_V41_SWITCH_AT).toBe('2026-09-10T04:00:00Z');

    // Thursday 2026-09-10 03:59 UTC is a peak minute: V4 Flash peak under the later switch.
    expectBilled(
      'deepseek-v4-flash',
      '2026-09-10T03:59:59.999Z',
      V4_FLASH_PEAK,
      'peak',
      'deepseek-v4-flash',
      later,
    );
    expectBilled(
      'deepseek-v4-flash',
      '2026-09-10T04:00:00Z',
      FLASH_OFF,
      'off-peak',
      'deepseek-flash',
      later,
    );
    expectNotPriced('deepseek-flash', '2026-09-10T03:59:59.999Z', later);
    // Under the default, the same minute is already deepseek-flash.
    expectBilled(
      'deepseek-v4-flash',
      '2026-09-10T03:59:59.999Z',
      FLASH_PEAK,
      'peak',
      'deepseek-flash',
    );
  });
});

describe('peak rule', () => {
  // Monday 2026-11-30, a working day in China.
  it.each([
    ['2026-11-30T00:59:59.999Z', 'off-peak', 'before the morning window'],
    ['2026-11-30T01:00:00Z', 'peak', 'first minute of 09:00-12:00 Beijing'],
    ['2026-11-30T03:59:59.999Z', 'peak', 'last instant of the morning window'],
    ['2026-11-30T04:00:00Z', 'off-peak', 'the lunch gap'],
    ['2026-11-30T05:59:59.999Z', 'off-peak', 'end of the lunch gap'],
    ['2026-11-30T06:00:00Z', 'peak', 'first minute of 14:00-18:00 Beijing'],
    ['2026-11-30T09:59:59.999Z', 'peak', 'last instant of the afternoon window'],
    ['2026-11-30T10:00:00Z', 'off-peak', 'after the afternoon window'],
  ] as const)('bills %s at %s (%s)', (iso, tier, _why) => {
    expectBilled('deepseek-flash', iso, tier === 'peak' ? FLASH_PEAK : FLASH_OFF, tier);
  });

  it('bills a Beijing Saturday at peak before 2026-08-22 16:00 UTC: every day had peak hours', () => {
    // Saturday 2026-08-22 02:00 UTC = Saturday 10:00 Beijing.
    expectBilled('deepseek-v4-flash', '2026-08-22T02:00:00Z', V4_FLASH_PEAK, 'peak');
  });

  it('bills a Beijing Saturday and Sunday off-peak all day after 2026-08-22 16:00 UTC', () => {
    // Saturday 2026-08-29 02:00 UTC = Saturday 10:00 Beijing; Sunday 2026-08-23 07:00 UTC.
    expectBilled('deepseek-v4-flash', '2026-08-29T02:00:00Z', V4_FLASH_OFF, 'off-peak');
    expectBilled('deepseek-v4-flash', '2026-08-23T07:00:00Z', V4_FLASH_OFF, 'off-peak');
    // The Monday after is peak again.
    expectBilled('deepseek-v4-flash', '2026-08-24T01:00:00Z', V4_FLASH_PEAK, 'peak');
  });

  it('bills a 2026 Chinese public holiday off-peak all day, and the working day after at peak', () => {
    // Monday 2026-10-05, National Day; Friday 2026-09-25, Mid-Autumn.
    expectBilled('deepseek-flash', '2026-10-05T02:00:00Z', FLASH_OFF, 'off-peak');
    expectBilled('deepseek-flash', '2026-09-25T07:00:00Z', FLASH_OFF, 'off-peak');
    expectBilled('deepseek-flash', '2026-10-08T02:00:00Z', FLASH_PEAK, 'peak');
  });

  it('holds the 2026 holidays of the facts page as Beijing dates', () => {
    // FACTS: 01-01..01-03, 02-15..02-23, 04-04..04-06, 05-01..05-05, 06-19..06-21,
    // 09-25..09-27, 10-01..10-07.
    expect(CN_HOLIDAYS_2026).toHaveLength(3 + 9 + 3 + 5 + 3 + 3 + 7);
    for (const d of ['2026-01-03', '2026-02-15', '2026-02-23', '2026-06-19', '2026-10-07'])
      expect(CN_HOLIDAYS_2026).toContain(d);
    expect(CN_HOLIDAYS_2026).not.toContain('2026-02-24');
  });

  it('refuses to guess a 2027 weekday peak window without the 2027 list, and an estimate takes peak', () => {
    // Monday 2027-01-04 02:00 UTC.
    const at = new Date('2027-01-04T02:00:00Z');
    expect(() => resolvePrice('deepseek-flash', at, catalog)).toThrow(HolidaysUnknownError);
    expect(resolvePrice('deepseek-flash', at, catalog, { holidaysUnknown: 'peak' }).tier).toBe(
      'peak',
    );
    // Off-hours and weekends of 2027 need no list.
    expectBilled('deepseek-flash', '2027-01-04T12:00:00Z', FLASH_OFF, 'off-peak');
    expectBilled('deepseek-flash', '2027-01-09T02:00:00Z', FLASH_OFF, 'off-peak');
  });

  it('takes a 2027 holiday list from a price file, without a code change', () => {
    const withList = buildCatalog([
      builtInLayer(),
      {
        origin: 'prices.json',
        data: parsePriceData(
          {
            holidays: [{ calendar: 'cn', year: 2027, dates: ['2027-01-01'], source: 'test list' }],
          },
          'prices.json',
        ),
      },
    ]);

    expectBilled(
      'deepseek-flash',
      '2027-01-01T02:00:00Z',
      FLASH_OFF,
      'off-peak',
      'deepseek-flash',
      withList,
    );
    expectBilled(
      'deepseek-flash',
      '2027-01-04T02:00:00Z',
      FLASH_PEAK,
      'peak',
      'deepseek-flash',
      withList,
    );
  });
});

describe('the built-in data', () => {
  it('is valid price-file data: the same schema an operator writes', () => {
    const data = builtInPrices();

    expect(parsePriceData(JSON.parse(JSON.stringify(data)), 'built-in')).toEqual(data);
  });

  it('prices peak exactly twice off-peak on all three token classes', () => {
    for (const row of builtInPrices().rows)
      if ('peak' in row)
        expect(row.peak).toEqual({
          hit: row.offPeak.hit * 2,
          miss: row.offPeak.miss * 2,
          output: row.offPeak.output * 2,
        });
  });
});
