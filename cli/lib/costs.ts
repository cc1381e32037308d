/**
 * Chargeback reports from the ledger's monthly roll-ups: grouped, filtered and totalled in
 * integer nano-USD, formatted only when printed.
 */
import Table from 'cli-table3';
import type { Amortised } from '../../shared/chargeback/amortise';
import { FOCUS_COLUMNS, FOCUS_CUSTOM_COLUMNS, type FocusRow } from '../../shared/chargeback/focus';
import { CURRENCY } from '../../shared/chargeback/line-items';
import {
  addQuality,
  costPerPassingTest,
  passRate,
  type QualityTotals,
  zeroQuality,
} from '../../shared/quality/verdicts';
import { sortedTags, tagKeyProblem } from '../../shared/tags';
import {
  addTotals,
  savingsNanoUsd,
  type Totals,
  totalCostNanoUsd,
  warmupShare,
  zeroTotals,
} from '../../shared/totals';
import { LANES, type Lane } from '../../shared/types';
import { type Fact, wholeMonths } from './chargeback';
import { UsageError } from './exit';
import { cacheHitRatio, formatRatio, toCsv, usd, usdFixed, usdPerMillion } from './money';

/** Dimensions a report groups by; `tag:<key>` groups by a cost-allocation tag. */
export const DIMENSIONS = [
  'month',
  'day',
  'team',
  'project',
  'model',
  'kind',
  'lane',
  'batch',
  'endpoint',
  'tier',
] as const;
export type Dimension = (typeof DIMENSIONS)[number] | `tag:${string}`;

