/**
 * What the planner reads from one intake queue record: the objects of an S3 notification
 * (dropped files and batch manifests), a deferred batch coming back, or a drop to close; and
 * from one planning queue record: a shard to decide, a sharded batch to commit, a drop part.
 */
import { parseManifestKey } from '../../inputs';
import { PREFIXES } from '../../resources';
import {
  type CloseDropBody,
  CloseDropBodySchema,
  type DeferredBody,
  DeferredBodySchema,
  type PlanDropPartBody,
  PlanDropPartBodySchema,
  type PlanFinishBody,
  PlanFinishBodySchema,
  type PlanShardBody,
  PlanShardBodySchema,
  parseBody,
} from '../messages';

/** One record of the intake queue, as the handler hands it over. */
export interface IntakeRecord {
  messageId: string;
  body: string;
}

/** Decodes a key as S3 writes it into notifications: '+' is a space, then percent-decoding. */
export function decodeEventKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

/** One thing an intake record carries. */
export type IntakeItem =
  | DropItem
  | { type: 'manifest'; messageId: string; key: string }
  | { type: 'deferred'; messageId: string; body: DeferredBody }
  | { type: 'close-drop'; messageId: string; body: CloseDropBody }
  | { type: 'plan-shard'; messageId: string; body: PlanShardBody }
  | { type: 'plan-finish'; messageId: string; body: PlanFinishBody }
  | { type: 'plan-drop-part'; messageId: string; body: PlanDropPartBody };

/** A dropped object's event: its decoded key and what tells this event from another of it. */
export type DropItem = { type: 'drop'; messageId: string; key: string; sequencer: string };

/**
 * Reads the items of one intake record: the objects of an S3 notification (an `s3:TestEvent`
 * has none), or a deferred batch. Keys outside `intake/` and manifests are ignored; manifests
 * in the old layout (`batches/<batchId>/manifest.json`) are items too, so that they are refused
 * with a reason rather than ignored.
 */
export function itemsOf(record: IntakeRecord): IntakeItem[] {
  let raw: unknown;
  try {
    raw = JSON.parse(record.body);
  } catch {
    return [];
  }
  if (!raw || typeof raw !== 'object') return [];
  const obj = raw as Record<string, unknown>;
  if (obj.Event === 's3:TestEvent') return [];
  if (obj.type === 'deferred-batch')
    return [
      {
        type: 'deferred',
        messageId: record.messageId,
        body: parseBody(DeferredBodySchema, record.body, 'deferred batch'),
      },
    ];
  if (obj.type === 'close-drop')
    return [
      {
        type: 'close-drop',
        messageId: record.messageId,
        body: parseBody(CloseDropBodySchema, record.body, 'close drop'),
      },
    ];
  if (obj.type === 'plan-shard')
    return [
      {
        type: 'plan-shard',
        messageId: record.messageId,
        body: parseBody(PlanShardBodySchema, record.body, 'plan shard'),
      },
    ];
  if (obj.type === 'plan-finish')
    return [
      {
        type: 'plan-finish',
        messageId: record.messageId,
        body: parseBody(PlanFinishBodySchema, record.body, 'plan finish'),
      },
    ];
  if (obj.type === 'plan-drop-part')
    return [
      {
        type: 'plan-drop-part',
        messageId: record.messageId,
        body: parseBody(PlanDropPartBodySchema, record.body, 'plan drop part'),
      },
    ];
  const records = Array.isArray(obj.Records) ? obj.Records : [];
  const items: IntakeItem[] = [];
  for (const r of records) {
    const object = (
      r as { s3?: { object?: { key?: unknown; sequencer?: unknown; eTag?: unknown } } }
    )?.s3?.object;
    if (typeof object?.key !== 'string') continue;
    const key = decodeEventKey(object.key);
    const sequencer = String(object.sequencer ?? object.eTag ?? '');
    if (parseManifestKey(key)) items.push({ type: 'manifest', messageId: record.messageId, key });
    else if (key.startsWith(PREFIXES.intake))
      items.push({ type: 'drop', messageId: record.messageId, key, sequencer });
  }
  return items;
}
