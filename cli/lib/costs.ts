/**
 * How a chargeback report (shared/chargeback/query.ts) is printed: one table of columns that
 * the table, the CSV and the HTML page all read, and JSON for machines. Figures are computed
 * by the query; here they are only formatted.
 */
import Table from 'cli-table3';
import { periodOf } from '../../shared/chargeback/period';
import {
  type CostReport,
  type Figures,
  figuresOf,
  type RowTotals,
  type UnpricedLine,
} from '../../shared/chargeback/report';
import { formatRatio, toCsv, usd, usdFixed } from './money';

/** How a renderer writes money and ratios, and what an unpriced money cell holds. */
export interface CellFormat {
  money: (nano: number) => string;
  ratio: (r: number | null) => string;
  /** An unpriced response's cost is not known, and is not $0. */
  unpriced: string;
}

const ratioPlain = (r: number | null) => (r === null ? '' : r.toFixed(4));

/** People's dollars and percentages. */
export const TABLE_FORMAT: CellFormat = { money: usd, ratio: formatRatio, unpriced: 'unpriced' };
/** Exact dollars (9 decimals, so rows sum to the total) and plain ratios, for spreadsheets. */
export const CSV_FORMAT: CellFormat = { money: usdFixed, ratio: ratioPlain, unpriced: '' };

type Value = (t: RowTotals, f: Figures) => number | null;

/** One metric column of a report, read by every renderer. */
export interface CostColumn {
  /** The table's header; the CSV's is `csvColumn(header)`. */
  header: string;
  kind: 'count' | 'money' | 'ratio';
  value: Value;
  /** Counted from verdicts: empty where the view cannot split them. */
  quality?: boolean;
  /** The unpriced line's value (requests and tokens); absent: a money or ratio cell. */
  unpriced?: (u: UnpricedLine) => number;
  /** The JSON field carrying this money as exact dollars (`*Usd`), for display. */
  jsonUsd?: string;
}

/**
 * The report's metric columns, in order. Model cost is the provider's bill, AWS the estimated
 * AWS cost of the batches, total their sum. Warm-up is the overhead within the model cost
 * (warm-ups, probes, discarded attempts); estimates of lost calls and the repair and shadow
 * lanes are shown apart too; the counterfactual counts primary job answers only, so savings
 * pay for all the rest.
 */
export const COST_COLUMNS: readonly CostColumn[] = [
  { header: 'requests', kind: 'count', value: (t) => t.requests, unpriced: (u) => u.requests },
  { header: 'hit tokens', kind: 'count', value: (t) => t.hitTokens, unpriced: (u) => u.hitTokens },
  {
    header: 'miss tokens',
    kind: 'count',
    value: (t) => t.missTokens,
    unpriced: (u) => u.missTokens,
  },
  {
    header: 'output tokens',
    kind: 'count',
    value: (t) => t.outputTokens,
    unpriced: (u) => u.outputTokens,
  },
  { header: 'cache hit ratio', kind: 'ratio', value: (_, f) => f.cacheHitRatio },
  { header: 'model cost (USD)', kind: 'money', value: (t) => t.costNanoUsd, jsonUsd: 'costUsd' },
  { header: 'AWS (USD)', kind: 'money', value: (t) => t.awsCostNanoUsd, jsonUsd: 'awsCostUsd' },
  {
    header: 'total (USD)',
    kind: 'money',
    value: (_, f) => f.totalCostNanoUsd,
    jsonUsd: 'totalCostUsd',
  },
  {
    header: 'warm-up (USD)',
    kind: 'money',
    value: (t) => t.warmupCostNanoUsd,
    jsonUsd: 'warmupCostUsd',
  },
  { header: 'warm-up share', kind: 'ratio', value: (_, f) => f.warmupShare },
  { header: 'estimated (USD)', kind: 'money', value: (t) => t.estimatedCostNanoUsd },
  { header: 'repair lane (USD)', kind: 'money', value: (t) => t.repairLaneNanoUsd },
  { header: 'shadow lane (USD)', kind: 'money', value: (t) => t.shadowLaneNanoUsd },
  {
    header: 'counterfactual (USD)',
    kind: 'money',
    value: (t) => t.counterfactualNanoUsd,
    jsonUsd: 'counterfactualUsd',
  },
  {
    header: 'savings (USD)',
    kind: 'money',
    value: (_, f) => f.savingsNanoUsd,
    jsonUsd: 'savingsUsd',
  },
  { header: 'tests passed', kind: 'count', value: (t) => t.testsPassed, quality: true },
  { header: 'tests validated', kind: 'count', value: (t) => t.testsValidated, quality: true },
  { header: 'pass rate', kind: 'ratio', value: (_, f) => f.passRate, quality: true },
  {
    header: 'per passing test (USD)',
    kind: 'money',
    value: (_, f) => f.costPerPassingTestNanoUsd,
    quality: true,
  },
];

