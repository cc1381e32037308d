/**
 * Line items: one row per cost record, in the spirit of AWS Cost and Usage Reports (usage start
 * and end, who used it, what and where, tokens by class, unit rates, cost, currency, tags), as
 * the export writes them to S3 for Athena and as the local SQL engine reads them. Money is
 * integer nano-USD (exact: sums equal `warmbatch costs`) with a USD column beside it for
 * people. Each activated cost-allocation tag key also gets a column of its own, as CUR gives
 * each activated tag one, so every SQL engine can group by it.
 */

import * as z from 'zod';
import { type CostRecord, dayOf, monthOf } from '../ports/ledger';
import { MAX_TAGS, sortedTags, tagKeyProblem } from '../tags';
import type { Amortised } from './amortise';

/** The currency of every amount: the provider bills in US dollars. */
export const CURRENCY = 'USD';

/** A line item as written; nullable fields are `null` where a record has no value. */
export interface LineItem {
  line_item_id: string;
  billing_period: string;
  usage_date: string;
  usage_start_time: Date;
  usage_end_time: Date | null;
  team: string;
  project: string;
  batch_id: string;
  job_id: string;
  purpose: string;
  /** `model` (the provider's bill) or `aws` (a batch's estimated AWS cost). */
  charge: string;
  lane: string;
  kind: string;
  model: string;
  billed_as: string | null;
  endpoint: string;
  tier: string | null;
  peak: boolean | null;
  price_row_id: string | null;
  price_origin: string | null;
  group_key: string | null;
  hit_tokens: bigint;
  miss_tokens: bigint;
  output_tokens: bigint;
  reasoning_tokens: bigint;
  hit_rate_micro_usd_per_mtok: bigint | null;
  miss_rate_micro_usd_per_mtok: bigint | null;
  output_rate_micro_usd_per_mtok: bigint | null;
  cost_nano_usd: bigint;
  /** USD as DECIMAL(18,9): the nano-USD integer, scaled by 10^9 (exact, never a double). */
  cost_usd: bigint;
  warmup_share_nano_usd: bigint;
  amortised_cost_nano_usd: bigint;
  amortised_cost_usd: bigint;
  counterfactual_nano_usd: bigint;
  counterfactual_usd: bigint;
  reference_model: string;
  currency: string;
  unpriced: boolean;
  unpriced_reason: string | null;
  estimated: boolean;
  tags: Record<string, string>;
  /** `tag_<key>` of each activated tag key. */
  [tagColumn: `tag_${string}`]: string | null;
}

/** The SQL type of each column, in file order (Glue / Athena names; DuckDB reads the same file). */
export const LINE_ITEM_COLUMNS = [
  ['line_item_id', 'string', 'the provider response id (unrecorded:<attempt> for an estimate)'],
  ['billing_period', 'string', 'UTC month of usage_start_time (yyyy-mm)'],
  ['usage_date', 'string', 'UTC day of usage_start_time (yyyy-mm-dd); also the partition'],
  ['usage_start_time', 'timestamp', 'when the request was sent (UTC)'],
  ['usage_end_time', 'timestamp', 'when the answer arrived (null for estimates)'],
  ['team', 'string', ''],
  ['project', 'string', ''],
  ['batch_id', 'string', ''],
  ['job_id', 'string', "the job, or 'warmup'"],
  ['purpose', 'string', 'job, warmup, discarded, or aws (a batch estimated AWS cost)'],
  ['charge', 'string', 'model (the provider bill) or aws (estimated AWS cost of the batch)'],
  ['lane', 'string', 'primary, repair or shadow (a comparison run)'],
  ['kind', 'string', 'docs or tests'],
  ['model', 'string', 'the model the response named'],
  ['billed_as', 'string', 'the model whose price row applied'],
  ['endpoint', 'string', 'the endpoint that served it'],
  ['tier', 'string', 'peak, off-peak or flat'],
  ['peak', 'boolean', 'billed at peak price'],
  ['price_row_id', 'string', 'catalog row that priced it'],
  ['price_origin', 'string', 'where the row came from'],
  ['group_key', 'string', 'prefix group (warm-ups are shared within it)'],
  ['hit_tokens', 'bigint', 'prompt tokens served from the cache'],
  ['miss_tokens', 'bigint', 'prompt tokens not served from the cache'],
  ['output_tokens', 'bigint', 'completion tokens, reasoning included'],
  ['reasoning_tokens', 'bigint', 'of output_tokens, reasoning'],
  ['hit_rate_micro_usd_per_mtok', 'bigint', 'unit price, micro-USD per 1M tokens'],
  ['miss_rate_micro_usd_per_mtok', 'bigint', 'unit price, micro-USD per 1M tokens'],
  ['output_rate_micro_usd_per_mtok', 'bigint', 'unit price, micro-USD per 1M tokens'],
  ['cost_nano_usd', 'bigint', 'cost, integer nano-USD (0 while unpriced)'],
  ['cost_usd', 'decimal(18,9)', 'cost in USD, exact (DECIMAL: cost_nano_usd / 10^9)'],
  ['warmup_share_nano_usd', 'bigint', 'share of the group warm-up moved onto (or off) this item'],
  ['amortised_cost_nano_usd', 'bigint', 'cost_nano_usd + warmup_share_nano_usd'],
  ['amortised_cost_usd', 'decimal(18,9)', 'amortised cost in USD, exact (DECIMAL)'],
  ['counterfactual_nano_usd', 'bigint', 'the same tokens on the reference model (jobs only)'],
  ['counterfactual_usd', 'decimal(18,9)', 'counterfactual in USD, exact (DECIMAL)'],
  ['reference_model', 'string', ''],
  ['currency', 'string', 'USD'],
  ['unpriced', 'boolean', 'no price row covered it yet (cost unknown, not zero)'],
  ['unpriced_reason', 'string', ''],
  ['estimated', 'boolean', 'billed_unrecorded: an upper-bound estimate, not the bill'],
  ['tags', 'map<string,string>', 'every cost-allocation tag'],
] as const;

