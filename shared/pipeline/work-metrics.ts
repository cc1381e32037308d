/**
 * What the worker publishes as it records: per-record metrics (tokens, cost, overhead,
 * unpriced) and the team's budget use, as the stack's alarms expect them.
 */
import type { CostRecord } from '../ports/ledger';
import { METRICS } from '../resources';
import type { WorkerDeps } from './types';

/** Publishes what one new ledger record says: tokens, cost, overhead, and whether it is unpriced. */
export function emitRecord(deps: WorkerDeps, rec: CostRecord): void {
  if (rec.unpriced)
    deps.logger?.warn('billed response recorded unpriced', {
      responseId: rec.responseId,
      model: rec.model,
      pricedAt: rec.pricedAt,
      reason: rec.unpriced.reason,
      detail: rec.unpriced.detail,
    });
  const m = deps.metrics;
  if (!m) return;
  m.addMetric(METRICS.cacheHitTokens, 'Count', rec.usage.promptHitTokens);
  m.addMetric(METRICS.cacheMissTokens, 'Count', rec.usage.promptMissTokens);
  m.addMetric(METRICS.costNanoUsd, 'Count', rec.costNanoUsd);
  m.addMetric(METRICS.counterfactualNanoUsd, 'Count', rec.counterfactualNanoUsd);
  if (rec.purpose !== 'job') m.addMetric(METRICS.warmupCostNanoUsd, 'Count', rec.costNanoUsd);
  if (rec.unpriced) m.addMetric(METRICS.unpricedResponses, 'Count', 1);
}

/** BudgetUsedPercent with the team as its only dimension, as the budget alarm expects. */
export async function emitBudget(team: string, month: string, deps: WorkerDeps): Promise<void> {
  if (!deps.metrics) return;
  const budget = await deps.ledger.budget(team, month);
  if (!budget?.capNanoUsd) return;
  const single = deps.metrics.singleMetric();
  single.clearDefaultDimensions();
  single.addDimension(METRICS.budgetDimension, team);
  single.addMetric(
    METRICS.budgetUsedPercent,
    'Percent',
    (budget.spentNanoUsd * 100) / budget.capNanoUsd,
  );
}
