/**
 * Hashes that group and reuse requests. The prefix key groups jobs whose cached prefix is the
 * same; the request hash identifies a whole request so an identical one can reuse its result.
 */
import { createHash } from 'node:crypto';
import type { ChatMessage } from '../types';

/** Bump when the encoding changes, so old keys and new ones never collide. */
const PREFIX_VERSION = 'warmbatch-prefix-v1';
const REQUEST_VERSION = 'warmbatch-request-v1';

/**
 * The cacheable prefix of a request: every message but the last. For the four-message layout
 * that is messages 1-3, which is also the warm-up request.
 */
export function prefixMessages(messages: readonly ChatMessage[]): ChatMessage[] {
  return messages.slice(0, -1);
}

/** sha256 hex of model + the prefix messages (all but the last), canonically encoded. */
export function prefixKey(model: string, messages: readonly ChatMessage[]): string {
  return sha256Hex(
    canonicalJson([
      PREFIX_VERSION,
      model,
      prefixMessages(messages).map((m) => [m.role, m.content]),
    ]),
  );
}

/**
 * sha256 hex of the full request (model, every message, and the parameters that shape the
 * output such as max tokens or temperature); identical hashes may share one result.
 */
export function requestHash(
  model: string,
  messages: readonly ChatMessage[],
  params: Readonly<Record<string, unknown>> = {},
): string {
  return sha256Hex(
    canonicalJson([REQUEST_VERSION, model, messages.map((m) => [m.role, m.content]), params]),
  );
}

/**
 * JSON with object keys sorted at every level and undefined members dropped, so equal data
 * always encodes to the same bytes.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const member = (value as Record<string, unknown>)[key];
    if (member !== undefined) out[key] = sortKeys(member);
  }
  return out;
}

/** sha256 of UTF-8 text, as lowercase hex. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
