/**
 * The ledger in FOCUS, the FinOps Foundation's open cost and usage schema, version 1.2
 * (FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec, tag v1.2, specification/columns): one row per
 * priced cost record, the same rows whether `warmbatch costs --format focus` writes them as CSV
 * or the saved Athena query `focus-1.2` selects them from the line items.
 *
 * - BilledCost = EffectiveCost = ListCost = ContractedCost: the record's cost, priced at the
 *   provider's list price (no negotiated or commitment discounts exist here), as an exact
 *   decimal with 9 places (nano-USD), never a float.
 * - ChargePeriodStart/End: the record's UTC day [00:00, next 00:00); BillingPeriodStart/End its
 *   UTC month.
 * - ConsumedQuantity / PricingQuantity: tokens (prompt hit + miss + output) with ConsumedUnit and
 *   PricingUnit `Tokens`; a batch's AWS line is one `Batch`.
 * - SkuId: the model whose price row applied (`billedAs`); SkuPriceId: that row and its tier.
 * - SubAccountId/Name: the team; team, project, lane and the rest as `x_` columns (custom
 *   columns MUST be prefixed `x_`, FOCUS 1.2 column_handling).
 * - Unpriced records have no cost yet (BilledCost may not be null, and is never $0 here): they
 *   are left out and counted apart, and appear once `costs reprice` has priced them.
 * - A batch's estimated AWS cost (charge `aws`) is its own row: ProviderName `Amazon Web
 *   Services`, ServiceCategory `Compute`, x_Charge `aws`, x_Estimated true.
 */
import { type CostRecord, dayOf, monthOf } from '../ports/ledger';
import { usdDecimal } from '../pricing/estimate';
import { sortedTags } from '../tags';
import { CURRENCY } from './line-items';

/** The FOCUS version the columns follow. */
export const FOCUS_VERSION = '1.2';

/** FOCUS 1.2 columns written, in order, then the `x_` custom columns. */
export const FOCUS_COLUMNS = [
  'BilledCost',
  'BillingAccountId',
  'BillingAccountName',
  'BillingCurrency',
  'BillingPeriodEnd',
  'BillingPeriodStart',
  'ChargeCategory',
  'ChargeClass',
  'ChargeDescription',
  'ChargeFrequency',
  'ChargePeriodEnd',
  'ChargePeriodStart',
  'ConsumedQuantity',
  'ConsumedUnit',
  'ContractedCost',
  'EffectiveCost',
  'InvoiceIssuerName',
  'ListCost',
  'PricingCategory',
  'PricingQuantity',
  'PricingUnit',
  'ProviderName',
  'PublisherName',
  'ResourceId',
  'ResourceName',
  'ResourceType',
  'ServiceCategory',
  'ServiceName',
  'SkuId',
  'SkuPriceId',
  'SubAccountId',
  'SubAccountName',
  'SubAccountType',
  'Tags',
] as const;

/** Custom columns (`x_` prefix, as FOCUS 1.2 requires of columns it does not define). */
export const FOCUS_CUSTOM_COLUMNS = [
  'x_Team',
  'x_Project',
  'x_Lane',
  'x_Charge',
  'x_Purpose',
  'x_Kind',
  'x_Model',
  'x_BatchId',
  'x_JobId',
  'x_ResponseId',
  'x_Estimated',
  'x_BilledCostNanoUsd',
  'x_HitTokens',
  'x_MissTokens',
  'x_OutputTokens',
] as const;

export type FocusColumn = (typeof FOCUS_COLUMNS)[number] | (typeof FOCUS_CUSTOM_COLUMNS)[number];
export type FocusRow = Record<FocusColumn, string>;

/** Integer nano-USD as an exact decimal with 9 places: `1234567` -> `0.001234567`. */
export const nanoDecimal = usdDecimal;

const nextDay = (day: string) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
const nextMonth = (month: string) => {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 7);
};
const instant = (day: string) => `${day}T00:00:00Z`;

