/**
 * `warmbatch costs --detail` and `--format focus`: the cost records a chargeback query kept
 * (shared/chargeback/query.ts), one line each, from one table of columns.
 */
import Table from 'cli-table3';
import type { Amortised } from '../../shared/chargeback/amortise';
import { FOCUS_COLUMNS, FOCUS_CUSTOM_COLUMNS, type FocusRow } from '../../shared/chargeback/focus';
import { CURRENCY } from '../../shared/chargeback/line-items';
import { sortedTags } from '../../shared/tags';
import { type CellFormat, CSV_FORMAT, csvColumn, TABLE_FORMAT } from './costs';
import { toCsv, usdPerMillion } from './money';

/** One column of the record listing: its header and its cell of a record. */
interface DetailColumn {
  header: string;
  cell(a: Amortised, fmt: CellFormat): string | number;
}

/** A record's money: its unpriced label when it has no price yet (never $0). */
const cash = (a: Amortised, fmt: CellFormat, nano: number) =>
  a.record.unpriced ? fmt.unpriced : fmt.money(nano);

/** A unit rate, per million tokens as the catalog holds them. */
const rate = (micro: number | undefined) => (micro === undefined ? '' : usdPerMillion(micro));

const DETAIL_COLUMNS: readonly DetailColumn[] = [
  { header: 'sent', cell: (a) => a.record.sentAt },
  { header: 'team', cell: (a) => a.record.team },
  { header: 'project', cell: (a) => a.record.project },
  { header: 'batch', cell: (a) => a.record.batchId },
  { header: 'job', cell: (a) => a.record.jobId },
  { header: 'purpose', cell: (a) => a.record.purpose },
  { header: 'lane', cell: (a) => a.record.lane ?? 'primary' },
  { header: 'model', cell: (a) => a.record.model },
  { header: 'kind', cell: (a) => a.record.kind },
  { header: 'endpoint', cell: (a) => a.record.endpoint },
  { header: 'tier', cell: (a) => a.record.price?.tier ?? '' },
  {
    header: 'peak',
    cell: ({ record: r }) => (r.price ? (r.price.tier === 'peak' ? 'yes' : 'no') : ''),
  },
  { header: 'hit tokens', cell: (a) => a.record.usage.promptHitTokens },
  { header: 'miss tokens', cell: (a) => a.record.usage.promptMissTokens },
  { header: 'output tokens', cell: (a) => a.record.usage.completionTokens },
  { header: 'reasoning tokens', cell: (a) => a.record.usage.reasoningTokens },
  { header: 'hit rate (USD/M)', cell: (a) => rate(a.record.price?.rates?.hit) },
  { header: 'miss rate (USD/M)', cell: (a) => rate(a.record.price?.rates?.miss) },
  { header: 'output rate (USD/M)', cell: (a) => rate(a.record.price?.rates?.output) },
  { header: 'cost (USD)', cell: (a, fmt) => cash(a, fmt, a.record.costNanoUsd) },
  { header: 'warm-up share (USD)', cell: (a, fmt) => cash(a, fmt, a.warmupShareNanoUsd) },
  { header: 'amortised cost (USD)', cell: (a, fmt) => cash(a, fmt, a.amortisedCostNanoUsd) },
  {
    header: 'counterfactual (USD)',
    cell: (a, fmt) => cash(a, fmt, a.record.counterfactualNanoUsd),
  },
  { header: 'currency', cell: () => CURRENCY },
  {
    header: 'tags',
    cell: (a) =>
      Object.entries(sortedTags(a.record.tags))
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
  },
  {
    header: 'priced by',
    cell: ({ record: r }) =>
      r.unpriced
        ? `unpriced: ${r.unpriced.reason}`
        : r.price
          ? `${r.price.tier} ${r.price.rowId} (${r.price.origin})`
          : '',
  },
];

/** Cost records (with their warm-up shares) in the chosen format. */
export function renderDetail(
  records: readonly Amortised[],
  format: 'table' | 'csv' | 'json',
): string {
  if (format === 'json')
    return `${JSON.stringify({
      currency: CURRENCY,
      records: records.map((a) => ({
        ...a.record,
        warmupShareNanoUsd: a.warmupShareNanoUsd,
        amortisedCostNanoUsd: a.amortisedCostNanoUsd,
      })),
    })}\n`;
  if (format === 'csv')
    return toCsv(
      DETAIL_COLUMNS.map((c) => csvColumn(c.header)),
      records.map((a) => DETAIL_COLUMNS.map((c) => c.cell(a, CSV_FORMAT))),
    );
  const table = new Table({
    head: DETAIL_COLUMNS.map((c) => c.header),
    style: { head: [], border: [] },
  });
  for (const a of records) table.push(DETAIL_COLUMNS.map((c) => c.cell(a, TABLE_FORMAT)));
  return `${table.toString()}\n`;
}

/** FOCUS rows (shared/chargeback/focus.ts) as RFC 4180 CSV, FOCUS columns first, then `x_`. */
export function renderFocusCsv(rows: readonly FocusRow[]): string {
  const header = [...FOCUS_COLUMNS, ...FOCUS_CUSTOM_COLUMNS];
  return toCsv(
    header,
    rows.map((r) => header.map((c) => r[c])),
  );
}
