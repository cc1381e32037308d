/**
 * Repricing: the records of a month that no price row covered when they were billed are priced
 * again with today's catalog (an operator added the row), each at the instant it was first to
 * be priced at, exactly as the worker would have priced it. Idempotent: a record is priced by
 * one run only, and its roll-ups, budget and batch totals change once.
 *
 * Every figure derived from a job's cost follows: the store gives the job its cost in the same
 * step, and `rerecordQuality` has the pipeline record each affected batch's verdicts again,
 * which recomputes its quality counters (cost per passing test) from the jobs and adds only the
 * difference to the roll-ups.
 */

import type { LedgerStore, RepriceResult } from '../ports/ledger';
import type { ObjectStore } from '../ports/objects';
import type { Catalog } from '../pricing/catalog';
import { PREFIXES, VERDICTS_SUFFIX } from '../resources';
import type { BatchRef } from '../types';
import { priceUsage } from './costing';

/** Prices every unpriced record of `month` that `catalog` can price now. */
export async function repriceMonth(
  ledger: LedgerStore,
  catalog: Catalog,
  month: string,
): Promise<RepriceResult> {
  const result: RepriceResult = { repriced: 0, stillUnpriced: [], alreadyPriced: 0, batches: [] };
  const batches = new Map<string, BatchRef>();
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
    if (await ledger.repriceRecord(record, priced)) {
      result.repriced++;
      if (record.purpose === 'job')
        batches.set(JSON.stringify([record.team, record.batchId]), {
          team: record.team,
          batchId: record.batchId,
        });
    } else result.alreadyPriced++;
  }
  result.batches = [...batches.values()];
  return result;
}

/**
 * Has the pipeline record the verdicts of `batches` again, now that their jobs carry priced
 * costs: each batch's `verdicts.json` is written again as it is, and the upload's event runs
 * the same recording as the first time (exactly once per content: only the difference is
 * added). A repair or shadow batch's verdicts live on its primary batch: the primary's is
 * written. Returns the verdicts keys written.
 */
export async function rerecordQuality(
  objects: ObjectStore,
  batches: readonly BatchRef[],
  primaryOf: (batch: BatchRef) => Promise<BatchRef | undefined>,
): Promise<string[]> {
  const keys = new Set<string>();
  for (const b of batches) {
    const primary = (await primaryOf(b)) ?? b;
    keys.add(`${PREFIXES.batches}${primary.team}/${primary.batchId}/${VERDICTS_SUFFIX}`);
  }
  const written: string[] = [];
  for (const key of keys) {
    const text = await objects.getText(key);
    if (text === undefined) continue;
    await objects.put(key, text, 'application/json');
    written.push(key);
  }
  return written;
}
