/**
 * The chargeback query: one entry for every output. Given a period, dimensions, filters and a
 * warm-up view it reads the ledger (roll-ups where they answer, cost records otherwise), groups
 * and totals, and says why figures are missing (unpriced responses, quality not splittable).
 * The CLI's table, CSV, JSON and HTML render its result; `--detail` and FOCUS its records.
 */
import type { CostRecord, LedgerStore } from '../ports/ledger';
import { type Amortised, amortise } from './amortise';
import { type Dimension, qualityUnavailable, type WarmupView } from './dimensions';
import { type Filters, loadFacts, matches, needsRecords, recordFacts, recordsOf } from './facts';
import { type DayRange, wholeMonths } from './period';
import { aggregate, type CostReport } from './report';
import { type ChartSeries, chartSeries } from './series';

/** What the ledger must answer for a query. */
export type ChargebackLedger = Pick<
  LedgerStore,
  'rollups' | 'dailyRollups' | 'records' | 'unpricedRecords'
>;

export interface ChargebackQuery extends Filters {
  range: DayRange;
  by: Dimension[];
  warmup: WarmupView;
  /** Also the charts' series (per day, tier and project), which need the cost records. */
  series?: boolean;
}

export interface ChargebackResult {
  report: CostReport;
  series?: ChartSeries;
}

/** Why the month's unpriced responses are unpriced: one Query of each month's unpriced index. */
async function unpricedReasons(
  ledger: Pick<LedgerStore, 'unpricedRecords'>,
  months: readonly string[],
  team: string | undefined,
): Promise<string[]> {
  const reasons = new Set<string>();
  for (const month of months)
    for (const r of await ledger.unpricedRecords(month))
      if (r.unpriced && (team === undefined || r.team === team.toLowerCase()))
        reasons.add(r.unpriced.reason);
  return [...reasons].sort();
}

/** Runs a chargeback query: the grouped report, and the charts' series when asked. */
export async function queryChargeback(
  ledger: ChargebackLedger,
  q: ChargebackQuery,
): Promise<ChargebackResult> {
  const { range, by, warmup, series, ...filters } = q;
  const tags = filters.tags ?? {};
  const factQuery = { by, team: filters.team, tags, view: warmup };
  const facts = await loadFacts(ledger, range, factQuery);
  const qualityNote = qualityUnavailable(by, wholeMonths(range), Object.keys(tags).length > 0);
  const report = aggregate(facts, {
    ...filters,
    by,
    months: range.months,
    days: { from: range.from, to: range.to },
    warmup,
    ...(qualityNote ? { qualityNote } : {}),
  });
  if (report.unpriced)
    report.unpriced.reasons = await unpricedReasons(ledger, range.months, filters.team);
  if (!series) return { report };
  // The charts need days, tiers and projects: records answer them all at once.
  const all = needsRecords(factQuery)
    ? facts
    : recordFacts(await recordsOf(ledger, range, filters.team?.toLowerCase()), warmup);
  return { report, series: chartSeries(all, filters) };
}

/** The cost records of a period that pass the filters, in time order (`--detail`, FOCUS). */
export async function queryRecords(
  ledger: Pick<LedgerStore, 'rollups' | 'records'>,
  range: DayRange,
  filters: Filters,
): Promise<CostRecord[]> {
  const records = await recordsOf(ledger, range, filters.team?.toLowerCase());
  return records.filter((r) => matches(r, filters));
}

/** The filtered cost records with their warm-up shares, as `--detail` lists them. */
export async function queryDetail(
  ledger: Pick<LedgerStore, 'rollups' | 'records'>,
  range: DayRange,
  filters: Filters,
): Promise<Amortised[]> {
  return amortise(await queryRecords(ledger, range, filters));
}