/** Keys activated as columns when the stack configuration names none. */
export const DEFAULT_TAG_COLUMNS = ['cost-centre', 'environment', 'repository'] as const;

/** The column of an activated tag key: `cost-centre` -> `tag_cost_centre`. */
export function tagColumn(key: string): `tag_${string}` {
  return `tag_${key
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '')}`;
}

/**
 * Checks a list of activated tag keys: each must give a column name of its own.
 * @throws RangeError naming the clash.
 */
export function checkTagColumns(keys: readonly string[]): void {
  const seen = new Map<string, string>();
  for (const key of keys) {
    const column = tagColumn(key);
    if (column === 'tag_')
      throw new RangeError(`tag key ${JSON.stringify(key)} gives no column name`);
    const other = seen.get(column);
    if (other !== undefined)
      throw new RangeError(
        `tag keys ${JSON.stringify(other)} and ${JSON.stringify(key)} both give column ${column}`,
      );
    seen.set(column, key);
  }
}

/** The activated tag keys as configured: valid keys, each giving a column of its own. */
export const TagColumnsSchema = z
  .array(z.string())
  .max(MAX_TAGS)
  .superRefine((keys, ctx) => {
    for (const key of keys) {
      const problem = tagKeyProblem(key);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }
    try {
      checkTagColumns(keys);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

const big = (n: number) => BigInt(n);

/** The line item of an amortised record, with a column for each activated tag key. */
export function lineItemOf(a: Amortised, tagKeys: readonly string[]): LineItem {
  const r: CostRecord = a.record;
  const rates = r.price?.rates;
  const tags = sortedTags(r.tags);
  const item: LineItem = {
    line_item_id: r.responseId,
    billing_period: monthOf(r.sentAt),
    usage_date: dayOf(r.sentAt),
    usage_start_time: new Date(r.sentAt),
    usage_end_time: r.receivedAt ? new Date(r.receivedAt) : null,
    team: r.team,
    project: r.project,
    batch_id: r.batchId,
    job_id: r.jobId,
    purpose: r.purpose,
    charge: r.purpose === 'aws' ? 'aws' : 'model',
    lane: r.lane ?? 'primary',
    kind: r.kind,
    model: r.model,
    billed_as: r.price?.billedAs ?? null,
    endpoint: r.endpoint,
    tier: r.price?.tier ?? null,
    peak: r.price ? r.price.tier === 'peak' : null,
    price_row_id: r.price?.rowId ?? null,
    price_origin: r.price?.origin ?? null,
    group_key: r.group ?? null,
    hit_tokens: big(r.usage.promptHitTokens),
    miss_tokens: big(r.usage.promptMissTokens),
    output_tokens: big(r.usage.completionTokens),
    reasoning_tokens: big(r.usage.reasoningTokens),
    hit_rate_micro_usd_per_mtok: rates ? big(rates.hit) : null,
    miss_rate_micro_usd_per_mtok: rates ? big(rates.miss) : null,
    output_rate_micro_usd_per_mtok: rates ? big(rates.output) : null,
    cost_nano_usd: big(r.costNanoUsd),
    cost_usd: big(r.costNanoUsd),
    warmup_share_nano_usd: big(a.warmupShareNanoUsd),
    amortised_cost_nano_usd: big(a.amortisedCostNanoUsd),
    amortised_cost_usd: big(a.amortisedCostNanoUsd),
    counterfactual_nano_usd: big(r.counterfactualNanoUsd),
    counterfactual_usd: big(r.counterfactualNanoUsd),
    reference_model: r.referenceModel,
    currency: CURRENCY,
    unpriced: r.unpriced !== undefined,
    unpriced_reason: r.unpriced?.reason ?? null,
    estimated: r.estimated !== undefined,
    tags,
  };
  for (const key of tagKeys) item[tagColumn(key)] = tags[key] ?? null;
  return item;
}
