/**
 * Reading the ledger table's record and attempt items back into the domain's types, tolerant of
 * items written by earlier versions (no `sentAt`, codes this version does not know).
 */
import { type AttemptRecord, type CostRecord, RECORD_PURPOSES } from '../ports/ledger';
import { type Kind, PRICING_ERROR_CODES, TIERS, type Usage } from '../types';
import { num } from './dynamo';

const oneOf = <T extends string>(list: readonly T[], value: unknown, fallback: T): T =>
  list.includes(value as T) ? (value as T) : fallback;

/** A record item as the domain sees it; items written before sentAt existed read `created`. */
export function toRecord(item: Record<string, unknown>): CostRecord {
  const created = item.created as string;
  const price = item.price as CostRecord['price'] | undefined;
  const unpriced = item.unpriced as CostRecord['unpriced'] | undefined;
  const referenceUnpriced = item.referenceUnpriced as CostRecord['referenceUnpriced'] | undefined;
  const reservation = item.reservation as CostRecord['reservation'] | undefined;
  const tags = item.tags as CostRecord['tags'] | undefined;
  return {
    responseId: item.responseId as string,
    team: item.team as string,
    project: item.project as string,
    batchId: item.batchId as string,
    jobId: item.jobId as string,
    model: item.model as string,
    kind: item.kind as Kind,
    ...(item.lane === 'repair' || item.lane === 'shadow' ? { lane: item.lane } : {}),
    purpose: oneOf(RECORD_PURPOSES, item.purpose, 'job'),
    endpoint: item.endpoint as string,
    ...(typeof item.group === 'string' ? { group: item.group } : {}),
    ...(tags && Object.keys(tags).length > 0 ? { tags } : {}),
    usage: item.usage as Usage,
    costNanoUsd: num(item, 'costNanoUsd'),
    counterfactualNanoUsd: num(item, 'counterfactualNanoUsd'),
    referenceModel: item.referenceModel as string,
    sentAt: (item.sentAt as string | undefined) ?? created,
    created,
    ...(typeof item.receivedAt === 'string' ? { receivedAt: item.receivedAt } : {}),
    pricedAt: (item.pricedAt as string | undefined) ?? created,
    ...(price ? { price: { ...price, tier: oneOf(TIERS, price.tier, 'flat') } } : {}),
    ...(unpriced
      ? {
          unpriced: {
            reason: oneOf(PRICING_ERROR_CODES, unpriced.reason, 'unknown_model'),
            detail: unpriced.detail,
          },
        }
      : {}),
    ...(referenceUnpriced
      ? {
          referenceUnpriced: {
            reason: oneOf(PRICING_ERROR_CODES, referenceUnpriced.reason, 'unknown_model'),
            detail: referenceUnpriced.detail,
          },
        }
      : {}),
    ...(reservation
      ? { reservation: { nanoUsd: num(reservation, 'nanoUsd'), month: reservation.month } }
      : {}),
    ...(item.estimated === 'billed_unrecorded' ? { estimated: 'billed_unrecorded' as const } : {}),
  };
}

/** An attempt item as the domain sees it. */
export function toAttempt(item: Record<string, unknown>): AttemptRecord {
  const { pk: _pk, sk: _sk, type: _type, ...attempt } = item;
  return attempt as unknown as AttemptRecord;
}
