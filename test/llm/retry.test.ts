import { describe, expect, it } from 'vitest';
import { parseRetryAfterMs, type RetryPolicy, retryDelayMs } from '../../shared/llm/retry';

const policy: RetryPolicy = { retries: 5, minTimeoutMs: 100, maxTimeoutMs: 1_000 };
const headers = (entries: Record<string, string>) => new Headers(entries);

describe('parseRetryAfterMs', () => {
  it('prefers retry-after-ms over retry-after', () => {
    // Act
    const ms = parseRetryAfterMs(headers({ 'retry-after-ms': '250', 'retry-after': '9' }), 0);

    // Assess
    expect(ms).toBe(250);
  });

  it('reads retry-after as seconds', () => {
    expect(parseRetryAfterMs(headers({ 'retry-after': '2' }), 0)).toBe(2_000);
  });

  it('reads retry-after as an HTTP date relative to now', () => {
    // Prepare
    const now = Date.parse('2026-11-02T10:00:00Z');

    // Act
    const ms = parseRetryAfterMs(headers({ 'retry-after': 'Mon, 02 Nov 2026 10:00:03 GMT' }), now);

    // Assess
    expect(ms).toBe(3_000);
  });

  it('returns undefined when there is no usable hint', () => {
    expect(parseRetryAfterMs(headers({ 'retry-after': 'soon' }), 0)).toBeUndefined();
    expect(parseRetryAfterMs(headers({}), 0)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, 0)).toBeUndefined();
  });
});

describe('retryDelayMs', () => {
  it('doubles the wait with each retry and caps it', () => {
    // Act: no jitter (random 0 gives the fixed half, random 1 the full base)
    const low = [0, 1, 2, 3, 4, 5].map((n) => retryDelayMs(n, policy, undefined, () => 0));
    const high = [0, 1, 2, 3, 4, 5].map((n) => retryDelayMs(n, policy, undefined, () => 1));

    // Assess
    expect(low).toEqual([50, 100, 200, 400, 500, 500]);
    expect(high).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('spreads waits with jitter', () => {
    expect(retryDelayMs(2, policy, undefined, () => 0.5)).toBe(300);
  });

  it("honours the provider's Retry-After over the backoff", () => {
    expect(retryDelayMs(0, policy, 4_000, () => 0)).toBe(4_000);
  });
});