/** A fact's value of a dimension; spend without the tag is `(untagged)`. */
export function dimensionValue(fact: Fact, d: Dimension): string {
  if (d.startsWith('tag:')) return fact.tags?.[d.slice(4)] ?? '(untagged)';
  return String((fact as unknown as Record<string, unknown>)[d] ?? '');
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** A report row: the totals of one group; money in integer nano-USD. */
export interface CostRow extends Totals, QualityTotals, LaneCosts {
  /** The row's value of each `by` dimension. */
  group: Partial<Record<Dimension, string>>;
}

/**
 * Of the model cost, what the repair and shadow lanes spent: shown as their own columns, since
 * they count in the bill but never in the savings.
 */
export interface LaneCosts {
  repairLaneNanoUsd: number;
  shadowLaneNanoUsd: number;
}

const zeroLanes = (): LaneCosts => ({ repairLaneNanoUsd: 0, shadowLaneNanoUsd: 0 });

function addLane(into: LaneCosts, fact: Fact): void {
  if (fact.lane === 'repair') into.repairLaneNanoUsd += fact.costNanoUsd;
  if (fact.lane === 'shadow') into.shadowLaneNanoUsd += fact.costNanoUsd;
}

/** The dimensions verdicts are counted by (the monthly roll-ups' keys). */
export const QUALITY_DIMENSIONS: ReadonlySet<string> = new Set([
  'month',
  'team',
  'project',
  'model',
  'kind',
  'lane',
]);

/**
 * Why the quality columns are empty in a report, or undefined when they are computed: verdicts
 * are counted per month, team, project, model, kind and lane (the monthly roll-ups), so a view
 * by day, batch, endpoint, tier or tag, or over part of a month, cannot split them.
 */
export function qualityUnavailable(
  by: readonly string[],
  wholeMonth: boolean,
  tagFilter = false,
): string | undefined {
  const finer = by.filter((d) => !QUALITY_DIMENSIONS.has(d));
  if (finer.length > 0)
    return `quality columns are not split by ${finer.join(', ')}: verdicts are counted per month, team, project, model, kind and lane (use --by with those)`;
  if (tagFilter)
    return 'quality columns are not kept per tag: verdicts are counted per month, team, project, model, kind and lane (leave out --tag)';
  if (!wholeMonth)
    return 'quality columns cover whole months only: verdicts are counted per month (use --month or whole months in --from/--to)';
  return undefined;
}

/** Billed responses no price row covered yet: requests and tokens, no cost (never $0). */
export interface UnpricedLine {
  requests: number;
  hitTokens: number;
  missTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  /** The models the responses named, sorted. */
  models: string[];
  /**
   * Why they are unpriced (the records' pricing error codes, sorted), once read from the
   * month's unpriced records: the note says what fixes each.
   */
  reasons?: string[];
}

export interface CostReport {
  months: string[];
  /** The UTC days covered, inclusive, when the report was asked for by dates. */
  days?: { from: string; to: string };
  /** How warm-up cost is shown. */
  warmup?: 'separate' | 'amortised';
  by: Dimension[];
  rows: CostRow[];
  /** Priced records only; unpriced ones are in `unpriced`. */
  totals: Totals & QualityTotals & LaneCosts;
  /** Why the quality columns are empty, when they are (`qualityUnavailable`). */
  qualityNote?: string;
  /** Without the repair lane, cost per passing test counts first answers only. */
  withRepairs?: boolean;
  /** Undefined when every record is priced. */
  unpriced?: UnpricedLine;
}

/** Parses `--by team,project`; rejects unknown or repeated dimensions. */
export function parseDimensions(value: string): Dimension[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0)
    throw new UsageError(`--by needs at least one of ${DIMENSIONS.join(', ')}, tag:<key>`);
  for (const p of parts) {
    if (p.startsWith('tag:')) {
      const problem = tagKeyProblem(p.slice(4));
      if (problem) throw new UsageError(`--by ${p}: ${problem}`);
      continue;
    }
    if (!(DIMENSIONS as readonly string[]).includes(p))
      throw new UsageError(
        `--by ${p} is not a dimension: use ${DIMENSIONS.join(', ')} or tag:<key>`,
      );
  }
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

/**
 * Groups facts (roll-ups or records) by the `by` dimensions, after the team / project / model /
 * tag filters; rows sorted by group. Every fact lands in exactly one row, so rows sum to TOTAL.
 */
export function aggregate(
  rollups: readonly Fact[],
  options: {
    by: Dimension[];
    team?: string;
    project?: string;
    model?: string;
    tags?: Record<string, string>;
    months: string[];
    days?: { from: string; to: string };
    warmup?: 'separate' | 'amortised';
    /** Only these lanes (chargeback may leave shadow runs out); default all. */
    lanes?: readonly Lane[];
    /** Why the quality columns cannot be computed for this view (`qualityUnavailable`). */
    qualityNote?: string;
  },
): CostReport {
  const team = options.team?.toLowerCase();
  const project = options.project?.toLowerCase();
  const tagFilter = Object.entries(options.tags ?? {});
  const lanes = new Set<string>(options.lanes ?? LANES);
  const groups = new Map<string, CostRow>();
  const totals = { ...zeroTotals(), ...zeroQuality(), ...zeroLanes() };
  let unpriced: UnpricedLine | undefined;
  for (const r of rollups) {
    if (team !== undefined && r.team !== team) continue;
    if (project !== undefined && r.project !== project) continue;
    if (options.model !== undefined && r.model !== options.model) continue;
    if (tagFilter.some(([k, v]) => r.tags?.[k] !== v)) continue;
    if (!lanes.has(r.lane ?? 'primary')) continue;
    if (r.unpriced) {
      // A repriced record leaves its unpriced roll-up at zero.
      if (r.requests === 0) continue;
      unpriced ??= {
        requests: 0,
        hitTokens: 0,
        missTokens: 0,
        outputTokens: 0,
        reasoningTokens: 0,
        models: [],
      };
      for (const f of [
        'requests',
        'hitTokens',
        'missTokens',
        'outputTokens',
        'reasoningTokens',
      ] as const)
        unpriced[f] += r[f];
      if (!unpriced.models.includes(r.model))
        unpriced.models = [...unpriced.models, r.model].sort();
      continue;
    }
    const group = Object.fromEntries(
      options.by.map((d) => [d, dimensionValue(r, d)]),
    ) as CostRow['group'];
    const key = JSON.stringify(options.by.map((d) => dimensionValue(r, d)));
    let row = groups.get(key);
    if (!row) {
      row = { group, ...zeroTotals(), ...zeroQuality(), ...zeroLanes() };
      groups.set(key, row);
    }
    addTotals(row, r);
    addTotals(totals, r);
    addQuality(row, r);
    addQuality(totals, r);
    addLane(row, r);
    addLane(totals, r);
  }
  const rows = [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, row]) => row);
  return {
    months: options.months,
    ...(options.days ? { days: options.days } : {}),
    ...(options.warmup ? { warmup: options.warmup } : {}),
    by: options.by,
    rows,
    totals,
    ...(unpriced ? { unpriced } : {}),
    ...(options.qualityNote ? { qualityNote: options.qualityNote } : {}),
    withRepairs: lanes.has('repair'),
  };
}