/** Who provides what a model record was served by: DeepSeek's API, or the endpoint named. */
function providerOf(r: CostRecord): string {
  if (r.purpose === 'aws') return 'Amazon Web Services';
  return r.endpoint === 'deepseek' || r.endpoint === 'unknown' ? 'DeepSeek' : r.endpoint;
}

/** A priced record as a FOCUS row. */
export function focusRowOf(r: CostRecord, billingAccount: string): FocusRow {
  if (r.unpriced) throw new RangeError(`record ${r.responseId} is unpriced: it has no cost yet`);
  const day = dayOf(r.sentAt);
  const month = monthOf(r.sentAt);
  const aws = r.purpose === 'aws';
  const tokens = r.usage.promptHitTokens + r.usage.promptMissTokens + r.usage.completionTokens;
  const cost = nanoDecimal(r.costNanoUsd);
  const provider = providerOf(r);
  const what = aws
    ? `estimated AWS cost of batch ${r.batchId} (requests and functions at list prices)`
    : `${r.model} tokens (${r.purpose === 'job' ? 'job answer' : r.purpose}${r.estimated ? ', estimated' : ''}), ${r.price?.tier ?? 'flat'}`;
  return {
    BilledCost: cost,
    BillingAccountId: billingAccount,
    BillingAccountName: billingAccount,
    BillingCurrency: CURRENCY,
    BillingPeriodEnd: instant(`${nextMonth(month)}-01`),
    BillingPeriodStart: instant(`${month}-01`),
    ChargeCategory: 'Usage',
    ChargeClass: '',
    ChargeDescription: what,
    ChargeFrequency: 'Usage-Based',
    ChargePeriodEnd: instant(nextDay(day)),
    ChargePeriodStart: instant(day),
    ConsumedQuantity: aws ? '1' : String(tokens),
    ConsumedUnit: aws ? 'Batch' : 'Tokens',
    ContractedCost: cost,
    EffectiveCost: cost,
    InvoiceIssuerName: provider,
    ListCost: cost,
    PricingCategory: 'Standard',
    PricingQuantity: aws ? '1' : String(tokens),
    PricingUnit: aws ? 'Batch' : 'Tokens',
    ProviderName: provider,
    PublisherName: provider,
    ResourceId: `${r.team}/${r.batchId}/${r.jobId}`,
    ResourceName: r.jobId,
    ResourceType: aws ? 'warmbatch batch' : 'LLM request',
    ServiceCategory: aws ? 'Compute' : 'AI and Machine Learning',
    ServiceName: aws ? 'warmbatch pipeline on AWS' : `${provider} API`,
    SkuId: aws ? 'aws-estimate' : (r.price?.billedAs ?? r.model),
    SkuPriceId: r.price ? `${r.price.rowId}#${r.price.tier}` : '',
    SubAccountId: r.team,
    SubAccountName: r.team,
    SubAccountType: 'Team',
    Tags: JSON.stringify(sortedTags(r.tags)),
    x_Team: r.team,
    x_Project: r.project,
    x_Lane: r.lane ?? 'primary',
    x_Charge: aws ? 'aws' : 'model',
    x_Purpose: r.purpose,
    x_Kind: r.kind,
    x_Model: r.model,
    x_BatchId: r.batchId,
    x_JobId: r.jobId,
    x_ResponseId: r.responseId,
    x_Estimated: String(aws || r.estimated !== undefined),
    x_BilledCostNanoUsd: String(r.costNanoUsd),
    x_HitTokens: String(r.usage.promptHitTokens),
    x_MissTokens: String(r.usage.promptMissTokens),
    x_OutputTokens: String(r.usage.completionTokens),
  };
}

/**
 * The FOCUS rows of `records`: the priced ones, in the order given; `unpriced` counts those left
 * out (their cost is not known yet).
 */
