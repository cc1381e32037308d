/**
 * Where a chargeback report's figures come from. Roll-ups answer what they can (team, project,
 * model and kind, by month, or by day from the daily roll-ups written in the same transaction):
 * one Query a month. Anything finer (batch, endpoint, tier, tags, a tag filter, the amortised
 * warm-up view) reads the cost records of each team's month (one Query per team and month,
 * never a Scan); at org scale the line items in Athena answer the same.
 */
import { type CostRecord, dayOf, type LedgerStore, monthOf, type Rollup } from '../ports/ledger';
import { QUALITY_FIELDS, type QualityTotals } from '../quality/verdicts';
import { type Totals, totalsOfAwsLine, totalsOfResponse, zeroTotals } from '../totals';
import { amortise } from './amortise';
import { QUALITY_DIMENSIONS, ROLLUP_DIMENSIONS, type WarmupView } from './dimensions';
import { type DayRange, wholeMonths } from './period';

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

/** Which spend a query keeps; team and project match case-insensitively, as they are stored. */
export interface Filters {
  team?: string;
  project?: string;
  model?: string;
  /** Only spend carrying every such tag. */
  tags?: Record<string, string>;
  /** Only these lanes (chargeback may leave shadow runs out); default all. */
  lanes?: readonly string[];
}

/** True when a fact or a cost record passes the filters (an absent lane is primary). */
export function matches(
  x: {
    team: string;
    project: string;
    model: string;
    lane?: string | undefined;
    tags?: Record<string, string> | undefined;
  },
  f: Filters,
): boolean {
  return (
    (f.team === undefined || x.team === f.team.toLowerCase()) &&
    (f.project === undefined || x.project === f.project.toLowerCase()) &&
    (f.model === undefined || x.model === f.model) &&
    (f.lanes === undefined || f.lanes.includes(x.lane ?? 'primary')) &&
    Object.entries(f.tags ?? {}).every(([k, v]) => x.tags?.[k] === v)
  );
}

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
  return (
    q.view === 'amortised' ||
    Object.keys(q.tags ?? {}).length > 0 ||
    q.by.some((d) => !ROLLUP_DIMENSIONS.has(d))
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
