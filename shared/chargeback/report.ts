/**
 * A chargeback report: facts grouped by the query's dimensions and totalled in integer
 * nano-USD, with every figure the outputs show derived here once (ratios, savings, cost per
 * passing test), so a table, a CSV, JSON and the HTML page only format them.
 */
import {
  addQuality,
  costPerPassingTest,
  passRate,
  type QualityTotals,
  zeroQuality,
} from '../quality/verdicts';
import {
  addTotals,
  savingsNanoUsd,
  type Totals,
  totalCostNanoUsd,
  warmupShare,
  zeroTotals,
} from '../totals';
import { LANES } from '../types';
import { type Dimension, dimensionValue } from './dimensions';
import { type Fact, type Filters, matches } from './facts';

/**
 * Of the model cost, what the repair and shadow lanes spent: shown as their own columns, since
 * they count in the bill but never in the savings.
 */
export interface LaneCosts {
  repairLaneNanoUsd: number;
  shadowLaneNanoUsd: number;
}

export type RowTotals = Totals & QualityTotals & LaneCosts;

/** A report row: the totals of one group; money in integer nano-USD. */
export interface CostRow extends RowTotals {
  /** The row's value of each `by` dimension. */
  group: Partial<Record<Dimension, string>>;
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
  totals: RowTotals;
  /** Why the quality columns are empty, when they are (`qualityUnavailable`). */
  qualityNote?: string;
  /** Without the repair lane, cost per passing test counts first answers only. */
  withRepairs?: boolean;
  /** Undefined when every record is priced. */
  unpriced?: UnpricedLine;
}

const zeroLanes = (): LaneCosts => ({ repairLaneNanoUsd: 0, shadowLaneNanoUsd: 0 });
const zeroRow = (): RowTotals => ({ ...zeroTotals(), ...zeroQuality(), ...zeroLanes() });

function addFact(into: RowTotals, fact: Fact): void {
  addTotals(into, fact);
  addQuality(into, fact);
  if (fact.lane === 'repair') into.repairLaneNanoUsd += fact.costNanoUsd;
  if (fact.lane === 'shadow') into.shadowLaneNanoUsd += fact.costNanoUsd;
}

const UNPRICED_COUNTS = [
  'requests',
  'hitTokens',
  'missTokens',
  'outputTokens',
  'reasoningTokens',
] as const;

function addUnpriced(line: UnpricedLine | undefined, fact: Fact): UnpricedLine {
  const u = line ?? {
    requests: 0,
    hitTokens: 0,
    missTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    models: [],
  };
  for (const f of UNPRICED_COUNTS) u[f] += fact[f];
  if (!u.models.includes(fact.model)) u.models = [...u.models, fact.model].sort();
  return u;
}

/** What a report is grouped and labelled by, besides the facts. */
export interface AggregateOptions extends Filters {
  by: Dimension[];
  months: string[];
  days?: { from: string; to: string };
  warmup?: 'separate' | 'amortised';
  /** Why the quality columns cannot be computed for this view (`qualityUnavailable`). */
  qualityNote?: string;
}

/**
 * Groups facts (roll-ups or records) by the `by` dimensions, after the team / project / model /
 * tag / lane filters; rows sorted by group. Every fact lands in exactly one row, so rows sum to
 * the totals.
 */
export function aggregate(facts: readonly Fact[], options: AggregateOptions): CostReport {
  const lanes = options.lanes ?? LANES;
  const groups = new Map<string, CostRow>();
  const totals = zeroRow();
  let unpriced: UnpricedLine | undefined;
  for (const f of facts) {
    if (!matches(f, { ...options, lanes })) continue;
    if (f.unpriced) {
      // A repriced record leaves its unpriced roll-up at zero.
      if (f.requests !== 0) unpriced = addUnpriced(unpriced, f);
      continue;
    }
    const values = options.by.map((d) => dimensionValue(f, d));
    const key = JSON.stringify(values);
    let row = groups.get(key);
    if (!row) {
      const group = Object.fromEntries(options.by.map((d, i) => [d, values[i]]));
      row = { group, ...zeroRow() };
      groups.set(key, row);
    }
    addFact(row, f);
    addFact(totals, f);
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
    withRepairs: lanes.includes('repair'),
  };
}

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

/** Hit tokens over prompt tokens, to 4 decimals; null without prompt tokens. */
export function cacheHitRatio(hit: number, miss: number): number | null {
  const all = hit + miss;
  return all === 0 ? null : Math.round((hit / all) * 10_000) / 10_000;
}

/** The figures derived from a row's totals; money in integer nano-USD. */
export interface Figures {
  totalCostNanoUsd: number;
  savingsNanoUsd: number;
  /** Warm-up over model cost; null without model cost. */
  warmupShare: number | null;
  cacheHitRatio: number | null;
  passRate: number | null;
  costPerPassingTestNanoUsd: number | null;
}

/**
 * A row's derived figures. Total is model cost plus the estimated AWS cost; the counterfactual
 * counts primary job answers only, so savings pay for all the rest.
 */
export function figuresOf(t: RowTotals, withRepairs: boolean): Figures {
  return {
    totalCostNanoUsd: totalCostNanoUsd(t),
    savingsNanoUsd: savingsNanoUsd(t),
    warmupShare: t.costNanoUsd === 0 ? null : warmupShare(t),
    cacheHitRatio: cacheHitRatio(t.hitTokens, t.missTokens),
    passRate: passRate(t),
    costPerPassingTestNanoUsd: perPassingTest(t, withRepairs),
  };
}