/** A table header as a CSV column name: `cost (USD)` -> `cost_usd`, `hit tokens` -> `hit_tokens`. */
export const csvColumn = (header: string) =>
  header
    .replace(/ \(USD\)$/, '_usd')
    .replace(/ \(USD\/M\)$/, '_usd_per_mtok')
    .toLowerCase()
    .replaceAll(' ', '_')
    .replaceAll('-', '');

/** A column's cell of a row: a count as is, money and ratios formatted; null money is empty. */
function cell(c: CostColumn, t: RowTotals, f: Figures, fmt: CellFormat): string | number {
  const v = c.value(t, f);
  if (c.kind === 'count') return v ?? '';
  if (c.kind === 'ratio') return fmt.ratio(v);
  return v === null ? '' : fmt.money(v);
}

/** The metric cells of a row; quality cells are empty where the view cannot split verdicts. */
function metricCells(report: CostReport, t: RowTotals, fmt: CellFormat): (string | number)[] {
  const f = figuresOf(t, report.withRepairs ?? true);
  const quality = report.qualityNote === undefined && t.testsValidated > 0;
  return COST_COLUMNS.map((c) => (c.quality && !quality ? '' : cell(c, t, f, fmt)));
}

/** The unpriced line's cells: requests and tokens, and no money at all (never $0). */
function unpricedCells(u: UnpricedLine, fmt: CellFormat): (string | number)[] {
  return COST_COLUMNS.map((c) => (c.unpriced ? c.unpriced(u) : c.quality ? '' : fmt.unpriced));
}

/** A report as header and rows of cells: the groups, then TOTAL, then UNPRICED if any. */
export interface CostCells {
  header: string[];
  /** Per column, whether it is a ratio (shown as a percentage on a page). */
  ratio: boolean[];
  rows: { label?: 'TOTAL' | 'UNPRICED'; cells: (string | number)[] }[];
}

/** The cells every renderer prints, headers as the table (`table`) or the CSV (`csv`) names them. */
export function costCells(report: CostReport, as: 'table' | 'csv'): CostCells {
  const fmt = as === 'table' ? TABLE_FORMAT : CSV_FORMAT;
  const label = (word: string) => report.by.map((_, i) => (i === 0 ? word : ''));
  const rows: CostCells['rows'] = report.rows.map((row) => ({
    cells: [...report.by.map((d) => row.group[d] ?? ''), ...metricCells(report, row, fmt)],
  }));
  rows.push({
    label: 'TOTAL',
    cells: [...label('TOTAL'), ...metricCells(report, report.totals, fmt)],
  });
  if (report.unpriced)
    rows.push({
      label: 'UNPRICED',
      cells: [...label('UNPRICED'), ...unpricedCells(report.unpriced, fmt)],
    });
  const headers = COST_COLUMNS.map((c) => (as === 'table' ? c.header : csvColumn(c.header)));
  return {
    header: [...report.by, ...headers],
    ratio: [...report.by.map(() => false), ...COST_COLUMNS.map((c) => c.kind === 'ratio')],
    rows,
  };
}

