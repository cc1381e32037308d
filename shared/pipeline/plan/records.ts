/**
 * What the planner reads from one intake queue record: the objects of an S3 notification
 * (dropped files and batch manifests), a deferred batch coming back, or a drop to close.
 */
import { parseManifestKey } from '../../inputs';
import { PREFIXES } from '../../resources';
import {
  type CloseDropBody,
  CloseDropBodySchema,
  type DeferredBody,
  DeferredBodySchema,
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
  | { type: 'close-drop'; messageId: string; body: CloseDropBody };

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
