/**
 * The circuit breaker of one LLM endpoint, as pure state transitions over plain data, so the
 * rules are tested in milliseconds and the state can live in one DynamoDB item that every
 * worker reads and writes (shared/llm/breakers.ts, shared/aws/breaker-store.ts).
 *
 * closed: calls go through; `failureThreshold` breaker failures in a row (5xx, 429, time-outs,
 * dropped connections, with no success between) open it.
 * open: no call goes to the endpoint until `openMs` has passed; jobs move to the next endpoint
 * their route allows, or wait.
 * half-open: one caller at a time holds the probe (a lease of `probeLeaseMs`, so a probe lost
 * with its worker does not hold the endpoint shut); its success closes the breaker, its failure
 * opens it again.
 */

import type { BreakerState } from '../ports/breakers';

export type { BreakerState, BreakerStatus } from '../ports/breakers';

export interface BreakerConfig {
  failureThreshold: number;
  openMs: number;
  probeLeaseMs: number;
}

export const DEFAULT_BREAKER_CONFIG: BreakerConfig = {
  failureThreshold: 5,
  openMs: 30_000,
  probeLeaseMs: 15_000,
};

export const CLOSED_BREAKER: BreakerState = {
  status: 'closed',
  failures: 0,
  opened: 0,
  closed: 0,
  version: 0,
};

/** What a caller may do now: send (`probe`: as the half-open breaker's one probe), or not. */
export type Admission =
  | { allow: true; probe: boolean; next: BreakerState }
  | { allow: false; retryAt: number; next: BreakerState };

/** Whether a call may go to the endpoint at `now`, and the state to store if it changed. */
export function admit(state: BreakerState, now: number, config: BreakerConfig): Admission {
  if (state.status === 'closed') return { allow: true, probe: false, next: state };
  if (state.status === 'open' && now < (state.openUntil ?? 0))
    return { allow: false, retryAt: state.openUntil ?? now, next: state };
  if (state.status === 'half-open' && now < (state.probeUntil ?? 0))
    return { allow: false, retryAt: state.probeUntil ?? now, next: state };
  // The open time is over, or the last probe's lease ran out: this caller probes.
  const { openUntil: _, ...rest } = state;
  return {
    allow: true,
    probe: true,
    next: { ...rest, status: 'half-open', probeUntil: now + config.probeLeaseMs },
  };
}

/** The outcome of one call, as the breaker counts it. */
export type CallOutcome = 'success' | 'failure' | 'neutral';

/**
 * The state after a call's outcome. A neutral outcome (the endpoint answered, but refused the
 * request: 400, 401, 402, 422) says the endpoint is up: it ends a probe as a success would.
 */
export function afterCall(
  state: BreakerState,
  outcome: CallOutcome,
  now: number,
  config: BreakerConfig,
): BreakerState {
  if (outcome !== 'failure') {
    if (state.status === 'half-open')
      return {
        status: 'closed',
        failures: 0,
        opened: state.opened,
        closed: state.closed + 1,
        version: state.version,
      };
    // An answer from an open breaker's endpoint (sent before it opened) does not close it.
    if (state.status === 'open' || state.failures === 0) return state;
    return { ...state, failures: 0 };
  }
  if (state.status === 'open') return state;
  const failures = state.status === 'closed' ? state.failures + 1 : config.failureThreshold;
  if (failures < config.failureThreshold) return { ...state, failures };
  const { probeUntil: _, ...rest } = state;
  return {
    ...rest,
    status: 'open',
    failures,
    openedAt: now,
    openUntil: now + config.openMs,
    // Reopening from half-open is the same outage: it is not counted as a new opening.
    opened: state.status === 'closed' ? state.opened + 1 : state.opened,
  };
}
