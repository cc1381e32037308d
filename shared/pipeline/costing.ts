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
import {
  costAtPrice,
  counterfactualNanoUsd,
  PricingError,
  type ResolvedPrice,
  resolvePrice,
} from '../pricing/cost';
import type { Lane, Usage } from '../types';
import type { PipelineSettings, PricingInstant } from './settings';

/** The fields pricing fills in: the cost and the row, or why there is none. */
export type PricedFields = Pick<
  CostRecord,
  'costNanoUsd' | 'counterfactualNanoUsd' | 'price' | 'unpriced' | 'referenceUnpriced'
>;

/**
 * Whether a record's tokens count towards savings: a primary-lane job answer the provider
 * reported. Warm-ups, probes and discarded attempts would not exist on the reference model;
 * repairs and shadow runs are quality spend, not the work itself; an estimate of a lost call is
 * an upper bound, and its job's retried answer carries the real counterfactual.
 */
export function countsAsSaving(r: {
  purpose: RecordPurpose;
  lane?: Lane | undefined;
  estimated?: boolean | undefined;
}): boolean {
  return r.purpose === 'job' && (r.lane ?? 'primary') === 'primary' && !r.estimated;
}

/**
 * The counterfactual of `usage` on the reference model, priced on its own: a reference model
 * the catalog cannot price leaves the counterfactual at 0 with the reason
 * (`referenceUnpriced`), and never touches the real cost.
 */
export function referenceCost(input: {
  referenceModel: string;
  at: Date;
  usage: Usage;
  catalog: Catalog;
}): Pick<CostRecord, 'counterfactualNanoUsd' | 'referenceUnpriced'> {
  try {
    return {
      counterfactualNanoUsd: counterfactualNanoUsd(
        input.referenceModel,
        input.at,
        input.usage,
        input.catalog,
      ),
    };
  } catch (err) {
    if (!(err instanceof PricingError)) throw err;
    return {
      counterfactualNanoUsd: 0,
      referenceUnpriced: {
        reason: err.code,
        detail: `reference model ${input.referenceModel}: ${err.message}`,
      },
    };
  }
}

/**
 * Prices `usage` of `model` at `at`: the cost and the row, or, when the model cannot be priced,
 * no cost and the reason. The counterfactual on the reference model is priced apart
 * (`referenceCost`), for the records that count towards savings only (`countsAsSaving`): a
 * reference model the catalog cannot price never makes the real cost unknown.
 */
export function priceUsage(input: {
  model: string;
  at: Date;
  usage: Usage;
  purpose: RecordPurpose;
  lane?: Lane | undefined;
  estimated?: boolean;
  referenceModel: string;
  catalog: Catalog;
}): PricedFields {
  const { model, at, usage, catalog } = input;
  let price: ResolvedPrice;
  try {
    price = resolvePrice(model, at, catalog);
  } catch (err) {
    if (!(err instanceof PricingError)) throw err;
    return {
      costNanoUsd: 0,
      counterfactualNanoUsd: 0,
      unpriced: { reason: err.code, detail: err.message },
    };
  }
  return {
    costNanoUsd: costAtPrice(price, usage).totalNanoUsd,
    ...(countsAsSaving(input)
      ? referenceCost({ referenceModel: input.referenceModel, at, usage, catalog })
      : { counterfactualNanoUsd: 0 }),
    price: {
      rowId: price.row.id,
      origin: price.row.origin,
      billedAs: price.billedAs,
      tier: price.tier,
      rates: { hit: price.hit, miss: price.miss, output: price.output },
    },
  };
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
  /**
   * The call's upper-bound estimate (every prompt token a miss, `max_tokens` of output): it
   * stands in for a usage block the response carried unreadably, marked `billed_unrecorded`.
   */
  estimate?: Usage,
): CostRecord {
  const unreadable = billed.usageUnreadable === true;
  if (unreadable && !estimate)
    throw new RangeError(`response ${billed.responseId} has no readable usage and no estimate`);
  const usage = unreadable ? (estimate as Usage) : billed.usage;
  const sentAt = new Date(billed.sentAt);
  // A response without a readable `created` is still billed: it is dated by its sending.
  const created = Number.isFinite(billed.created) ? new Date(billed.created * 1000) : sentAt;
  const pricedAt = pricingInstant(settings.pricing.instant, { sentAt, created });
  return {
    responseId: billed.responseId,
    ...place,
    model: billed.model,
    endpoint: billed.endpoint,
    usage,
    ...(unreadable ? { estimated: 'billed_unrecorded' as const } : {}),
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
      usage,
      purpose: place.purpose,
      lane: place.lane,
      estimated: unreadable,
      referenceModel: settings.referenceModel,
      catalog,
    }),
  };
}
