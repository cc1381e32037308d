/**
 * Keeps an endpoint's API key out of everything an error carries (the LLM client's failures), so
 * logging or serializing a whole error chain cannot leak it.
 */
export function redact(text: string, secret: string): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}

/**
 * Removes the key from an error kept as `cause`, wherever a provider may have echoed it back:
 * the message and stack, every field the SDK copied from the error body (`error`, `code`,
 * `param`, `type`), the response headers, and errors chained as causes, at any depth. So
 * logging or serializing the whole error chain cannot leak it.
 */
export function scrub(err: unknown, secret: string): unknown {
  if (!secret) return err;
  return scrubValue(err, secret, new WeakSet());
}

function scrubValue(value: unknown, secret: string, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redact(value, secret);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return value;
  seen.add(value);
  if (typeof Headers !== 'undefined' && value instanceof Headers) {
    const clean = new Headers();
    for (const [name, v] of value.entries()) clean.append(name, redact(v, secret));
    return clean;
  }
  const target = value as Record<string, unknown>;
  const names = new Set(Object.getOwnPropertyNames(target));
  if (value instanceof Error) for (const n of ['message', 'stack', 'cause']) names.add(n);
  for (const name of names) {
    const descriptor = Object.getOwnPropertyDescriptor(target, name);
    if (descriptor && !descriptor.writable && !descriptor.set) continue;
    const before = target[name];
    const after = scrubValue(before, secret, seen);
    if (after !== before) {
      try {
        target[name] = after;
      } catch {
        // A read-only field the provider cannot have written into; left as it is.
      }
    }
  }
  return value;
}
