/**
 * The saved chargeback queries over the line items: the stack saves them in the Athena
 * workgroup, and the local SQL engine (DuckDB) runs the very same text over the exported files
 * in a test. They keep to the SQL both engines share (no map subscripts, no engine-specific
 * date functions): days are the `usage_date` column, tags the activated `tag_<key>` columns.
 * Money is summed in integer nano-USD and in DECIMAL(18,9) USD, both exact; `charge` tells the
 * provider's bill (`model`) from a batch's estimated AWS cost (`aws`).
 */
import { FOCUS_VERSION, focusSql } from './focus';
import { tagColumn } from './line-items';

/** The table name both engines use: the Glue table, and the local view over the files. */
export const LINE_ITEMS_TABLE = 'line_items';

export interface SavedQuery {
  /** Short id, also the Athena named query's name suffix. */
  id: string;
  description: string;
  sql: string;
}

/** A DECIMAL(18,9) USD column summed: exact in both engines (never a DOUBLE). */
const USD = (column: string) => `SUM(${column})`;

/** Nano-USD of one charge (`model`, the provider's bill, or `aws`, the estimated AWS cost). */
const ofCharge = (charge: string, column = 'cost_nano_usd') =>
  `SUM(CASE WHEN charge = '${charge}' THEN ${column} ELSE 0 END)`;

const ratio = (part: string, whole: string) =>
  `CAST(SUM(${part}) AS DOUBLE) / NULLIF(SUM(${whole}), 0)`;

/** The saved queries, with one branch of the tag query per activated tag key. */
export function savedQueries(tagKeys: readonly string[], table = LINE_ITEMS_TABLE): SavedQuery[] {
  const priced = 'NOT unpriced';
  const tagBranches = tagKeys.map(
    (key) =>
      `SELECT '${key.replaceAll("'", "''")}' AS tag_key, COALESCE(${tagColumn(key)}, '(untagged)') AS tag_value, cost_nano_usd, cost_usd FROM ${table} WHERE ${priced}`,
  );
  return [
    {
      id: 'spend-by-team-per-day',
      description:
        'Cost per team and UTC day: model (provider bill), estimated AWS, and total (priced line items; add WHERE usage_date >= ... to prune)',
      sql: `SELECT usage_date, team, ${ofCharge('model')} AS model_nano_usd, ${ofCharge('aws')} AS aws_nano_usd,
  SUM(cost_nano_usd) AS cost_nano_usd, ${USD('cost_usd')} AS cost_usd,
  SUM(CASE WHEN charge = 'model' THEN 1 ELSE 0 END) AS requests
FROM ${table}
WHERE ${priced}
GROUP BY usage_date, team
ORDER BY usage_date, team`,
    },
    {
      id: 'spend-by-tag',
      description:
        'Cost per activated cost-allocation tag key and value; untagged spend shown as (untagged)',
      sql:
        tagBranches.length === 0
          ? `SELECT 'none' AS tag_key, '(untagged)' AS tag_value, SUM(cost_nano_usd) AS cost_nano_usd, ${USD('cost_usd')} AS cost_usd FROM ${table} WHERE ${priced}`
          : `SELECT tag_key, tag_value, SUM(cost_nano_usd) AS cost_nano_usd, ${USD('cost_usd')} AS cost_usd
FROM (
  ${tagBranches.join('\n  UNION ALL\n  ')}
) AS tagged
GROUP BY tag_key, tag_value
ORDER BY tag_key, tag_value`,
    },
    {
      id: 'savings',
      description:
        'Per team: model cost, counterfactual on the reference model, and savings (warm-ups included in cost; the estimated AWS line is not model spend)',
      sql: `SELECT team, SUM(cost_nano_usd) AS cost_nano_usd, SUM(counterfactual_nano_usd) AS counterfactual_nano_usd,
  SUM(counterfactual_nano_usd) - SUM(cost_nano_usd) AS savings_nano_usd,
  ${USD('counterfactual_usd')} - ${USD('cost_usd')} AS savings_usd
FROM ${table}
WHERE ${priced} AND charge = 'model'
GROUP BY team
ORDER BY team`,
    },
    {
      id: 'spend-by-model-endpoint',
      description:
        'What served the spend (as costs --by model,endpoint): requests, tokens and cost per model and endpoint, a fallback endpoint on its own row; a batch AWS line is endpoint aws',
      sql: `SELECT model, endpoint, SUM(CASE WHEN charge = 'model' THEN 1 ELSE 0 END) AS requests,
  SUM(hit_tokens) AS hit_tokens, SUM(miss_tokens) AS miss_tokens, SUM(output_tokens) AS output_tokens,
  SUM(cost_nano_usd) AS cost_nano_usd, ${USD('cost_usd')} AS cost_usd
FROM ${table}
WHERE ${priced}
GROUP BY model, endpoint
ORDER BY model, endpoint`,
    },
    {
      id: 'cache-hit-ratio',
      description: 'Cache hit ratio per UTC day: hit tokens over all prompt tokens',
      sql: `SELECT usage_date, SUM(hit_tokens) AS hit_tokens, SUM(miss_tokens) AS miss_tokens,
  ${ratio('hit_tokens', 'hit_tokens + miss_tokens')} AS cache_hit_ratio
FROM ${table}
GROUP BY usage_date
ORDER BY usage_date`,
    },
    {
      id: `focus-${FOCUS_VERSION}`,
      description: `The line items as FOCUS ${FOCUS_VERSION} rows (FinOps Open Cost and Usage Specification): BilledCost, ChargePeriodStart/End, ProviderName, ServiceName, ConsumedQuantity in tokens, SkuId, Tags, x_Team/x_Project/x_Lane; CREATE VIEW focus AS this query`,
      sql: focusSql(table),
    },
    {
      id: 'top-projects',
      description: 'The ten projects that cost most, with their warm-up overhead',
      sql: `SELECT team, project, SUM(cost_nano_usd) AS cost_nano_usd, ${USD('cost_usd')} AS cost_usd,
  SUM(CASE WHEN purpose IN ('warmup', 'discarded') THEN cost_nano_usd ELSE 0 END) AS warmup_nano_usd,
  ${ofCharge('aws')} AS aws_nano_usd
FROM ${table}
WHERE ${priced}
GROUP BY team, project
ORDER BY cost_nano_usd DESC, team, project
LIMIT 10`,
    },
  ];
}
