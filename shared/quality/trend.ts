/**
 * Quality over time: pass rates of validated tests per UTC day, and over the trailing 7 and 28
 * days, from the ledger's daily roll-ups (a batch's verdicts are booked on the day the batch was
 * created). The playbook's migration step, "monitor for quality regression over 2-4 weeks",
 * reads the 7-day rate against the 28-day baseline; `warmbatch quality` prints both and the
 * planner publishes them for the stack's alarm. Pure functions over plain rows.
 */
import type { Kind, Lane } from '../types';

/** What a report may group by. */
export const TREND_DIMENSIONS = ['day', 'team', 'project', 'kind', 'model', 'lane'] as const;
export type TrendDimension = (typeof TREND_DIMENSIONS)[number];

/** One daily roll-up's test verdicts. */
export interface DayQuality {
  day: string;
  team: string;
  project: string;
  kind: Kind;
  model: string;
  lane: Lane;
  testsValidated: number;
  testsPassed: number;
  testsPassedFirst: number;
}

/** Only rows matching every given field. */
export interface TrendFilter {
  team?: string;
  project?: string;
  kind?: Kind;
  model?: string;
  lanes?: readonly Lane[];
}

/** Tests validated and passed over a window of days ending on `to`. */
export interface WindowRate {
  from: string;
  to: string;
  validated: number;
  passed: number;
  /** passed / validated; null when nothing was validated. */
  passRate: number | null;
}

export interface TrendRow {
  group: Partial<Record<TrendDimension, string>>;
  validated: number;
  passed: number;
  passedFirst: number;
  passRate: number | null;
  firstTryPassRate: number | null;
  /** The trailing windows ending on the row's day (or, without `day`, on the report's last day). */
  last7: WindowRate;
  last28: WindowRate;
}

export interface TrendReport {
  from: string;
  to: string;
  by: TrendDimension[];
  rows: TrendRow[];
  /** Everything in the range, with the windows ending on its last day. */
  total: TrendRow;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MS_PER_DAY = 86_400_000;

/** `day` moved by `n` UTC days. */
export function addDays(day: string, n: number): string {
  if (!DAY.test(day)) throw new RangeError(`not a day: ${day}`);
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * MS_PER_DAY).toISOString().slice(0, 10);
}

/** The UTC months (`yyyy-mm`) the days from `from` to `to` touch. */
export function monthsOfDays(from: string, to: string): string[] {
  const months: string[] = [];
  for (let m = from.slice(0, 7); m <= to.slice(0, 7); ) {
    months.push(m);
    const [y, mo] = m.split('-').map(Number) as [number, number];
    m = mo === 12 ? `${y + 1}-01` : `${y}-${String(mo + 1).padStart(2, '0')}`;
  }
  return months;
}

/** The first day of the data a report from `from` needs: its 28-day windows reach back. */
export const windowStart = (from: string) => addDays(from, -27);

const rate = (passed: number, validated: number) => (validated === 0 ? null : passed / validated);

function matches(r: DayQuality, f: TrendFilter): boolean {
  return (
    r.testsValidated > 0 &&
    (f.team === undefined || r.team === f.team) &&
    (f.project === undefined || r.project === f.project) &&
    (f.kind === undefined || r.kind === f.kind) &&
    (f.model === undefined || r.model === f.model) &&
    (f.lanes === undefined || f.lanes.includes(r.lane))
  );
}

/** Tests validated and passed by rows of `group` over the `days` days ending on `to`. */
export function windowRate(
  rows: readonly DayQuality[],
  to: string,
  days: number,
  group: Partial<Record<TrendDimension, string>> = {},
): WindowRate {
  const from = addDays(to, -(days - 1));
  let validated = 0;
  let passed = 0;
  for (const r of rows) {
    if (r.day < from || r.day > to) continue;
    if (Object.entries(group).some(([k, v]) => k !== 'day' && r[k as TrendDimension] !== v))
      continue;
    validated += r.testsValidated;
    passed += r.testsPassed;
  }
  return { from, to, validated, passed, passRate: rate(passed, validated) };
}

/**
 * Pass rates from `from` to `to` (UTC days, inclusive) grouped by `by`, each row with its
 * trailing 7- and 28-day rates. `rows` should reach back 27 days before `from`
 * (`windowStart`) so the first days' windows are whole.
 */
export function qualityTrend(
  rows: readonly DayQuality[],
  q: { from: string; to: string; by: readonly TrendDimension[]; filter?: TrendFilter },
): TrendReport {
  if (!DAY.test(q.from) || !DAY.test(q.to)) throw new RangeError('from and to must be days');
  if (q.from > q.to) throw new RangeError(`from ${q.from} is after to ${q.to}`);
  const kept = rows.filter((r) => matches(r, q.filter ?? {}));
  const inRange = kept.filter((r) => r.day >= q.from && r.day <= q.to);
  const groups = new Map<
    string,
    { group: Partial<Record<TrendDimension, string>>; rows: DayQuality[] }
  >();
  for (const r of inRange) {
    const group = Object.fromEntries(q.by.map((d) => [d, r[d]])) as Partial<
      Record<TrendDimension, string>
    >;
    const key = JSON.stringify(q.by.map((d) => r[d]));
    const entry = groups.get(key) ?? { group, rows: [] };
    entry.rows.push(r);
    groups.set(key, entry);
  }
  const row = (
    group: Partial<Record<TrendDimension, string>>,
    of: readonly DayQuality[],
  ): TrendRow => {
    const validated = of.reduce((n, r) => n + r.testsValidated, 0);
    const passed = of.reduce((n, r) => n + r.testsPassed, 0);
    const passedFirst = of.reduce((n, r) => n + r.testsPassedFirst, 0);
    const end = group.day ?? q.to;
    return {
      group,
      validated,
      passed,
      passedFirst,
      passRate: rate(passed, validated),
      firstTryPassRate: rate(passedFirst, validated),
      last7: windowRate(kept, end, 7, group),
      last28: windowRate(kept, end, 28, group),
    };
  };
  const out = [...groups.values()].map((g) => row(g.group, g.rows));
  out.sort((a, b) => {
    for (const d of q.by) {
      const x = a.group[d] ?? '';
      const y = b.group[d] ?? '';
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  });
  return { from: q.from, to: q.to, by: [...q.by], rows: out, total: row({}, inRange) };
}

/**
 * The trailing 7- and 28-day pass rates of the primary lane's tests ending on `day`, and how
 * many points the 7-day rate is below the 28-day baseline (negative when above): what the
 * stack's regression alarm reads.
 */
export function regressionRates(rows: readonly DayQuality[], day: string) {
  const primary = rows.filter((r) => matches(r, { lanes: ['primary'] }));
  const last7 = windowRate(primary, day, 7);
  const last28 = windowRate(primary, day, 28);
  return {
    last7,
    last28,
    dropPoints:
      last7.passRate === null || last28.passRate === null
        ? null
        : (last28.passRate - last7.passRate) * 100,
  };
}
