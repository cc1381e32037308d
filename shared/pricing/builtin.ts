/**
 * The built-in price history: every row the team handbook's facts page ("Models and prices",
 * rechecked 2026-11-30 against DeepSeek's pricing page as stored on several dates) lists, in
 * the price file format (schema.ts), so an operator's file can add to or override any of it.
 * Prices are integer micro-USD per million tokens; a test pins each row to the facts page.
 */
import type { PriceData } from './schema';

/**
 * When DeepSeek switched the flash model to V4.1 (`deepseek-flash`) prices. Sources disagree:
 * 2026-09-09 16:00 UTC (00:00 Beijing) or 2026-09-10 04:00 UTC. The first is the default; the
 * setting `pricing.v41SwitchAt` (and the CLI's `--v41-switch-at`) chooses another.
 */
export const DEFAULT_V41_SWITCH_AT = '2026-09-09T16:00:00Z';
/** The other instant sources give for the V4.1 switch. */
export const ALTERNATIVE_V41_SWITCH_AT = '2026-09-10T04:00:00Z';

/** The reference model counterfactual costs are priced on unless another is named. */
export const DEFAULT_REFERENCE_MODEL = 'gpt-5.4';

/** What the built-in history leaves to a setting, because its sources disagree. */
export interface BuiltInOptions {
  /** ISO instant from which the V4.1 flash prices apply; default DEFAULT_V41_SWITCH_AT. */
  v41SwitchAt?: string;
}

/** Name of the `source` of every built-in row, rule and holiday list. */
export const BUILT_IN_ORIGIN = 'built-in';

const PRICING_PAGE = 'DeepSeek API docs: Models & Pricing';
const FACTS = 'facts page, Models and prices (rechecked 2026-11-30)';
const SEED = 'seed document';

/** The V3.2 aliases moved to V4 Flash at 2026-07-24 15:59 UTC: the row ends at 16:00:00Z. */
const V32_END = '2026-07-24T16:00:00Z';
/** Peak/off-peak billing began at 00:00 Beijing time on 17 August 2026. */
const PEAK_START = '2026-08-16T16:00:00Z';
/** Weekends (Beijing) became off-peak all day from 00:00 Beijing time on 23 August 2026. */
const WEEKENDS_OFF_PEAK = '2026-08-22T16:00:00Z';
/** Peak windows, UTC: 09:00-12:00 and 14:00-18:00 Beijing time. */
const WINDOWS_UTC = [
  { from: '01:00', until: '04:00' },
  { from: '06:00', until: '10:00' },
];

/**
 * Days off in China for 2026 (Beijing dates): New Year 1-3 Jan, Spring Festival 15-23 Feb,
 * Qingming 4-6 Apr, Labour Day 1-5 May, Dragon Boat 19-21 Jun, Mid-Autumn 25-27 Sep, National
 * Day 1-7 Oct. Make-up working weekend days are not listed: DeepSeek's peak hours are Monday to
 * Friday, so a working Saturday stays off-peak. The 2027 list is not published yet: add it to a
 * price file (`holidays`) when it is; until then a weekday peak window of 2027 cannot be priced
 * for the ledger (see docs/pricing.md).
 */
export const CN_HOLIDAYS_2026: readonly string[] = [
  ...days('2026-01', 1, 3),
  ...days('2026-02', 15, 23),
  ...days('2026-04', 4, 6),
  ...days('2026-05', 1, 5),
  ...days('2026-06', 19, 21),
  ...days('2026-09', 25, 27),
  ...days('2026-10', 1, 7),
];

function days(month: string, first: number, last: number): string[] {
  const out: string[] = [];
  for (let d = first; d <= last; d++) out.push(`${month}-${String(d).padStart(2, '0')}`);
  return out;
}

const flat = (hit: number, miss: number, output: number) => ({ flat: { hit, miss, output } });

/** Off-peak prices; peak is exactly twice each, as DeepSeek publishes. */
const peaked = (hit: number, miss: number, output: number) => ({
  offPeak: { hit, miss, output },
  peak: { hit: hit * 2, miss: miss * 2, output: output * 2 },
  peakRule: 'deepseek',
});

