/**
 * The price catalog's data format: the built-in rows and an operator's price file share it, so
 * a price change is a file, not a release. A price file is JSON:
 *
 * ```json
 * { "rows": [...], "peakRules": [...], "holidays": [...] }
 * ```
 *
 * Every field is checked; an error names the bad entry (`rows[2] (deepseek-flash from
 * 2027-01-01T00:00:00Z): offPeak.miss: ...`), so an operator knows which line to fix.
 */
import * as z from 'zod';
import { ISO_INSTANT_FORM, parseIsoInstant } from '../clock';

/** Integer micro-USD per million tokens: $0.0028 per 1M = 2,800. */
const microUsd = z.int().nonnegative().max(1e12);

export const TierPricesSchema = z.strictObject({
  /** Prompt tokens served from the provider's context cache. */
  hit: microUsd,
  /** Prompt tokens not served from the cache. */
  miss: microUsd,
  /** Completion tokens, reasoning included (the provider counts reasoning as completion). */
  output: microUsd,
});
export type TierPrices = z.output<typeof TierPricesSchema>;

/** An ISO 8601 instant with `Z` or an offset, as text. */
export const IsoInstantSchema = z.string().refine((s) => parseIsoInstant(s) !== undefined, {
  error: `must be ${ISO_INSTANT_FORM}`,
});
const instant = IsoInstantSchema;
const modelId = z.string().regex(/^[A-Za-z0-9._:/-]{1,100}$/, { error: 'must be a model id' });
const name = z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, { error: 'must be a name' });

const rowBase = {
  /** Unique within its source; defaults to `<model>@<from>`. */
  id: z.string().min(1).max(200).optional(),
  model: modelId,
  provider: z.enum(['deepseek', 'openai']).default('deepseek'),
  /** First instant the row applies. */
  from: instant,
  /** First instant the row no longer applies; absent: no end announced. */
  until: instant.optional(),
  /** The public page or document the figures come from. */
  source: z.string().min(3),
  /** Reference models price counterfactuals only. */
  reference: z.boolean().default(false),
};

/** One price all day. */
const FlatRowSchema = z.strictObject({ ...rowBase, flat: TierPricesSchema });
/** Peak prices inside the windows of the named peak rule, off-peak prices outside them. */
const PeakRowSchema = z.strictObject({
  ...rowBase,
  offPeak: TierPricesSchema,
  peak: TierPricesSchema,
  peakRule: name,
});
/** The model is billed as another model (the row of `billedAs` in force at the same instant). */
const AliasRowSchema = z.strictObject({ ...rowBase, billedAs: modelId });

export type FlatRow = z.output<typeof FlatRowSchema>;
export type PeakRow = z.output<typeof PeakRowSchema>;
export type AliasRow = z.output<typeof AliasRowSchema>;
export type RowData = FlatRow | PeakRow | AliasRow;
/** A row as written in a file (defaults not yet filled in). */
export type RowInput = z.input<typeof FlatRowSchema | typeof PeakRowSchema | typeof AliasRowSchema>;

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, {
  error: 'must be HH:MM, 00:00 to 24:00',
});

/**
 * When a peak row bills its peak prices, over an interval: inside one of the daily UTC windows,
 * unless the day (in the rule's time zone) is one of `offPeakWeekdays` or a holiday of
 * `holidayCalendar`. DeepSeek's rules count days in Beijing time (UTC+8).
 */
export const PeakRuleSchema = z.strictObject({
  /** The name peak rows refer to; several dated rules may share it. */
  rule: name,
  from: instant,
  until: instant.optional(),
  windowsUtc: z
    .array(z.strictObject({ from: clockTime, until: clockTime }))
    .min(1)
    .refine((ws) => ws.every((w) => w.from < w.until), {
      error: 'a window must end after it starts',
    }),
  /** Days off-peak all day, 0 = Sunday, counted in the rule's time zone. */
  offPeakWeekdays: z.array(z.int().min(0).max(6)).default([]),
  /** Days of this holiday calendar are off-peak all day. */
  holidayCalendar: name.optional(),
  /** The rule's time zone for weekdays and holidays, in minutes east of UTC. */
  utcOffsetMinutes: z.int().min(-840).max(840).default(480),
  source: z.string().min(3),
});
export type PeakRuleData = z.output<typeof PeakRuleSchema>;

