/**
 * Pricing a billed response for the ledger: the one function the worker records with and
 * `warmbatch costs reprice` prices again with, so a repriced record is exactly what the worker
 * would have written had the row existed then.
 *
 * A response the catalog cannot price (a `model` no row names, an instant no row covers) was
 * billed all the same: it is recorded unpriced, with its tokens and the reason, never at $0.
 */
import type { BilledResponse } from '../llm/errors';
import type { CostRecord, RecordPurpose } from '../ports/ledger';
import type { Catalog } from '../pricing/catalog';
import { costAtPrice, counterfactualNanoUsd, PricingError, resolvePrice } from '../pricing/cost';
import type { Usage } from '../types';
import type { PipelineSettings, PricingInstant } from './settings';

/** The fields pricing fills in: the cost and the row, or why there is none. */
export type PricedFields = Pick<
  CostRecord,
  'costNanoUsd' | 'counterfactualNanoUsd' | 'price' | 'unpriced'
>;

/**
 * Prices `usage` of `model` at `at`: the cost, the counterfactual on the reference model (job
 * answers only: overhead would not exist on the reference model) and the row; or, when either
 * cannot be priced, no cost and the reason.
 */
export function priceUsage(input: {
  model: string;
  at: Date;
  usage: Usage;
  purpose: RecordPurpose;
  referenceModel: string;
  catalog: Catalog;
}): PricedFields {
  const { model, at, usage, catalog } = input;
  try {
    const price = resolvePrice(model, at, catalog);
    const counterfactual =
      input.purpose === 'job' ? counterfactualNanoUsd(input.referenceModel, at, usage, catalog) : 0;
    return {
      costNanoUsd: costAtPrice(price, usage).totalNanoUsd,
      counterfactualNanoUsd: counterfactual,
      price: {
        rowId: price.row.id,
        origin: price.row.origin,
        billedAs: price.billedAs,
        tier: price.tier,
        rates: { hit: price.hit, miss: price.miss, output: price.output },
      },
    };
  } catch (err) {
    if (!(err instanceof PricingError)) throw err;
    return {
      costNanoUsd: 0,
      counterfactualNanoUsd: 0,
      unpriced: { reason: err.code, detail: err.message },
    };
  }
}

/** The instant `pricing.instant` prices a response at. */
export function pricingInstant(
  instant: PricingInstant,
  times: { sentAt: Date; created: Date },
): Date {
  return instant === 'created' ? times.created : times.sentAt;
}

/** Where a record belongs: its batch, job and the work it was for. */
export interface RecordPlace {
  team: string;
  project: string;
  batchId: string;
  jobId: string;
  kind: CostRecord['kind'];
  purpose: RecordPurpose;
  /** The prefix group of the call. */
  group?: string;
  /** The batch's cost-allocation tags. */
  tags?: Record<string, string>;
  lane?: CostRecord['lane'];
}

/**
 * Builds the ledger record of a billed response, priced at the instant `pricing.instant`
 * chooses. Both instants are on the record.
 */
export function costRecordFor(
  billed: BilledResponse,
  place: RecordPlace,
  settings: Pick<PipelineSettings, 'referenceModel' | 'pricing'>,
  catalog: Catalog,
): CostRecord {
  const sentAt = new Date(billed.sentAt);
  // A response without a readable `created` is still billed: it is dated by its sending.
  const created = Number.isFinite(billed.created) ? new Date(billed.created * 1000) : sentAt;
  const pricedAt = pricingInstant(settings.pricing.instant, { sentAt, created });
  return {
    responseId: billed.responseId,
    ...place,
    model: billed.model,
    endpoint: billed.endpoint,
    usage: billed.usage,
    referenceModel: settings.referenceModel,
    sentAt: sentAt.toISOString(),
    created: created.toISOString(),
    ...(billed.receivedAt !== undefined && Number.isFinite(billed.receivedAt)
      ? { receivedAt: new Date(billed.receivedAt).toISOString() }
      : {}),
    pricedAt: pricedAt.toISOString(),
    ...priceUsage({
      model: billed.model,
      at: pricedAt,
      usage: billed.usage,
      purpose: place.purpose,
      referenceModel: settings.referenceModel,
      catalog,
    }),
  };
}

/** The model's prices now, for the executor's warm-up decision; none when it cannot be priced. */
export function groupPricesAt(
  model: string,
  at: Date,
  catalog: Catalog,
): { prices?: { hit: number; miss: number; output: number } } {
  try {
    const { hit, miss, output } = resolvePrice(model, at, catalog, { holidaysUnknown: 'peak' });
    return { prices: { hit, miss, output } };
  } catch {
    return {};
  }
}
