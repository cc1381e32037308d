/**
 * Pricing a workload before running it: `jobs` requests of the same shape, on one model and
 * optionally on others for comparison. Pure: the `estimate` command only parses and prints.
 */

import { type Catalog, defaultCatalog } from './catalog';
import { costAtPrice, resolvePrice, type Tier } from './cost';

/** A workload of `jobs` requests, each with the same token counts. */
export interface WorkloadSpec {
  model: string;
  at: Date;
  jobs: number;
  /** The whole prompt of one job, cached part included. */
  inputTokens: number;
  /** The part of `inputTokens` served from the provider's cache (default 0). */
  cachedTokens?: number;
  /** Completion tokens of one job, reasoning included. */
  outputTokens: number;
  /** Other models to price the same tokens on. */
  compare?: readonly string[];
}

/** Integer nano-USD; `total` is rounded once, the parts each on their own (display only). */
export interface WorkloadCost {
  input: number;
  cached: number;
  output: number;
  total: number;
}

/** The catalog row a price came from, as `--json` reports it. */
export interface RowRef {
  id: string;
  model: string;
  from: string;
  until: string | null;
  /** The source the row came from: `built-in`, a price file, `s3://...`. */
  origin: string;
}

export interface PricedWorkload {
  model: string;
  /** The model whose row priced it (through an alias). */
  billedAs: string;
  tier: Tier;
  row: RowRef;
  /** Why the tier was assumed (peak, without a holiday list for that year). */
  assumed?: string;
  costNanoUsd: WorkloadCost;
}

export interface WorkloadComparison extends PricedWorkload {
  /** Compared total / estimated total; null when the estimate costs nothing. */
  ratio: number | null;
}

export interface WorkloadEstimate extends PricedWorkload {
  at: Date;
  jobs: number;
  /** Totals across jobs: `input` is the uncached prompt, `cached` the cached prompt. */
  tokens: { input: number; cached: number; output: number };
  compare: WorkloadComparison[];
}

/** The `--json` form of an estimate: USD as numbers converted at the end, for display. */
export interface EstimateJson extends PricedJson {
  at: string;
  jobs: number;
  tokens: { input: number; cached: number; output: number };
  compare: Array<PricedJson & { ratio: number | null }>;
}

/** A workload's cost parts as exact USD decimal strings (9 places). */
export type WorkloadCostUsd = Record<keyof WorkloadCost, string>;

/**
 * One priced model in `--json`: integer nano-USD (authoritative) and the same as exact USD
 * decimal strings (never floats: `4e-09` is not money), tier and row.
 */
export interface PricedJson extends PricedWorkload {
  costUsd: WorkloadCostUsd;
}

function count(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

function total(name: string, jobs: number, perJob: number): number {
  const value = jobs * perJob;
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} across all jobs is too large`);
  return value;
}

function priceOn(
  model: string,
  at: Date,
  tokens: WorkloadEstimate['tokens'],
  catalog: Catalog,
): PricedWorkload {
  const price = resolvePrice(model, at, catalog, { holidaysUnknown: 'peak' });
  const cost = costAtPrice(price, {
    promptHitTokens: tokens.cached,
    promptMissTokens: tokens.input,
    completionTokens: tokens.output,
    reasoningTokens: 0,
  });
  const { row } = price;
  return {
    model,
    billedAs: price.billedAs,
    tier: price.tier,
    row: {
      id: row.id,
      model: row.model,
      from: new Date(row.fromMs).toISOString(),
      until: Number.isFinite(row.untilMs) ? new Date(row.untilMs).toISOString() : null,
      origin: row.origin,
    },
    ...(price.assumed ? { assumed: price.assumed } : {}),
    costNanoUsd: {
      input: cost.missNanoUsd,
      cached: cost.hitNanoUsd,
      output: cost.outputNanoUsd,
      total: cost.totalNanoUsd,
    },
  };
}

/**
 * Prices a workload on `spec.model` at `spec.at`, and the same tokens (same cached share) on
 * each compared model. Costs are integer nano-USD, the total rounded once over all jobs.
 * @throws RangeError on negative or fractional counts, or cached tokens above input tokens.
 * @throws UnknownModelError, ModelNotInForceError for a model not priced at `spec.at`.
 */
export function estimateWorkload(
  spec: WorkloadSpec,
  catalog: Catalog = defaultCatalog(),
): WorkloadEstimate {
  const jobs = count('jobs', spec.jobs);
  const input = count('inputTokens', spec.inputTokens);
  const cached = count('cachedTokens', spec.cachedTokens ?? 0);
  const output = count('outputTokens', spec.outputTokens);
  if (cached > input) {
    throw new RangeError(`cachedTokens (${cached}) cannot exceed inputTokens (${input})`);
  }
  const tokens = {
    input: total('uncached input tokens', jobs, input - cached),
    cached: total('cached input tokens', jobs, cached),
    output: total('output tokens', jobs, output),
  };
  const own = priceOn(spec.model, spec.at, tokens, catalog);
  const compare = (spec.compare ?? []).map((model): WorkloadComparison => {
    const other = priceOn(model, spec.at, tokens, catalog);
    const ratio =
      own.costNanoUsd.total === 0
        ? null
        : Number((other.costNanoUsd.total / own.costNanoUsd.total).toPrecision(6));
    return { ...other, ratio };
  });
  return { ...own, at: spec.at, jobs, tokens, compare };
}

/**
 * Integer nano-USD as an exact USD decimal string with 9 places (`1234567` -> `0.001234567`):
 * the form money takes in every machine-readable output, beside the integer nano-USD.
 */
export function usdDecimal(nano: number): string {
  if (!Number.isSafeInteger(nano)) throw new RangeError(`not an integer nano-USD amount: ${nano}`);
  const sign = nano < 0 ? '-' : '';
  const abs = BigInt(Math.abs(nano));
  return `${sign}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** Nano-USD as a USD number, for display only (never store or add the result). */
export function nanoToUsd(nano: number): number {
  return nano / 1e9;
}

function costUsd(cost: WorkloadCost): WorkloadCostUsd {
  return {
    input: usdDecimal(cost.input),
    cached: usdDecimal(cost.cached),
    output: usdDecimal(cost.output),
    total: usdDecimal(cost.total),
  };
}

function pricedJson(p: PricedWorkload): PricedJson {
  return {
    model: p.model,
    billedAs: p.billedAs,
    tier: p.tier,
    row: { ...p.row },
    ...(p.assumed ? { assumed: p.assumed } : {}),
    costNanoUsd: { ...p.costNanoUsd },
    costUsd: costUsd(p.costNanoUsd),
  };
}

/** The one JSON object `warmbatch estimate --json` prints. */
export function estimateToJson(estimate: WorkloadEstimate): EstimateJson {
  return {
    ...pricedJson(estimate),
    at: estimate.at.toISOString(),
    jobs: estimate.jobs,
    tokens: { ...estimate.tokens },
    compare: estimate.compare.map((c) => ({ ...pricedJson(c), ratio: c.ratio })),
  };
}

/**
 * Integer nano-USD as a dollar string, exact (integer arithmetic, no float): at least two
 * decimals, more only when the amount has them (`$1.40`, `$0.0000028`).
 */
export function formatUsd(nano: number): string {
  if (!Number.isSafeInteger(nano)) throw new RangeError(`Not an integer nano-USD amount: ${nano}`);
  const sign = nano < 0 ? '-' : '';
  const abs = BigInt(Math.abs(nano));
  const dollars = abs / 1_000_000_000n;
  const fraction = (abs % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}$${dollars}.${fraction.padEnd(2, '0')}`;
}
