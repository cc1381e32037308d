/**
 * Which endpoint a call goes to: the first of its candidates (routing.ts `callCandidates`)
 * whose circuit breaker lets it through. A job moves to the next candidate while the one before
 * is open; a warm-up goes only to the level's own endpoint, since a fallback's cache may not
 * serve the prefix (docs/reliability.md): with that one open, it is skipped.
 */

import type { CallOutcome } from './breaker';
import type { Breakers } from './breakers';
import {
  ConnectionError,
  DeadlineExceededError,
  EndpointsOpenError,
  IncompleteResponseError,
  LlmError,
  RateLimitedError,
  ServerError,
} from './errors';
import type { CallCandidate } from './routing';

/**
 * The candidate to send this attempt to. Without breakers, always the first. Throws
 * EndpointsOpenError when every allowed candidate is open.
 */
export async function chooseCandidate(
  candidates: readonly CallCandidate[],
  options: { warmup: boolean; breakers: Breakers | undefined; now: () => number },
): Promise<CallCandidate & { probe: boolean }> {
  const allowed = options.warmup ? candidates.filter((c) => !c.fallback) : candidates;
  const first = allowed[0];
  if (!first) throw new EndpointsOpenError('no endpoint to send to', { retryable: false });
  if (!options.breakers) return { ...first, probe: false };
  let retryAt = Number.POSITIVE_INFINITY;
  for (const c of allowed) {
    const admission = await options.breakers.admit(c.endpoint.name);
    if (admission.allow) return { ...c, probe: admission.probe };
    retryAt = Math.min(retryAt, admission.retryAt);
  }
  const names = allowed.map((c) => c.endpoint.name).join(', ');
  throw new EndpointsOpenError(
    options.warmup
      ? `warm-up skipped: the circuit breaker of ${names} is open, and a fallback's cache would not serve the group`
      : `every endpoint this job may use is failing (circuit breakers open: ${names}); it waits for one to recover`,
    {
      endpoint: first.endpoint.name,
      retryable: !options.warmup,
      retryAfterMs: Math.max(0, retryAt - options.now()),
    },
  );
}

/**
 * How a call's outcome counts on its endpoint's breaker: overload and outage signs (5xx, 429,
 * time-outs, dropped connections, a resource-exhausted finish) are failures; an endpoint that
 * answered, even to refuse, is up.
 */
export function breakerOutcome(err: unknown, cancelled: boolean): CallOutcome {
  if (err === undefined) return 'success';
  if (cancelled) return 'neutral';
  if (
    err instanceof ServerError ||
    err instanceof RateLimitedError ||
    err instanceof DeadlineExceededError ||
    err instanceof ConnectionError ||
    err instanceof IncompleteResponseError
  )
    return 'failure';
  return err instanceof LlmError ? 'neutral' : 'failure';
}