export function focusRows(
  records: readonly CostRecord[],
  billingAccount: string,
): { rows: FocusRow[]; unpriced: number } {
  const rows: FocusRow[] = [];
  let unpriced = 0;
  for (const r of records) {
    if (r.unpriced) unpriced++;
    else rows.push(focusRowOf(r, billingAccount));
  }
  return { rows, unpriced };
}

/**
 * The saved query that selects the line items as FOCUS 1.2 rows, in the SQL Athena and DuckDB
 * share (`CREATE VIEW focus AS <this>` makes it a view). The same columns and values as the CSV,
 * but Tags is the line items' map, and money is DECIMAL(18,9).
 */
export function focusSql(table: string, billingAccount = 'warmbatch'): string {
  const account = billingAccount.replaceAll("'", "''");
  const provider = `CASE WHEN charge = 'aws' THEN 'Amazon Web Services' WHEN endpoint IN ('deepseek', 'unknown') THEN 'DeepSeek' ELSE endpoint END`;
  const tokens = 'hit_tokens + miss_tokens + output_tokens';
  const day = "CAST(usage_date || ' 00:00:00' AS TIMESTAMP)";
  const month = "CAST(billing_period || '-01 00:00:00' AS TIMESTAMP)";
  return `SELECT cost_usd AS BilledCost, '${account}' AS BillingAccountId, '${account}' AS BillingAccountName,
  currency AS BillingCurrency, ${month} + INTERVAL '1' MONTH AS BillingPeriodEnd, ${month} AS BillingPeriodStart,
  'Usage' AS ChargeCategory, CAST(NULL AS VARCHAR) AS ChargeClass,
  CASE WHEN charge = 'aws' THEN 'estimated AWS cost of batch ' || batch_id ELSE model || ' tokens (' || purpose || ')' END AS ChargeDescription,
  'Usage-Based' AS ChargeFrequency, ${day} + INTERVAL '1' DAY AS ChargePeriodEnd, ${day} AS ChargePeriodStart,
  CASE WHEN charge = 'aws' THEN 1 ELSE ${tokens} END AS ConsumedQuantity,
  CASE WHEN charge = 'aws' THEN 'Batch' ELSE 'Tokens' END AS ConsumedUnit,
  cost_usd AS ContractedCost, cost_usd AS EffectiveCost, ${provider} AS InvoiceIssuerName, cost_usd AS ListCost,
  'Standard' AS PricingCategory, CASE WHEN charge = 'aws' THEN 1 ELSE ${tokens} END AS PricingQuantity,
  CASE WHEN charge = 'aws' THEN 'Batch' ELSE 'Tokens' END AS PricingUnit,
  ${provider} AS ProviderName, ${provider} AS PublisherName,
  team || '/' || batch_id || '/' || job_id AS ResourceId, job_id AS ResourceName,
  CASE WHEN charge = 'aws' THEN 'warmbatch batch' ELSE 'LLM request' END AS ResourceType,
  CASE WHEN charge = 'aws' THEN 'Compute' ELSE 'AI and Machine Learning' END AS ServiceCategory,
  CASE WHEN charge = 'aws' THEN 'warmbatch pipeline on AWS' ELSE ${provider} || ' API' END AS ServiceName,
  CASE WHEN charge = 'aws' THEN 'aws-estimate' ELSE COALESCE(billed_as, model) END AS SkuId,
  price_row_id || '#' || tier AS SkuPriceId,
  team AS SubAccountId, team AS SubAccountName, 'Team' AS SubAccountType, tags AS Tags,
  team AS x_Team, project AS x_Project, lane AS x_Lane, charge AS x_Charge, purpose AS x_Purpose,
  kind AS x_Kind, model AS x_Model, batch_id AS x_BatchId, job_id AS x_JobId, line_item_id AS x_ResponseId,
  (charge = 'aws' OR estimated) AS x_Estimated, cost_nano_usd AS x_BilledCostNanoUsd,
  hit_tokens AS x_HitTokens, miss_tokens AS x_MissTokens, output_tokens AS x_OutputTokens
FROM ${table}
WHERE NOT unpriced`;
}
