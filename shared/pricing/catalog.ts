/**
 * The price catalog: data only. Every row is a model's prices over a period, in integer
 * micro-USD per million tokens ($0.0028 per 1M = 2,800), which holds every published price
 * exactly. A request is priced by the row in force at its timestamp (see cost.ts).
 *
 * Periods are half-open: a row is in force from `effectiveFrom` (inclusive) until
 * `effectiveUntil` (exclusive; absent = still in force). Where a source says a price ends at
 * "15:59 UTC", the row ends at 16:00:00Z, the first instant it no longer applies.
 */

export type Provider = 'deepseek' | 'openai';

/** Prices of one tier, micro-USD per million tokens. */
export interface TierPrices {
  /** Prompt tokens served from the provider's context cache. */
  hit: number;
  /** Prompt tokens not served from the cache. */
  miss: number;
  /** Completion tokens, reasoning included (the provider counts reasoning as completion). */
  output: number;
}

/** A daily window of UTC hours, [startHourUtc, endHourUtc). */
export interface PeakWindow {
  startHourUtc: number;
  endHourUtc: number;
}

/**
 * When a model bills its peak prices: inside a window, on Monday to Friday in China Standard
 * Time, unless the day is a Chinese public holiday. Every window lies within 01:00-10:00 UTC,
 * which is the same calendar day in UTC and in China (UTC+8).
 */
export interface PeakSchedule {
  prices: TierPrices;
  windows: readonly PeakWindow[];
  /** Days off in China, `YYYY-MM-DD` in China Standard Time; off-peak all day. */
  holidays: readonly string[];
  /** Where the holiday dates come from. */
  holidaySource: string;
}

export interface PriceRow extends TierPrices {
  model: string;
  provider: Provider;
  /** ISO 8601 UTC; first instant the row applies. */
  effectiveFrom: string;
  /** ISO 8601 UTC; first instant the row no longer applies. Absent: no end announced. */
  effectiveUntil?: string;
  /** The public page or document the figures come from. */
  source: string;
  /** Reference models price counterfactuals; they have no cache discount (hit = miss). */
  reference: boolean;
  /** Peak prices, for models billed by time of day; the row's own prices are off-peak. */
  peak?: PeakSchedule;
}

/**
 * Chinese public holidays (days off) for 2026, from the State Council General Office's
 * notice on the 2026 holiday arrangements (国务院办公厅关于2026年部分节假日安排的通知,
 * 4 November 2025, published by Xinhua). Make-up working weekend days (调休上班) are not
 * listed: DeepSeek defines peak as Monday to Friday, so a working Saturday stays off-peak.
 */
export const CN_HOLIDAYS_2026: readonly string[] = [
  // New Year: 1-3 January
  '2026-01-01',
  '2026-01-02',
  '2026-01-03',
  // Spring Festival: 15-23 February
  '2026-02-15',
  '2026-02-16',
  '2026-02-17',
  '2026-02-18',
  '2026-02-19',
  '2026-02-20',
  '2026-02-21',
  '2026-02-22',
  '2026-02-23',
  // Qingming: 4-6 April
  '2026-04-04',
  '2026-04-05',
  '2026-04-06',
  // Labour Day: 1-5 May
  '2026-05-01',
  '2026-05-02',
  '2026-05-03',
  '2026-05-04',
  '2026-05-05',
  // Dragon Boat: 19-21 June
  '2026-06-19',
  '2026-06-20',
  '2026-06-21',
  // Mid-Autumn: 25-27 September
  '2026-09-25',
  '2026-09-26',
  '2026-09-27',
  // National Day: 1-7 October
  '2026-10-01',
  '2026-10-02',
  '2026-10-03',
  '2026-10-04',
  '2026-10-05',
  '2026-10-06',
  '2026-10-07',
];

/**
 * Chinese public holidays for 2027: provisional. The State Council publishes each year's
 * arrangement (with bridge days) in the November before; until the 2027 notice exists, these
 * are only the statutory days of the National Holidays Regulation (全国年节及纪念日放假办法,
 * as revised in November 2024) on 2027's lunar dates: New Year 1 Jan; Spring Festival eve to
 * third day, 5-8 Feb (New Year's Day 6 Feb); Qingming 5 Apr; Labour Day 1-2 May; Dragon Boat
 * 9 Jun; Mid-Autumn 15 Sep; National Day 1-3 Oct. Bridge days added by the notice will be
 * billed at peak here until this list is updated, which overestimates, never underestimates.
 */
