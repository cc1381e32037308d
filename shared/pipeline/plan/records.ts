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
import { parseVerdictsKey } from '../verdicts';

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
  | { type: 'verdicts'; messageId: string; key: string }
  | { type: 'deferred'; messageId: string; body: DeferredBody }
  | { type: 'close-drop'; messageId: string; body: CloseDropBody }
  | { type: 'plan-shard'; messageId: string; body: PlanShardBody }
  | { type: 'plan-finish'; messageId: string; body: PlanFinishBody }
  | { type: 'plan-drop-part'; messageId: string; body: PlanDropPartBody };

/** A dropped object's event: its decoded key and what tells this event from another of it. */
export type DropItem = { type: 'drop'; messageId: string; key: string; sequencer: string };

/** The item of a message the pipeline sent itself, by its `type`; undefined for another type. */
function messageItem(type: string, record: IntakeRecord): IntakeItem | undefined {
  const { messageId, body } = record;
  switch (type) {
    case 'deferred-batch':
      return {
        type: 'deferred',
        messageId,
        body: parseBody(DeferredBodySchema, body, 'deferred batch'),
      };
    case 'close-drop':
      return { type, messageId, body: parseBody(CloseDropBodySchema, body, 'close drop') };
    case 'plan-shard':
      return { type, messageId, body: parseBody(PlanShardBodySchema, body, 'plan shard') };
    case 'plan-finish':
      return { type, messageId, body: parseBody(PlanFinishBodySchema, body, 'plan finish') };
    case 'plan-drop-part':
      return { type, messageId, body: parseBody(PlanDropPartBodySchema, body, 'plan drop part') };
    default:
      return undefined;
  }
}

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
  const message = typeof obj.type === 'string' ? messageItem(obj.type, record) : undefined;
  if (message) return [message];
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
    else if (parseVerdictsKey(key))
      items.push({ type: 'verdicts', messageId: record.messageId, key });
    else if (key.startsWith(PREFIXES.intake))
      items.push({ type: 'drop', messageId: record.messageId, key, sequencer });
  }
  return items;
}
