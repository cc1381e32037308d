/**
 * Repricing: the records of a month that no price row covered when they were billed are priced
 * again with today's catalog (an operator added the row), each at the instant it was first to
 * be priced at, exactly as the worker would have priced it. Idempotent: a record is priced by
 * one run only, and its roll-ups, budget and batch totals change once.
 */
import type { LedgerStore, RepriceResult } from '../ports/ledger';
import type { Catalog } from '../pricing/catalog';
import { priceUsage } from './costing';

/** Prices every unpriced record of `month` that `catalog` can price now. */
export async function repriceMonth(
  ledger: LedgerStore,
  catalog: Catalog,
  month: string,
): Promise<RepriceResult> {
  const result: RepriceResult = { repriced: 0, stillUnpriced: [], alreadyPriced: 0 };
  for (const record of await ledger.unpricedRecords(month)) {
    const priced = priceUsage({
      model: record.model,
      at: new Date(record.pricedAt),
      usage: record.usage,
      purpose: record.purpose,
      lane: record.lane,
      estimated: record.estimated !== undefined,
      referenceModel: record.referenceModel,
      catalog,
    });
    if (priced.unpriced) {
      result.stillUnpriced.push({
        responseId: record.responseId,
        model: record.model,
        reason: priced.unpriced.reason,
      });
      continue;
    }
    if (await ledger.repriceRecord(record, priced)) result.repriced++;
    else result.alreadyPriced++;
  }
  return result;
}
