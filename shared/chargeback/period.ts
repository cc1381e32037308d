/**
 * The period a chargeback query covers: whole UTC days, inclusive, and the months they touch
 * (the ledger keeps roll-ups and records per month). Bad periods are a `QueryError`, which
 * the CLI reports as a usage error.
 */
import { dayOf } from '../ports/ledger';

/** A query the caller must fix (a bad date, an unknown dimension): not a failure of the ledger. */
export class QueryError extends Error {
  override name = 'QueryError';
}

/** The UTC days a report covers, inclusive, and the months they touch. */
export interface DayRange {
  from: string;
  to: string;
  months: string[];
}

const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The last day of a month (`2026-02` -> `2026-02-28`). */
function lastDay(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

/** Every month from `from` to `to`, inclusive; at most 36 so one typo cannot query for ever. */
export function monthRange(from: string, to: string): string[] {
  for (const m of [from, to])
    if (!MONTH.test(m)) throw new QueryError(`${m} is not a month: use YYYY-MM, e.g. 2026-11`);
  if (from > to) throw new QueryError(`--from ${from} is after --to ${to}`);
  const months: string[] = [];
  let [y, m] = from.split('-').map(Number) as [number, number];
  for (;;) {
    const month = `${y}-${String(m).padStart(2, '0')}`;
    months.push(month);
    if (month === to) return months;
    if (months.length >= 36) throw new QueryError('a report spans at most 36 months');
    m += 1;
    if (m > 12) {
      m = 1;
      y += 1;
    }
  }
}

/** A `--from`/`--to`/`--month` value as its first or last day; a month means all of it. */
export function dayBound(value: string, end: 'from' | 'to', flag: string): string {
  if (MONTH.test(value)) return end === 'from' ? `${value}-01` : lastDay(value);
  if (DAY.test(value) && dayOf(`${value}T00:00:00Z`) === value) return value;
  throw new QueryError(`${flag} ${value} is not a date: use YYYY-MM-DD (or a month, YYYY-MM)`);
}

/** Every month a day range touches; at most 36 so one typo cannot query for ever. */
export const monthsBetween = (from: string, to: string) =>
  monthRange(from.slice(0, 7), to.slice(0, 7));

/** The range of `--month`, or `--from`/`--to` (dates or months), or the current UTC month. */
export function dayRange(
  flags: { month?: string | undefined; from?: string | undefined; to?: string | undefined },
  now: Date,
): DayRange {
  if (flags.month !== undefined && (flags.from !== undefined || flags.to !== undefined))
    throw new QueryError('use either --month or --from/--to, not both');
  if ((flags.from === undefined) !== (flags.to === undefined))
    throw new QueryError('--from and --to go together: give both');
  const [from, to] =
    flags.month !== undefined
      ? (() => {
          if (!MONTH.test(flags.month))
            throw new QueryError(`--month ${flags.month} is not a month: use YYYY-MM`);
          return [`${flags.month}-01`, lastDay(flags.month)];
        })()
      : flags.from !== undefined && flags.to !== undefined
        ? [dayBound(flags.from, 'from', '--from'), dayBound(flags.to, 'to', '--to')]
        : [`${now.toISOString().slice(0, 7)}-01`, lastDay(now.toISOString().slice(0, 7))];
  if (from > to) throw new QueryError(`--from ${from} is after --to ${to}`);
  return { from, to, months: monthsBetween(from, to) };
}

/** True when the range covers whole months only, so monthly roll-ups answer it. */
export const wholeMonths = (range: DayRange) =>
  range.from.endsWith('-01') && range.to === lastDay(range.to.slice(0, 7));

/** What a report covers, as a heading: `2026-11`, `2026-10 to 2026-11` or `2026-11-05 to 2026-11-20`. */
export function periodOf(report: {
  months: string[];
  days?: { from: string; to: string };
}): string {
  const { days } = report;
  if (days && !wholeMonths({ ...days, months: report.months }))
    return days.from === days.to ? days.from : `${days.from} to ${days.to}`;
  return report.months.length === 1
    ? (report.months[0] as string)
    : `${report.months[0]} to ${report.months.at(-1)}`;
}
