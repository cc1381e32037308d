/** How long to wait between attempts, and how many retries a call may make. */
export interface RetryPolicy {
  retries: number;
  minTimeoutMs: number;
  maxTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 6,
  minTimeoutMs: 500,
  maxTimeoutMs: 20_000,
};

/**
 * Reads the provider's requested wait from `retry-after-ms` (milliseconds, as OpenAI-compatible
 * servers send it) or `retry-after` (seconds or an HTTP date). Returns undefined when the
 * response gives no usable hint.
 */
export function parseRetryAfterMs(
  headers: { get(name: string): string | null } | undefined,
  nowMs: number,
): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const after = headers.get('retry-after');
  if (after === null || after.trim() === '') return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
  const date = Date.parse(after);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/**
 * The wait before retry number `retriesConsumed + 1`: exponential from `minTimeoutMs`, capped at
 * `maxTimeoutMs`, with "equal jitter" (half fixed, half random) so that many workers rejected
 * together do not come back together, yet each still backs off. A provider's Retry-After wins,
 * because it knows when capacity returns.
 */
export function retryDelayMs(
  retriesConsumed: number,
  policy: RetryPolicy,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  const base = Math.min(policy.maxTimeoutMs, policy.minTimeoutMs * 2 ** retriesConsumed);
  return Math.round(base / 2 + (random() * base) / 2);
}