/** One year of a holiday calendar; a later source's list for a year replaces an earlier one. */
export const HolidayListSchema = z
  .strictObject({
    calendar: name,
    year: z.int().min(2000).max(2100),
    dates: z.array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be YYYY-MM-DD' })),
    source: z.string().min(3),
  })
  .superRefine((list, ctx) => {
    for (const [i, d] of list.dates.entries()) {
      const valid = new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) === d;
      if (!valid || !d.startsWith(`${list.year}-`))
        ctx.addIssue({
          code: 'custom',
          path: ['dates', i],
          message: `${d} is not a date of ${list.year}`,
        });
    }
  });
export type HolidayListData = z.output<typeof HolidayListSchema>;

/** Everything a price source holds. */
export interface PriceData {
  rows: RowData[];
  peakRules: PeakRuleData[];
  holidays: HolidayListData[];
}

/** A price file or price setting could not be read; the message names the bad entry. */
export class PriceFileError extends Error {
  override name = 'PriceFileError';
}

function issues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.map(String).join('.') || '(entry)'}: ${i.message}`)
    .join('; ');
}

function rowLabel(raw: unknown): string {
  const r = (raw ?? {}) as Record<string, unknown>;
  return typeof r.model === 'string' ? ` (${r.model} from ${String(r.from)})` : '';
}

function rowSchemaOf(raw: unknown) {
  const r = (raw ?? {}) as Record<string, unknown>;
  if ('billedAs' in r) return AliasRowSchema;
  if ('flat' in r) return FlatRowSchema;
  if ('peak' in r || 'offPeak' in r || 'peakRule' in r) return PeakRowSchema;
  return undefined;
}

function checked<T>(result: z.ZodSafeParseResult<T>): T | string {
  return result.success ? result.data : issues(result.error);
}

function parseRow(raw: unknown): RowData | string {
  const schema = rowSchemaOf(raw);
  if (!schema) return 'needs prices: flat, or offPeak + peak + peakRule, or billedAs';
  return checked<RowData>(schema.safeParse(raw));
}

/** Parses every entry of a list; `parse` returns the value or what is wrong with it. */
function parseEach<T>(
  origin: string,
  what: string,
  list: unknown,
  parse: (raw: unknown) => T | string,
  label: (raw: unknown) => string = () => '',
): T[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new PriceFileError(`${origin}: ${what} must be a list`);
  return list.map((raw, i) => {
    const parsed = parse(raw);
    if (typeof parsed === 'string')
      throw new PriceFileError(`${origin}: ${what}[${i}]${label(raw)}: ${parsed}`);
    return parsed;
  });
}

/**
 * Reads price data from a file's text or an already-parsed object; `origin` names the source in
 * errors (a path, `s3://bucket/config/prices.json`, `settings.pricing.prices`).
 * @throws PriceFileError naming the bad entry.
 */
export function parsePriceData(input: unknown, origin: string): PriceData {
  let raw = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch (cause) {
      throw new PriceFileError(`${origin}: not valid JSON`, { cause });
    }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new PriceFileError(`${origin}: must be an object with rows, peakRules and holidays`);
  const { rows, peakRules, holidays, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0)
    throw new PriceFileError(
      `${origin}: unknown field(s) ${unknown.join(', ')}: use rows, peakRules, holidays`,
    );
  return {
    rows: parseEach(origin, 'rows', rows, parseRow, rowLabel),
    peakRules: parseEach(origin, 'peakRules', peakRules, (r) =>
      checked(PeakRuleSchema.safeParse(r)),
    ),
    holidays: parseEach(origin, 'holidays', holidays, (r) =>
      checked(HolidayListSchema.safeParse(r)),
    ),
  };
}

/**
 * Price data inside a settings object (the stack config's or the pipeline's `pricing.prices`):
 * optional, kept as given, checked with `parsePriceData` so a bad row fails where it is set.
 */
export const PriceDataSettingSchema = z
  .unknown()
  .optional()
  .superRefine((prices, ctx) => {
    if (prices === undefined) return;
    try {
      parsePriceData(prices, 'prices');
    } catch (err) {
      if (!(err instanceof PriceFileError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
  });
