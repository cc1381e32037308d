/**
 * The price catalog: the built-in history (builtin.ts) with any operator price files merged
 * over it, checked once when it is built. Data only, with the lookups that read it: which row
 * of a model is in force at an instant, and whether a peak rule bills that instant at peak.
 *
 * Intervals are half-open, [from, until). Sources are layers: a row of a later layer wins over
 * an earlier layer's row of the same model wherever both are in force, so a price file can
 * change a price from a date on with one row. Within one layer, rows of a model never overlap.
 */
import { parseIsoInstant } from '../clock';
import { BUILT_IN_ORIGIN, type BuiltInOptions, builtInPrices } from './builtin';

export type { BuiltInOptions };

import { HolidaysUnknownError } from './errors';
import {
  type AliasRow,
  type FlatRow,
  type HolidayListData,
  type PeakRow,
  type PeakRuleData,
  type PriceData,
  parsePriceData,
} from './schema';

/** Where a row came from, for `warmbatch prices` and the cost record. */
interface Origin {
  /** `built-in`, a path, `s3://...`, or `settings`. */
  origin: string;
  /** Index of its layer; a higher layer wins. */
  layer: number;
  fromMs: number;
  /** Infinity when no end is announced. */
  untilMs: number;
}

export type PriceRow = (FlatRow | PeakRow | AliasRow) & Origin & { id: string };
export type PeakRule = PeakRuleData & Origin;
export type HolidayList = HolidayListData & { origin: string; layer: number; set: Set<string> };

export interface Catalog {
  rows: readonly PriceRow[];
  peakRules: readonly PeakRule[];
  /** Key `<calendar>/<year>`: the list of the highest layer that has one. */
  holidays: ReadonlyMap<string, HolidayList>;
  /** Every source merged, lowest first. */
  origins: readonly string[];
  byModel: ReadonlyMap<string, readonly PriceRow[]>;
}

/** One source of prices. */
export interface PriceLayer {
  origin: string;
  data: PriceData;
}

/** The merged sources contradict each other; the message names the rows. */
export class CatalogError extends Error {
  override name = 'CatalogError';
}

export const isAlias = (row: PriceRow): row is AliasRow & Origin & { id: string } =>
  'billedAs' in row;
export const isPeakRow = (row: PriceRow): row is PeakRow & Origin & { id: string } =>
  'peakRule' in row;

const ms = (iso: string) => (parseIsoInstant(iso) as Date).getTime();

function span(from: string, until: string | undefined, what: string) {
  const fromMs = ms(from);
  const untilMs = until === undefined ? Number.POSITIVE_INFINITY : ms(until);
  if (untilMs <= fromMs)
    throw new CatalogError(`${what}: until ${until} is not after from ${from}`);
  return { fromMs, untilMs };
}

const overlaps = (a: Origin, b: Origin) => a.fromMs < b.untilMs && b.fromMs < a.untilMs;

export const rowLabel = (r: Pick<PriceRow, 'id' | 'origin'>) => `row ${r.id} (${r.origin})`;

/** Whether a row or rule is in force at epoch ms `t`. */
export const inForce = (r: Pick<Origin, 'fromMs' | 'untilMs'>, t: number) =>
  r.fromMs <= t && t < r.untilMs;

/**
 * Merges price sources, lowest first (the built-in history, then settings, then files).
 * @throws CatalogError when rows of one source overlap, an alias names a model no row prices, or
 * a peak row is not covered by its peak rule.
 */
export function buildCatalog(layers: readonly PriceLayer[]): Catalog {
  const rows: PriceRow[] = [];
  const peakRules: PeakRule[] = [];
  const holidays = new Map<string, HolidayList>();
  for (const [layer, { origin, data }] of layers.entries()) {
    const own: PriceRow[] = [];
    for (const r of data.rows) {
      const id = r.id ?? `${r.model}@${r.from}`;
      const row = { ...r, id, origin, layer, ...span(r.from, r.until, `row ${id} (${origin})`) };
      const clash = own.find((o) => o.id === id || (o.model === r.model && overlaps(o, row)));
      if (clash)
        throw new CatalogError(
          `${rowLabel(row)} ${clash.id === id ? 'repeats the id of' : 'overlaps'} ${rowLabel(clash)}: one row per model and instant in a source`,
        );
      own.push(row);
    }
    rows.push(...own);
    const ownRules: PeakRule[] = [];
    for (const r of data.peakRules) {
      const rule = { ...r, origin, layer, ...span(r.from, r.until, `peak rule ${r.rule}`) };
      if (ownRules.some((o) => o.rule === r.rule && overlaps(o, rule)))
        throw new CatalogError(`peak rule ${r.rule} from ${r.from} (${origin}) overlaps another`);
      ownRules.push(rule);
    }
    peakRules.push(...ownRules);
    for (const h of data.holidays)
      holidays.set(`${h.calendar}/${h.year}`, { ...h, origin, layer, set: new Set(h.dates) });
  }
  const byModel = new Map<string, PriceRow[]>();
  for (const row of rows) byModel.set(row.model, [...(byModel.get(row.model) ?? []), row]);
  for (const row of rows) {
    if (isAlias(row) && !byModel.has(row.billedAs))
      throw new CatalogError(
        `${rowLabel(row)} bills ${row.model} as ${row.billedAs}, which no row prices`,
      );
    if (isPeakRow(row)) checkCovered(row, peakRules);
  }
  return { rows, peakRules, holidays, origins: layers.map((l) => l.origin), byModel };
}

