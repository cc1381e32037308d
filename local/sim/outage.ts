/**
 * A sustained outage of the simulated provider: between `from` and `until` (epoch ms on the
 * simulator's clock) every chat request answers 503, billing nothing, as DeepSeek does when it is
 * down or overloaded for a stretch. Unlike the fault rates, it is one window, not a draw, so a
 * circuit breaker sees failures in a row and a recovery.
 */
export interface SimOutage {
  from: number;
  until: number;
  /** Requests refused so far; counted here, so a report can show the outage was felt. */
  refused?: number;
}

/** The error answered for a request received at `now` (counted), or undefined outside the outage. */
export function outageAnswer(
  outage: SimOutage | undefined,
  now: number,
): { status: 503; message: string } | undefined {
  if (!outage || now < outage.from || now >= outage.until) return undefined;
  outage.refused = (outage.refused ?? 0) + 1;
  return { status: 503, message: 'Service Unavailable (outage)' };
}
