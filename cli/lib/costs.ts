/**
 * Chargeback reports from the ledger's monthly roll-ups: grouped, filtered and totalled in
 * integer nano-USD, formatted only when printed.
 */
import Table from 'cli-table3';
import type { CostRecord, Rollup } from '../../shared/ports/ledger';
import { addTotals, type Totals, zeroTotals } from '../../shared/totals';
import { UsageError } from './exit';
import { cacheHitRatio, formatRatio, toCsv, usd, usdFixed } from './money';

export const DIMENSIONS = ['month', 'team', 'project', 'model', 'kind'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** A report row: the totals of one group; money in integer nano-USD. */
export interface CostRow extends Totals {
  /** The row's value of each `by` dimension. */
  group: Partial<Record<Dimension, string>>;
}

export interface CostReport {
  months: string[];
  by: Dimension[];
  rows: CostRow[];
  totals: Totals;
}

/** Parses `--by team,project`; rejects unknown or repeated dimensions. */
export function parseDimensions(value: string): Dimension[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0)
    throw new UsageError('--by needs at least one of month, team, project, model, kind');
  for (const p of parts)
    if (!(DIMENSIONS as readonly string[]).includes(p))
      throw new UsageError(`--by ${p} is not a dimension: use ${DIMENSIONS.join(', ')}`);
  if (new Set(parts).size !== parts.length) throw new UsageError('--by lists a dimension twice');
  return parts as Dimension[];
}

/** Every month from `from` to `to`, inclusive; at most 36 so one typo cannot query for ever. */
export function monthRange(from: string, to: string): string[] {
  for (const m of [from, to])
    if (!MONTH.test(m)) throw new UsageError(`${m} is not a month: use YYYY-MM, e.g. 2026-11`);
  if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
  const months: string[] = [];
  let [y, m] = from.split('-').map(Number) as [number, number];
  for (;;) {
    const month = `${y}-${String(m).padStart(2, '0')}`;
    months.push(month);
    if (month === to) return months;
    if (months.length >= 36) throw new UsageError('a report spans at most 36 months');
    m += 1;
    if (m > 12) {
      m = 1;
      y += 1;
    }
  }
}

/** Groups roll-ups by the `by` dimensions, after the team / project filters; rows sorted by group. */
export function aggregate(
  rollups: readonly Rollup[],
  options: { by: Dimension[]; team?: string; project?: string; months: string[] },
): CostReport {
  const team = options.team?.toLowerCase();
  const project = options.project?.toLowerCase();
  const groups = new Map<string, CostRow>();
  const totals = zeroTotals();
  for (const r of rollups) {
    if (team !== undefined && r.team !== team) continue;
    if (project !== undefined && r.project !== project) continue;
    const group = Object.fromEntries(options.by.map((d) => [d, r[d]])) as CostRow['group'];
    const key = JSON.stringify(options.by.map((d) => r[d]));
    let row = groups.get(key);
    if (!row) {
      row = { group, ...zeroTotals() };
      groups.set(key, row);
    }
    addTotals(row, r);
    addTotals(totals, r);
  }
  const rows = [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, row]) => row);
  return { months: options.months, by: options.by, rows, totals };
}

const METRIC_HEADERS = [
  'requests',
  'hit tokens',
  'miss tokens',
  'output tokens',
  'cache hit ratio',
  'cost (USD)',
  'counterfactual (USD)',
  'savings (USD)',
];

function metrics(t: Totals, money: (nano: number) => string, ratio: (r: number | null) => string) {
  return [
    t.requests,
    t.hitTokens,
    t.missTokens,
    t.outputTokens,
    ratio(cacheHitRatio(t.hitTokens, t.missTokens)),
    money(t.costNanoUsd),
    money(t.counterfactualNanoUsd),
    money(t.counterfactualNanoUsd - t.costNanoUsd),
  ];
}

