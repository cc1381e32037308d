import { describe, expect, it } from 'vitest';
import { builtInPrices } from '../../shared/pricing/builtin';
import {
  buildCatalog,
  builtInLayer,
  CatalogError,
  catalogFrom,
} from '../../shared/pricing/catalog';
import {
  highestPrice,
  ModelRetiredError,
  resolvePrice,
  UnknownModelError,
} from '../../shared/pricing/cost';
import { PriceFileError, parsePriceData } from '../../shared/pricing/schema';

const FLASH_2027 = {
  model: 'deepseek-flash',
  from: '2027-01-01T00:00:00Z',
  offPeak: { hit: 2_000, miss: 100_000, output: 400_000 },
  peak: { hit: 4_000, miss: 200_000, output: 800_000 },
  peakRule: 'deepseek',
  source: 'operator: DeepSeek notice of 2026-12-15',
};

const fileLayer = (data: unknown, origin = '/etc/warmbatch/prices.json') => ({
  origin,
  data: parsePriceData(data, origin),
});

describe('price files', () => {
  it('overrides a built-in price from a date on with one row, and says where each row came from', () => {
    // Prepare
    const catalog = buildCatalog([builtInLayer(), fileLayer({ rows: [FLASH_2027] })]);

    // Act: Saturday 2026-12-26 and Saturday 2027-01-02, both off-peak
    const before = resolvePrice('deepseek-flash', new Date('2026-12-26T12:00:00Z'), catalog);
    const after = resolvePrice('deepseek-flash', new Date('2027-01-02T12:00:00Z'), catalog);

    // Assess
    expect([before.miss, before.row.origin]).toEqual([150_000, 'built-in']);
    expect([after.miss, after.row.origin]).toEqual([100_000, '/etc/warmbatch/prices.json']);
    expect(after.row.id).toBe('deepseek-flash@2027-01-01T00:00:00Z');
  });

  it('names the bad row and field', () => {
    const bad = {
      rows: [FLASH_2027, { ...FLASH_2027, offPeak: { hit: 1, miss: 1.5, output: 1 } }],
    };

    const act = () => parsePriceData(JSON.stringify(bad), 'prices.json');

    expect(act).toThrow(PriceFileError);
    expect(act).toThrow(
      /prices\.json: rows\[1\] \(deepseek-flash from 2027-01-01T00:00:00Z\): offPeak\.miss/,
    );
  });

  it('refuses a time without an offset, a row without prices, and unknown fields', () => {
    expect(() =>
      parsePriceData({ rows: [{ ...FLASH_2027, from: '2027-01-01T00:00:00' }] }, 'f'),
    ).toThrow(/rows\[0\].*from: must be an ISO 8601 time with an explicit offset or Z/);
    const { offPeak: _o, peak: _p, peakRule: _r, ...noPrices } = FLASH_2027;
    expect(() => parsePriceData({ rows: [noPrices] }, 'f')).toThrow(
      /rows\[0\] \(deepseek-flash from .*\): needs prices: flat, or offPeak \+ peak \+ peakRule, or billedAs/,
    );
    expect(() => parsePriceData({ rows: [], prices: [] }, 'f')).toThrow(
      /unknown field\(s\) prices/,
    );
    expect(() => parsePriceData('{', 'f')).toThrow(/f: not valid JSON/);
    expect(() =>
      parsePriceData(
        { holidays: [{ calendar: 'cn', year: 2027, dates: ['2027-02-30'], source: 'x list' }] },
        'f',
      ),
    ).toThrow(/holidays\[0\]: dates\.0: 2027-02-30 is not a date of 2027/);
  });

  it('refuses two rows of one model in force at once within one source', () => {
    const act = () =>
      buildCatalog([
        builtInLayer(),
        fileLayer({
          rows: [FLASH_2027, { ...FLASH_2027, id: 'second', from: '2027-06-01T00:00:00Z' }],
        }),
      ]);

    expect(act).toThrow(CatalogError);
    expect(act).toThrow(
      /row second \(.*prices\.json\) overlaps row deepseek-flash@2027-01-01T00:00:00Z/,
    );
  });

  it('refuses an alias to a model no row prices, and a peak row without its rule', () => {
    expect(() =>
      buildCatalog([
        builtInLayer(),
        fileLayer({
          rows: [{ model: 'x', from: '2027-01-01T00:00:00Z', billedAs: 'nope', source: 'test' }],
        }),
      ]),
    ).toThrow(/bills x as nope, which no row prices/);
    expect(() =>
      buildCatalog([fileLayer({ rows: [{ ...FLASH_2027, peakRule: 'other' }] })]),
    ).toThrow(/peak rule other is not in force from 2027-01-01T00:00:00.000Z/);
  });

  it('adds a model from a file as an alias of a priced one', () => {
    const catalog = catalogFrom([
      ['built-in', builtInPrices()],
      [
        'prices.json',
        {
          rows: [
            {
              model: 'deepseek-flash-1017',
              from: '2026-10-17T00:00:00Z',
              billedAs: 'deepseek-flash',
              source: 'the model field the API returns since 2026-10-17',
            },
          ],
        },
      ],
    ]);

    const p = resolvePrice('deepseek-flash-1017', new Date('2026-11-30T12:00:00Z'), catalog);

    expect([p.billedAs, p.miss, p.via[0]?.origin]).toEqual([
      'deepseek-flash',
      150_000,
      'prices.json',
    ]);
  });
});