/** A peak row must have its rule in force over its whole interval. */
function checkCovered(row: PriceRow & PeakRow, rules: readonly PeakRule[]): void {
  const own = rules.filter((r) => r.rule === row.peakRule).sort((a, b) => a.fromMs - b.fromMs);
  let t = row.fromMs;
  for (const r of own) if (r.fromMs <= t) t = Math.max(t, r.untilMs);
  if (t < row.untilMs)
    throw new CatalogError(
      `${rowLabel(row)}: peak rule ${row.peakRule} is not in force from ${new Date(t).toISOString()}`,
    );
}

/** The row of `model` in force at epoch ms `t`: the highest source's; undefined when none. */
export function rowAt(catalog: Catalog, model: string, t: number): PriceRow | undefined {
  let best: PriceRow | undefined;
  for (const row of catalog.byModel.get(model) ?? [])
    if (inForce(row, t) && (best === undefined || row.layer > best.layer)) best = row;
  return best;
}

/** The peak rule named `rule` in force at `t`: the highest source's. */
export function ruleAt(catalog: Catalog, rule: string, t: number): PeakRule | undefined {
  let best: PeakRule | undefined;
  for (const r of catalog.peakRules)
    if (r.rule === rule && inForce(r, t) && (best === undefined || r.layer > best.layer)) best = r;
  return best;
}

const minuteOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * Whether a peak rule bills instant `t` at peak: inside a window, on a day that is neither an
 * off-peak weekday nor a holiday in the rule's time zone.
 * @throws HolidaysUnknownError when it depends on a holiday list the catalog lacks.
 */
export function isPeakAt(catalog: Catalog, rule: PeakRule, t: number): boolean {
  const at = new Date(t);
  const minute = at.getUTCHours() * 60 + at.getUTCMinutes();
  if (!rule.windowsUtc.some((w) => minuteOf(w.from) <= minute && minute < minuteOf(w.until)))
    return false;
  const local = new Date(t + rule.utcOffsetMinutes * 60_000);
  if (rule.offPeakWeekdays.includes(local.getUTCDay())) return false;
  if (rule.holidayCalendar === undefined) return true;
  const year = local.getUTCFullYear();
  const list = catalog.holidays.get(`${rule.holidayCalendar}/${year}`);
  if (!list) throw new HolidaysUnknownError(rule.holidayCalendar, year);
  return !list.set.has(local.toISOString().slice(0, 10));
}

/** Every model id any row names, sorted. */
export function knownModels(catalog: Catalog): string[] {
  return [...catalog.byModel.keys()].sort();
}

/** Model ids with a row in force at `t` (aliases included), sorted. */
export function modelsInForce(catalog: Catalog, t: number): string[] {
  return knownModels(catalog).filter((m) => rowAt(catalog, m, t) !== undefined);
}

/** Reads and merges price sources: `[origin, data]` pairs, lowest first. */
export function catalogFrom(sources: readonly [string, unknown][]): Catalog {
  return buildCatalog(
    sources.map(([origin, raw]) => ({ origin, data: parsePriceData(raw, origin) })),
  );
}

/** The built-in history as a layer, with the V4.1 switch where `options` put it. */
export function builtInLayer(options: BuiltInOptions = {}): PriceLayer {
  return { origin: BUILT_IN_ORIGIN, data: builtInPrices(options) };
}

let defaultOne: Catalog | undefined;

/** The built-in history alone, with its default settings; built once. */
export function defaultCatalog(): Catalog {
  defaultOne ??= buildCatalog([builtInLayer()]);
  return defaultOne;
}