/** A table for people: one row per group, then a TOTAL row. */
export function renderCostsTable(report: CostReport): string {
  const table = new Table({
    head: [...report.by, ...METRIC_HEADERS],
    colAligns: [
      ...report.by.map(() => 'left' as const),
      ...METRIC_HEADERS.map(() => 'right' as const),
    ],
    style: { head: [], border: [] },
  });
  for (const row of report.rows)
    table.push([...report.by.map((d) => row.group[d] ?? ''), ...metrics(row, usd, formatRatio)]);
  table.push([
    ...report.by.map((_, i) => (i === 0 ? 'TOTAL' : '')),
    ...metrics(report.totals, usd, formatRatio),
  ]);
  return `${report.months.length === 1 ? report.months[0] : `${report.months[0]} to ${report.months.at(-1)}`}\n${table.toString()}\n`;
}

const ratioPlain = (r: number | null) => (r === null ? '' : r.toFixed(4));

/** A table header as a CSV column name: `cost (USD)` -> `cost_usd`, `hit tokens` -> `hit_tokens`. */
const csvColumn = (header: string) => header.replace(/ \(USD\)$/, '_usd').replaceAll(' ', '_');

/**
 * RFC 4180 CSV for spreadsheets: a header row, one row per group, and a last row whose first
 * column is `TOTAL`. Dollars have 9 fixed decimals, so rows sum exactly to the total.
 */
export function renderCostsCsv(report: CostReport): string {
  const header = [...report.by, ...METRIC_HEADERS.map(csvColumn)];
  const first = report.by.length > 0 ? ['TOTAL', ...report.by.slice(1).map(() => '')] : [];
  return toCsv(header, [
    ...report.rows.map((row) => [
      ...report.by.map((d) => row.group[d] ?? ''),
      ...metrics(row, usdFixed, ratioPlain),
    ]),
    [...first, ...metrics(report.totals, usdFixed, ratioPlain)],
  ]);
}

function jsonTotals(t: Totals) {
  return {
    ...t,
    savingsNanoUsd: t.counterfactualNanoUsd - t.costNanoUsd,
    cacheHitRatio: cacheHitRatio(t.hitTokens, t.missTokens),
    costUsd: usdFixed(t.costNanoUsd),
    counterfactualUsd: usdFixed(t.counterfactualNanoUsd),
    savingsUsd: usdFixed(t.counterfactualNanoUsd - t.costNanoUsd),
  };
}

/** JSON for machines: integer nano-USD fields are authoritative, `*Usd` strings are for display. */
export function costsJson(report: CostReport): string {
  return `${JSON.stringify({
    months: report.months,
    by: report.by,
    rows: report.rows.map((r) => ({ ...r.group, ...jsonTotals(r) })),
    totals: jsonTotals(report.totals),
  })}\n`;
}

const DETAIL_HEADER = [
  'created',
  'project',
  'batch',
  'job',
  'model',
  'kind',
  'endpoint',
  'hit tokens',
  'miss tokens',
  'output tokens',
  'cost (USD)',
  'counterfactual (USD)',
];

function detailCells(r: CostRecord, money: (n: number) => string): (string | number)[] {
  return [
    r.created,
    r.project,
    r.batchId,
    r.jobId,
    r.model,
    r.kind,
    r.endpoint,
    r.usage.promptHitTokens,
    r.usage.promptMissTokens,
    r.usage.completionTokens,
    money(r.costNanoUsd),
    money(r.counterfactualNanoUsd),
  ];
}

/** The cost records of one team and month in the chosen format. */
export function renderDetail(
  records: readonly CostRecord[],
  format: 'table' | 'csv' | 'json',
): string {
  if (format === 'json') return `${JSON.stringify({ records })}\n`;
  if (format === 'csv')
    return toCsv(
      DETAIL_HEADER.map(csvColumn),
      records.map((r) => detailCells(r, usdFixed)),
    );
  const table = new Table({ head: DETAIL_HEADER, style: { head: [], border: [] } });
  for (const r of records) table.push(detailCells(r, usd));
  return `${table.toString()}\n`;
}