const METRIC_HEADERS = [
  'requests',
  'hit tokens',
  'miss tokens',
  'output tokens',
  'cache hit ratio',
  'model cost (USD)',
  'AWS (USD)',
  'total (USD)',
  'warm-up (USD)',
  'warm-up share',
  'estimated (USD)',
  'repair lane (USD)',
  'shadow lane (USD)',
  'counterfactual (USD)',
  'savings (USD)',
  'tests passed',
  'tests validated',
  'pass rate',
  'per passing test (USD)',
];

/**
 * Cost per passing test of a row. With the repair lane in the report, what the validated tests'
 * answers cost (repairs included) over the tests that passed in the end; without it
 * (`--lanes primary`), the first answers' cost over the tests that passed first try.
 */
export function perPassingTest(t: QualityTotals, withRepairs: boolean): number | null {
  if (withRepairs) return costPerPassingTest(t);
  return costPerPassingTest({
    validatedCostNanoUsd: t.validatedCostNanoUsd - t.repairCostNanoUsd,
    testsPassed: t.testsPassedFirst,
    testsCostUnknown: t.testsCostUnknown,
  });
}

/**
 * The metric cells of a row. Model cost is the provider's bill, AWS the estimated AWS cost of the
 * batches, total their sum. Warm-up is the overhead within the model cost (warm-ups, probes,
 * discarded attempts); estimates of lost calls and the repair and shadow lanes are shown apart
 * too; the counterfactual counts primary job answers only, so savings pay for all the rest.
 * Quality cells are empty where the view cannot split verdicts (`quality` false).
 */
function metrics(
  t: Totals & QualityTotals & LaneCosts,
  money: (nano: number) => string,
  ratio: (r: number | null) => string,
  view: { quality: boolean; withRepairs: boolean },
) {
  const perTest = perPassingTest(t, view.withRepairs);
  const quality = view.quality && t.testsValidated > 0;
  return [
    t.requests,
    t.hitTokens,
    t.missTokens,
    t.outputTokens,
    ratio(cacheHitRatio(t.hitTokens, t.missTokens)),
    money(t.costNanoUsd),
    money(t.awsCostNanoUsd),
    money(totalCostNanoUsd(t)),
    money(t.warmupCostNanoUsd),
    ratio(t.costNanoUsd === 0 ? null : warmupShare(t)),
    money(t.estimatedCostNanoUsd),
    money(t.repairLaneNanoUsd),
    money(t.shadowLaneNanoUsd),
    money(t.counterfactualNanoUsd),
    money(savingsNanoUsd(t)),
    quality ? t.testsPassed : '',
    quality ? t.testsValidated : '',
    quality ? ratio(passRate(t)) : '',
    quality && perTest !== null ? money(perTest) : '',
  ];
}