export const CN_HOLIDAYS_2027_PROVISIONAL: readonly string[] = [
  '2027-01-01',
  '2027-02-05',
  '2027-02-06',
  '2027-02-07',
  '2027-02-08',
  '2027-04-05',
  '2027-05-01',
  '2027-05-02',
  '2027-06-09',
  '2027-09-15',
  '2027-10-01',
  '2027-10-02',
  '2027-10-03',
];

const DEEPSEEK_PRICING = 'DeepSeek API docs: Models & Pricing';
const SEED = 'seed document';

/** The first instant after the V3.2 aliases were moved to V4 (2026-07-24 15:59 UTC). */
const V32_END = '2026-07-24T16:00:00Z';

/**
 * Every priced model. Figures are from the team handbook's facts page ("Models and prices"),
 * which names each row's public source; a test pins each figure to it.
 */
export const CATALOG: readonly PriceRow[] = [
  {
    model: 'deepseek-chat',
    provider: 'deepseek',
    effectiveFrom: '2025-09-29T00:00:00Z',
    effectiveUntil: V32_END,
    hit: 28_000,
    miss: 280_000,
    output: 420_000,
    source: `${DEEPSEEK_PRICING} (V3.2); the ${SEED}'s prices`,
    reference: false,
  },
  {
    model: 'deepseek-reasoner',
    provider: 'deepseek',
    effectiveFrom: '2025-09-29T00:00:00Z',
    effectiveUntil: V32_END,
    hit: 28_000,
    miss: 280_000,
    output: 420_000,
    source: `${DEEPSEEK_PRICING} (V3.2); the ${SEED}'s prices`,
    reference: false,
  },
  {
    model: 'deepseek-v4-flash',
    provider: 'deepseek',
    effectiveFrom: '2026-04-24T00:00:00Z',
    hit: 2_800,
    miss: 140_000,
    output: 280_000,
    source: DEEPSEEK_PRICING,
    reference: false,
  },
  {
    model: 'deepseek-v4-pro',
    provider: 'deepseek',
    effectiveFrom: '2026-04-24T00:00:00Z',
    hit: 3_625,
    miss: 435_000,
    output: 870_000,
    source: DEEPSEEK_PRICING,
    reference: false,
  },
  {
    model: 'deepseek-flash',
    provider: 'deepseek',
    // The source gives no start date ("latest published"); peak pricing was announced to
    // begin with the V4 release, when the V3.2 aliases end, so the row starts there.
    effectiveFrom: V32_END,
    hit: 3_000,
    miss: 150_000,
    output: 600_000,
    source: `${DEEPSEEK_PRICING} (V4.1, latest published; off-peak and peak prices)`,
    reference: false,
    peak: {
      prices: { hit: 6_000, miss: 300_000, output: 1_200_000 },
      // 09:00-12:00 and 14:00-18:00 China Standard Time.
      windows: [
        { startHourUtc: 1, endHourUtc: 4 },
        { startHourUtc: 6, endHourUtc: 10 },
      ],
      holidays: [...CN_HOLIDAYS_2026, ...CN_HOLIDAYS_2027_PROVISIONAL],
      holidaySource:
        'State Council holiday notice for 2026 (4 Nov 2025); 2027: statutory days only, provisional',
    },
  },
  {
    model: 'gpt-5.4',
    provider: 'openai',
    // The seed gives no date: the reference is in force for every date the catalog covers.
    effectiveFrom: '2025-01-01T00:00:00Z',
    hit: 2_500_000,
    miss: 2_500_000,
    output: 15_000_000,
    source: `${SEED} ("xhigh reasoning" prices; no cache discount in the seed)`,
    reference: true,
  },
  {
    model: 'gpt-5.4-pro',
    provider: 'openai',
    effectiveFrom: '2025-01-01T00:00:00Z',
    hit: 30_000_000,
    miss: 30_000_000,
    output: 120_000_000,
    source: `${SEED} (no cache discount in the seed)`,
    reference: true,
  },
];

/** The reference model counterfactual costs are priced on unless another is named. */
export const DEFAULT_REFERENCE_MODEL = 'gpt-5.4';
