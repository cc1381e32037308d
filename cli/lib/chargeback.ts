/**
 * Where a chargeback report's figures come from. Roll-ups answer what they can (team, project,
 * model and kind, by month, or by day from the daily roll-ups written in the same transaction):
 * one Query a month. Anything finer (batch, endpoint, tier, tags, a tag filter, the amortised
 * warm-up view) reads the cost records of each team's month (one Query per team and month,
 * never a Scan), as `--detail` does; at org scale the line items in Athena answer the same.
 */
import { amortise } from '../../shared/chargeback/amortise';
import {
  type CostRecord,
  dayOf,
  type LedgerStore,
  monthOf,
  type Rollup,
} from '../../shared/ports/ledger';
import { QUALITY_FIELDS, type QualityTotals } from '../../shared/quality/verdicts';
import { type Totals, totalsOfAwsLine, totalsOfResponse, zeroTotals } from '../../shared/totals';
import { monthRange, QUALITY_DIMENSIONS } from './costs';
import { UsageError } from './exit';

/** How warm-up cost is shown: apart, as overhead rows (`separate`), or spread onto each job. */
export const WARMUP_VIEWS = ['separate', 'amortised'] as const;
export type WarmupView = (typeof WARMUP_VIEWS)[number];

/** The UTC days a report covers, inclusive, and the months they touch. */
export interface DayRange {
  from: string;
  to: string;
  months: string[];
}

/** One fact a report adds up: totals, with the value of every dimension it can be grouped by. */
export interface Fact extends Totals, Partial<QualityTotals> {
  month: string;
  team: string;
  project: string;
  model: string;
  kind: string;
  /** `primary`, `repair` or `shadow`; absent: primary. */
  lane?: string;
  day?: string;
  batch?: string;
  endpoint?: string;
  tier?: string;
  /** Tag values by key (`tag:<key>` dimensions and `--tag` filters). */
  tags?: Record<string, string>;
  unpriced?: boolean;
}