const viewOf = (report: CostReport) => ({
  quality: report.qualityNote === undefined,
  withRepairs: report.withRepairs ?? true,
});

/** The cells of the unpriced line: requests and tokens, and no money at all (never $0). */
function unpricedCells(u: UnpricedLine, label: string) {
  return [
    u.requests,
    u.hitTokens,
    u.missTokens,
    u.outputTokens,
    ...Array.from({ length: 11 }, () => label),
    '',
    '',
    '',
    '',
  ];
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
  const table = new Table({
    head: [...report.by, ...METRIC_HEADERS],
    colAligns: [
      ...report.by.map(() => 'left' as const),
      ...METRIC_HEADERS.map(() => 'right' as const),
    ],
    style: { head: [], border: [] },
  });
  for (const row of report.rows)
    table.push([
      ...report.by.map((d) => row.group[d] ?? ''),
      ...metrics(row, usd, formatRatio, viewOf(report)),
    ]);
  const label = (word: string) => report.by.map((_, i) => (i === 0 ? word : ''));
  table.push([...label('TOTAL'), ...metrics(report.totals, usd, formatRatio, viewOf(report))]);
  if (report.unpriced)
    table.push([...label('UNPRICED'), ...unpricedCells(report.unpriced, 'unpriced')]);
  return `${periodOf(report)}${report.warmup === 'amortised' ? ' (warm-up amortised onto jobs)' : ''}\n${table.toString()}\n${report.unpriced ? unpricedNote(report.unpriced) : ''}${report.qualityNote ? `${report.qualityNote}\n` : ''}AWS is an estimate of the pipeline's own AWS requests and functions at list prices (docs/chargeback.md), not AWS's bill\n`;
}

/** What a report covers, as a heading: `2026-11`, `2026-10 to 2026-11` or `2026-11-05 to 2026-11-20`. */
export function periodOf(report: Pick<CostReport, 'months' | 'days'>): string {
  const { days } = report;
  if (days && !wholeMonths({ ...days, months: report.months }))
    return days.from === days.to ? days.from : `${days.from} to ${days.to}`;
  return report.months.length === 1
    ? (report.months[0] as string)
    : `${report.months[0]} to ${report.months.at(-1)}`;
}

const ratioPlain = (r: number | null) => (r === null ? '' : r.toFixed(4));

/** A table header as a CSV column name: `cost (USD)` -> `cost_usd`, `hit tokens` -> `hit_tokens`. */
const csvColumn = (header: string) =>
  header
    .replace(/ \(USD\)$/, '_usd')
    .replace(/ \(USD\/M\)$/, '_usd_per_mtok')
    .toLowerCase()
    .replaceAll(' ', '_')
    .replaceAll('-', '');

/**
 * RFC 4180 CSV for spreadsheets: a header row, one row per group, and a last row whose first
 * column is `TOTAL`. Dollars have 9 fixed decimals, so rows sum exactly to the total.
 */
export function renderCostsCsv(report: CostReport): string {
  const header = [...report.by, ...METRIC_HEADERS.map(csvColumn)];
  const label = (word: string) =>
    report.by.length > 0 ? [word, ...report.by.slice(1).map(() => '')] : [];
  return toCsv(header, [
    ...report.rows.map((row) => [
      ...report.by.map((d) => row.group[d] ?? ''),
      ...metrics(row, usdFixed, ratioPlain, viewOf(report)),
    ]),
    [...label('TOTAL'), ...metrics(report.totals, usdFixed, ratioPlain, viewOf(report))],
    // Money columns stay empty: an unpriced response's cost is not known, and is not $0.
    ...(report.unpriced ? [[...label('UNPRICED'), ...unpricedCells(report.unpriced, '')]] : []),
  ]);
}

