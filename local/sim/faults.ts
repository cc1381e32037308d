/**
 * The failures the simulator injects, by seeded draw: error statuses before a request is
 * processed, a connection reset mid-answer, an empty JSON answer, and a stall. One place for
 * every fault, so a new one (an outage window, say) is added here and nowhere else.
 */
import { HttpError } from './http';

export interface SimFaults {
  /** Probability a request answers 429 (rate limit) before being processed. */
  rate429: number;
  /** Probability a request answers 500. */
  rate500: number;
  /** Probability a request answers 503 (overloaded). */
  rate503: number;
  /** Probability the connection is destroyed after part of the response body was written. */
  resetRate: number;
  /** Probability a JSON-mode answer comes back with empty content (finish_reason `stop`). */
  emptyJsonRate: number;
  /**
   * Hold every request this long before processing, sending keep-alive blank lines
   * (`: keep-alive` comments when streaming). Real milliseconds: not scaled by timeScale.
   */
  stallMs: number;
}

export const DEFAULT_FAULTS: SimFaults = {
  rate429: 0,
  rate500: 0,
  rate503: 0,
  resetRate: 0,
  emptyJsonRate: 0,
  stallMs: 0,
};

/** The draws one request makes, whatever the rates, so a seed's sequence stays reproducible. */
export interface FaultDraws {
  status: number;
  reset: number;
  empty: number;
}

/** Answers 429, 500 or 503 when the request's status draw falls in that fault's rate. */
export function throwStatusFault(faults: SimFaults, draws: FaultDraws): void {
  if (draws.status < faults.rate429)
    throw new HttpError(429, 'Rate Limit Reached', 'rate_limit_error', { 'retry-after': '1' });
  if (draws.status < faults.rate429 + faults.rate500)
    throw new HttpError(500, 'Server Error', 'server_error');
  if (draws.status < faults.rate429 + faults.rate500 + faults.rate503)
    throw new HttpError(503, 'Server Overloaded', 'server_error');
}

/** Whether the connection is cut halfway through this request's answer. */
export const resetsConnection = (faults: SimFaults, draws: FaultDraws): boolean =>
  draws.reset < faults.resetRate;

/** Whether a JSON-mode answer comes back empty. */
export const emptiesJson = (faults: SimFaults, draws: FaultDraws): boolean =>
  draws.empty < faults.emptyJsonRate;