/** The built-in rows, peak rules and holidays, with the V4.1 switch at the chosen instant. */
export function builtInPrices(options: BuiltInOptions = {}): PriceData {
  const switchAt = options.v41SwitchAt ?? DEFAULT_V41_SWITCH_AT;
  const deepseek = { provider: 'deepseek' as const, reference: false };
  const reference = { provider: 'openai' as const, reference: true };
  return {
    rows: [
      ...['deepseek-chat', 'deepseek-reasoner'].flatMap((model) => [
        {
          ...deepseek,
          model,
          from: '2025-09-29T00:00:00Z',
          until: V32_END,
          ...flat(28_000, 280_000, 420_000),
          source: `${PRICING_PAGE} (V3.2); the ${SEED}'s prices`,
        },
        {
          ...deepseek,
          model,
          from: V32_END,
          billedAs: 'deepseek-v4-flash',
          source: `${FACTS}: after 2026-07-24 16:00 UTC the name is an alias served by V4 Flash`,
        },
      ]),
      {
        ...deepseek,
        model: 'deepseek-v4-flash',
        from: '2026-04-24T00:00:00Z',
        until: PEAK_START,
        ...flat(2_800, 140_000, 280_000),
        source: `${PRICING_PAGE} (V4 release, flat)`,
      },
      {
        ...deepseek,
        model: 'deepseek-v4-pro',
        from: '2026-04-24T00:00:00Z',
        until: PEAK_START,
        ...flat(3_625, 435_000, 870_000),
        source: `${PRICING_PAGE} (V4 release, flat)`,
      },
      ...['deepseek-v4-flash', 'deepseek-v4-flash-vision-exp'].flatMap((model) => [
        {
          ...deepseek,
          model,
          from: PEAK_START,
          until: switchAt,
          ...peaked(7_000, 220_000, 660_000),
          source: `${PRICING_PAGE} (peak/off-peak from 2026-08-16 16:00 UTC)`,
        },
        {
          ...deepseek,
          model,
          from: switchAt,
          billedAs: 'deepseek-flash',
          source: `${PRICING_PAGE}: the legacy name is served by V4.1 Flash and billed at its prices`,
        },
      ]),
      {
        ...deepseek,
        model: 'deepseek-v4-pro',
        from: PEAK_START,
        ...peaked(22_000, 660_000, 1_980_000),
        source: `${PRICING_PAGE} (peak/off-peak from 2026-08-16 16:00 UTC)`,
      },
      {
        ...deepseek,
        model: 'deepseek-flash',
        from: switchAt,
        ...peaked(3_000, 150_000, 600_000),
        source: `${PRICING_PAGE} (V4.1 Flash; switch instant: setting pricing.v41SwitchAt)`,
      },
      {
        ...reference,
        model: 'gpt-5.4',
        // The seed gives no date: the reference covers every date the catalog does.
        from: '2025-01-01T00:00:00Z',
        ...flat(2_500_000, 2_500_000, 15_000_000),
        source: `${SEED} ("xhigh reasoning" prices; no cache discount in the seed)`,
      },
      {
        ...reference,
        model: 'gpt-5.4-pro',
        from: '2025-01-01T00:00:00Z',
        ...flat(30_000_000, 30_000_000, 120_000_000),
        source: `${SEED} (no cache discount in the seed)`,
      },
    ],
    peakRules: [
      {
        rule: 'deepseek',
        from: PEAK_START,
        until: WEEKENDS_OFF_PEAK,
        windowsUtc: WINDOWS_UTC,
        offPeakWeekdays: [],
        utcOffsetMinutes: 480,
        source: `${FACTS}: at first every day had peak hours`,
      },
      {
        rule: 'deepseek',
        from: WEEKENDS_OFF_PEAK,
        windowsUtc: WINDOWS_UTC,
        // Saturday and Sunday in Beijing time.
        offPeakWeekdays: [0, 6],
        holidayCalendar: 'cn',
        utcOffsetMinutes: 480,
        source: `${FACTS}: Beijing weekends and Chinese public holidays off-peak all day`,
      },
    ],
    holidays: [
      {
        calendar: 'cn',
        year: 2026,
        dates: [...CN_HOLIDAYS_2026],
        source:
          "State Council General Office's notice on the 2026 holiday arrangements (4 Nov 2025)",
      },
    ],
  };
}