function jsonTotals(t: Totals & QualityTotals & LaneCosts, withRepairs: boolean) {
  return {
    ...t,
    totalCostNanoUsd: totalCostNanoUsd(t),
    passRate: passRate(t),
    costPerPassingTestNanoUsd: perPassingTest(t, withRepairs),
    savingsNanoUsd: savingsNanoUsd(t),
    warmupShare: warmupShare(t),
    cacheHitRatio: cacheHitRatio(t.hitTokens, t.missTokens),
    costUsd: usdFixed(t.costNanoUsd),
    awsCostUsd: usdFixed(t.awsCostNanoUsd),
    totalCostUsd: usdFixed(totalCostNanoUsd(t)),
    warmupCostUsd: usdFixed(t.warmupCostNanoUsd),
    counterfactualUsd: usdFixed(t.counterfactualNanoUsd),
    savingsUsd: usdFixed(savingsNanoUsd(t)),
  };
}

/** JSON for machines: integer nano-USD fields are authoritative, `*Usd` strings are for display. */
export function costsJson(report: CostReport): string {
  return `${JSON.stringify({
    months: report.months,
    ...(report.days ? { from: report.days.from, to: report.days.to } : {}),
    warmup: report.warmup ?? 'separate',
    by: report.by,
    rows: report.rows.map((r) => ({ ...r.group, ...jsonTotals(r, report.withRepairs ?? true) })),
    totals: jsonTotals(report.totals, report.withRepairs ?? true),
    unpriced: report.unpriced ?? null,
    qualityNote: report.qualityNote ?? null,
  })}\n`;
}

const DETAIL_HEADER = [
  'sent',
  'team',
  'project',
  'batch',
  'job',
  'purpose',
  'lane',
  'model',
  'kind',
  'endpoint',
  'tier',
  'peak',
  'hit tokens',
  'miss tokens',
  'output tokens',
  'reasoning tokens',
  'hit rate (USD/M)',
  'miss rate (USD/M)',
  'output rate (USD/M)',
  'cost (USD)',
  'warm-up share (USD)',
  'amortised cost (USD)',
  'counterfactual (USD)',
  'currency',
  'tags',
  'priced by',
];

/**
 * A record's cells; an unpriced record's money cells hold `unpriced` (table) or nothing (CSV).
 * Unit rates are per million tokens, as the catalog holds them.
 */
function detailCells(
  a: Amortised,
  money: (n: number) => string,
  unpricedLabel: string,
): (string | number)[] {
  const r = a.record;
  const cash = (n: number) => (r.unpriced ? unpricedLabel : money(n));
  const rate = (micro: number | undefined) => (micro === undefined ? '' : usdPerMillion(micro));
  return [
    r.sentAt,
    r.team,
    r.project,
    r.batchId,
    r.jobId,
    r.purpose,
    r.lane ?? 'primary',
    r.model,
    r.kind,
    r.endpoint,
    r.price?.tier ?? '',
    r.price ? (r.price.tier === 'peak' ? 'yes' : 'no') : '',
    r.usage.promptHitTokens,
    r.usage.promptMissTokens,
    r.usage.completionTokens,
    r.usage.reasoningTokens,
    rate(r.price?.rates?.hit),
    rate(r.price?.rates?.miss),
    rate(r.price?.rates?.output),
    cash(r.costNanoUsd),
    cash(a.warmupShareNanoUsd),
    cash(a.amortisedCostNanoUsd),
    cash(r.counterfactualNanoUsd),
    CURRENCY,
    Object.entries(sortedTags(r.tags))
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
    r.unpriced
      ? `unpriced: ${r.unpriced.reason}`
      : r.price
        ? `${r.price.tier} ${r.price.rowId} (${r.price.origin})`
        : '',
  ];
}

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
      DETAIL_HEADER.map(csvColumn),
      records.map((r) => detailCells(r, usdFixed, '')),
    );
  const table = new Table({ head: DETAIL_HEADER, style: { head: [], border: [] } });
  for (const r of records) table.push(detailCells(r, usd, 'unpriced'));
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