/** What fixes each reason a record is unpriced (docs/pricing.md). */
const UNPRICED_REMEDY: Record<string, string> = {
  holidays_unknown:
    "their instant needs a year's Chinese holiday list the catalog does not hold yet (holidays_unknown): add the list to config/prices.json (`holidays`) once it is published",
  unknown_model: 'no price row names their model (unknown_model): add a row',
  model_retired: 'every row of their model ended before they were sent (model_retired): add a row',
  model_not_in_force:
    'no row of their model was in force when they were sent (model_not_in_force): add a row',
};

/** What the unpriced line says to do, under a table: the fix for the reason they are unpriced. */
export function unpricedNote(u: UnpricedLine): string {
  const reasons = u.reasons ?? [];
  const fixes =
    reasons.length === 0
      ? ['they have no price yet: add what is missing (a price row, or a holiday list)']
      : reasons.map((r) => UNPRICED_REMEDY[r] ?? `${r}: see docs/pricing.md`);
  return `UNPRICED: ${u.requests} billed response(s) of ${u.models.join(', ')} have no cost yet (unknown, not zero); ${fixes.join('; ')} (docs/pricing.md), then run \`warmbatch costs reprice --month <YYYY-MM>\`\n`;
}

/** A table for people: one row per group, then a TOTAL row. */
export function renderCostsTable(report: CostReport): string {
  const cells = costCells(report, 'table');
  const table = new Table({
    head: cells.header,
    colAligns: cells.header.map((_, i) => (i < report.by.length ? 'left' : 'right')),
    style: { head: [], border: [] },
  });
  for (const row of cells.rows) table.push(row.cells);
  const amortised = report.warmup === 'amortised' ? ' (warm-up amortised onto jobs)' : '';
  return `${periodOf(report)}${amortised}\n${table.toString()}\n${report.unpriced ? unpricedNote(report.unpriced) : ''}${report.qualityNote ? `${report.qualityNote}\n` : ''}AWS is an estimate of the pipeline's own AWS requests and functions at list prices (docs/chargeback.md), not AWS's bill\n`;
}

/**
 * RFC 4180 CSV for spreadsheets: a header row, one row per group, and a last row whose first
 * column is `TOTAL`. Dollars have 9 fixed decimals, so rows sum exactly to the total.
 */
export function renderCostsCsv(report: CostReport): string {
  const cells = costCells(report, 'csv');
  return toCsv(
    cells.header,
    cells.rows.map((r) => r.cells),
  );
}

function jsonTotals(t: RowTotals, withRepairs: boolean) {
  const f = figuresOf(t, withRepairs);
  const usdFields = COST_COLUMNS.flatMap((c) => {
    const v = c.value(t, f);
    return c.jsonUsd && v !== null ? [[c.jsonUsd, usdFixed(v)]] : [];
  });
  return {
    ...t,
    ...f,
    // A row without model cost has no warm-up: 0 here, as machines sum it.
    warmupShare: f.warmupShare ?? 0,
    ...Object.fromEntries(usdFields),
  };
}

/** JSON for machines: integer nano-USD fields are authoritative, `*Usd` strings are for display. */
export function costsJson(report: CostReport): string {
  const withRepairs = report.withRepairs ?? true;
  return `${JSON.stringify({
    months: report.months,
    ...(report.days ? { from: report.days.from, to: report.days.to } : {}),
    warmup: report.warmup ?? 'separate',
    by: report.by,
    rows: report.rows.map((r) => ({ ...r.group, ...jsonTotals(r, withRepairs) })),
    totals: jsonTotals(report.totals, withRepairs),
    unpriced: report.unpriced ?? null,
    qualityNote: report.qualityNote ?? null,
  })}\n`;
}