const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The last day of a month (`2026-02` -> `2026-02-28`). */
function lastDay(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

/** A `--from`/`--to`/`--month` value as its first or last day; a month means all of it. */
export function dayBound(value: string, end: 'from' | 'to', flag: string): string {
  if (MONTH.test(value)) return end === 'from' ? `${value}-01` : lastDay(value);
  if (DAY.test(value) && dayOf(`${value}T00:00:00Z`) === value) return value;
  throw new UsageError(`${flag} ${value} is not a date: use YYYY-MM-DD (or a month, YYYY-MM)`);
}

/** Every month a day range touches; at most 36 so one typo cannot query for ever. */
export const monthsBetween = (from: string, to: string) =>
  monthRange(from.slice(0, 7), to.slice(0, 7));

/** The range of `--month`, or `--from`/`--to` (dates or months), or the current UTC month. */
export function dayRange(
  flags: { month?: string; from?: string; to?: string },
  now: Date,
): DayRange {
  if (flags.month !== undefined && (flags.from !== undefined || flags.to !== undefined))
    throw new UsageError('use either --month or --from/--to, not both');
  if ((flags.from === undefined) !== (flags.to === undefined))
    throw new UsageError('--from and --to go together: give both');
  const [from, to] =
    flags.month !== undefined
      ? (() => {
          if (!MONTH.test(flags.month))
            throw new UsageError(`--month ${flags.month} is not a month: use YYYY-MM`);
          return [`${flags.month}-01`, lastDay(flags.month)];
        })()
      : flags.from !== undefined && flags.to !== undefined
        ? [dayBound(flags.from, 'from', '--from'), dayBound(flags.to, 'to', '--to')]
        : [`${now.toISOString().slice(0, 7)}-01`, lastDay(now.toISOString().slice(0, 7))];
  if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
  return { from, to, months: monthsBetween(from, to) };
}

/** True when the range covers whole months only, so monthly roll-ups answer it. */
export const wholeMonths = (range: DayRange) =>
  range.from.endsWith('-01') && range.to === lastDay(range.to.slice(0, 7));

/** The facts of cost records: one per record, its warm-up shown apart or amortised. */
export function recordFacts(records: readonly CostRecord[], view: WarmupView): Fact[] {
  const shares =
    view === 'amortised'
      ? amortise(records)
      : records.map((record) => ({
          record,
          warmupShareNanoUsd: 0,
          amortisedCostNanoUsd: record.costNanoUsd,
        }));
  return shares.map(({ record: r, warmupShareNanoUsd, amortisedCostNanoUsd }) => {
    const overhead = r.purpose !== 'job';
    // A batch's AWS line is its own charge, apart from the model cost and its tokens.
    const totals =
      r.purpose === 'aws'
        ? totalsOfAwsLine(r.costNanoUsd)
        : totalsOfResponse(r.usage, amortisedCostNanoUsd, r.counterfactualNanoUsd, {
            overhead,
            estimated: r.estimated !== undefined,
          });
    // A job carries its share as warm-up within its cost; overhead shared out carries none.
    if (view === 'amortised' && warmupShareNanoUsd !== 0)
      totals.warmupCostNanoUsd = overhead ? 0 : warmupShareNanoUsd;
    return {
      ...totals,
      month: monthOf(r.sentAt),
      day: dayOf(r.sentAt),
      team: r.team,
      project: r.project,
      model: r.model,
      kind: r.kind,
      lane: r.lane ?? 'primary',
      batch: r.batchId,
      endpoint: r.endpoint,
      tier: r.price?.tier ?? 'unpriced',
      ...(r.tags ? { tags: r.tags } : {}),
      ...(r.unpriced ? { unpriced: true } : {}),
    };
  });
}

/** A roll-up's quality counters alone, as a fact that adds no cost and no tokens. */
function qualityFact(r: Rollup): Fact {
  return {
    ...zeroTotals(),
    ...Object.fromEntries(QUALITY_FIELDS.map((f) => [f, r[f]])),
    month: r.month,
    team: r.team,
    project: r.project,
    model: r.model,
    kind: r.kind,
    lane: r.lane,
    ...(r.unpriced ? { unpriced: true } : {}),
  };
}

/** Which teams had spend in the range's months (from the monthly roll-ups). */
async function teamsOf(ledger: Pick<LedgerStore, 'rollups'>, months: string[]): Promise<string[]> {
  const teams = new Set<string>();
  for (const month of months) for (const r of await ledger.rollups(month)) teams.add(r.team);
  return [...teams].sort();
}

/** The cost records of a range (all teams, or one), whole UTC days, in time order. */
export async function recordsOf(
  ledger: Pick<LedgerStore, 'rollups' | 'records'>,
  range: DayRange,
  team?: string,
): Promise<CostRecord[]> {
  const teams = team !== undefined ? [team] : await teamsOf(ledger, range.months);
  const out: CostRecord[] = [];
  for (const t of teams)
    for (const month of range.months)
      for (const r of await ledger.records(t, month)) {
        const day = dayOf(r.sentAt);
        if (day >= range.from && day <= range.to) out.push(r);
      }
  return out.sort((a, b) => (a.sentAt < b.sentAt ? -1 : a.sentAt > b.sentAt ? 1 : 0));
}

/** What a report needs besides the range: its dimensions, filters and warm-up view. */
export interface FactQuery {
  by: readonly string[];
  team?: string;
  tags?: Record<string, string>;
  view: WarmupView;
}

/** True when roll-ups cannot answer: a record-level dimension, a tag filter, or amortising. */
export function needsRecords(q: FactQuery): boolean {
  const rollupDims = new Set(['month', 'day', 'team', 'project', 'model', 'kind', 'lane']);
  return (
    q.view === 'amortised' ||
    Object.keys(q.tags ?? {}).length > 0 ||
    q.by.some((d) => !rollupDims.has(d))
  );
}

/** The facts a report adds up, from roll-ups where they answer, from records otherwise. */
export async function loadFacts(
  ledger: Pick<LedgerStore, 'rollups' | 'dailyRollups' | 'records'>,
  range: DayRange,
  q: FactQuery,
): Promise<Fact[]> {
  if (needsRecords(q)) {
    const facts = recordFacts(await recordsOf(ledger, range, q.team?.toLowerCase()), q.view);
    // Verdicts are not on records: where the view is by month, team, project, model, kind or
    // lane over whole months (the amortised view), they come from the monthly roll-ups.
    if (
      wholeMonths(range) &&
      Object.keys(q.tags ?? {}).length === 0 &&
      q.by.every((d) => QUALITY_DIMENSIONS.has(d))
    )
      for (const month of range.months)
        for (const r of await ledger.rollups(month)) facts.push(qualityFact(r));
    return facts;
  }
  const facts: Fact[] = [];
  const daily = q.by.includes('day') || !wholeMonths(range);
  for (const month of range.months) {
    if (!daily) facts.push(...(await ledger.rollups(month)));
    else
      for (const r of await ledger.dailyRollups(month))
        if (r.day !== undefined && r.day >= range.from && r.day <= range.to) facts.push(r);
  }
  return facts;
}
