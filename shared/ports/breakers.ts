/**
 * The port of the endpoints' circuit breakers: one stored state per endpoint, shared by every
 * worker (shared/aws/breaker-store.ts keeps it in the jobs table; `memoryBreakerStore` in
 * shared/llm/breakers.ts is the in-process fake).
 */

export interface BreakerStore {
  /** The endpoint's stored breaker; undefined when none was ever written (closed). */
  get(endpoint: string): Promise<BreakerState | undefined>;
  /**
   * Writes `next` only if the stored version is still `next.version - 1` (no item counts as
   * version 0); false when another worker wrote first.
   */
  put(endpoint: string, next: BreakerState): Promise<boolean>;
}

/** closed: calls go through; open: none do; half-open: one probe at a time. */
export type BreakerStatus = 'closed' | 'open' | 'half-open';

/** One endpoint's breaker as stored. Times are epoch ms. */
export interface BreakerState {
  status: BreakerStatus;
  /** Breaker failures in a row while closed. */
  failures: number;
  /** When the breaker last opened (open and half-open). */
  openedAt?: number;
  /** Open: no call before this instant. */
  openUntil?: number;
  /** Half-open: the probe's lease; another caller may probe once it has passed. */
  probeUntil?: number;
  /** How many times the breaker has opened, and closed again: what a report shows. */
  opened: number;
  closed: number;
  /** Bumped on every write; a write is conditional on it (optimistic concurrency). */
  version: number;
}