describe('pricing errors', () => {
  it('tells an unknown model from a retired one, with its retirement and the models in force', () => {
    const catalog = buildCatalog([
      builtInLayer(),
      fileLayer({
        rows: [
          {
            model: 'old-model',
            from: '2026-01-01T00:00:00Z',
            until: '2026-02-01T00:00:00Z',
            flat: { hit: 1, miss: 1, output: 1 },
            source: 'test row',
          },
        ],
      }),
    ]);
    const at = new Date('2026-11-30T12:00:00Z');

    expect(() => resolvePrice('gpt-4o', at, catalog)).toThrow(UnknownModelError);
    try {
      resolvePrice('old-model', at, catalog);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ModelRetiredError);
      const retired = err as ModelRetiredError;
      expect(retired.code).toBe('model_retired');
      expect(retired.retiredAt.toISOString()).toBe('2026-02-01T00:00:00.000Z');
      expect(retired.modelsInForce).toContain('deepseek-flash');
      expect(retired.modelsInForce).not.toContain('old-model');
    }
  });
});

describe('highestPrice (reservations)', () => {
  const usd = (p: { miss: number; output: number; tier: string }) => [p.miss, p.output, p.tier];

  it('reserves at peak when a peak window can fall before the deadline', () => {
    // Monday 12:00 UTC (off-peak) with a deadline the next day at noon: Tuesday 01:00 is peak.
    const p = highestPrice(
      'deepseek-flash',
      new Date('2026-11-30T12:00:00Z'),
      new Date('2026-12-01T12:00:00Z'),
    );

    expect(usd(p)).toEqual([300_000, 1_200_000, 'peak']);
  });

  it('reserves off-peak when no peak window can fall in the interval', () => {
    // Saturday noon to Sunday 20:00 UTC (Monday 04:00 Beijing): a weekend, off-peak throughout.
    const p = highestPrice(
      'deepseek-flash',
      new Date('2026-11-28T12:00:00Z'),
      new Date('2026-11-29T20:00:00Z'),
    );

    expect(usd(p)).toEqual([150_000, 600_000, 'off-peak']);
  });

  it('reserves at the dearer row when prices change before the deadline', () => {
    // Planned on flat V4 Flash prices, run after peak billing began.
    const p = highestPrice(
      'deepseek-v4-flash',
      new Date('2026-08-16T10:00:00Z'),
      new Date('2026-08-17T12:00:00Z'),
    );

    expect(usd(p)).toEqual([440_000, 1_320_000, 'peak']);
  });

  it('reserves a job planned at 15:59:40 UTC on 2026-07-24 at the dearer of V3.2 and V4 Flash', () => {
    const p = highestPrice(
      'deepseek-chat',
      new Date('2026-07-24T15:59:40Z'),
      new Date('2026-07-24T18:00:00Z'),
    );

    expect([p.hit, p.miss, p.output]).toEqual([28_000, 280_000, 420_000]);
  });
});
