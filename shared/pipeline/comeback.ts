/**
 * What becomes of a work message after the worker ran it: the result, and when a message with
 * jobs to run again comes back (the worker sets its visibility rather than waiting out the
 * queue's whole timeout).
 */
import { retryDelayMs } from '../llm/retry';
import type { PipelineSettings } from './settings';

/** Some jobs of the message must run again: the handler reports it as a batch item failure. */
export class RetryLaterError extends Error {
  override name = 'RetryLaterError';
}

export interface WorkResult {
  batchId: string;
  claimed: number;
  /** Jobs not claimed (ended, leased elsewhere, cancelled): no call made. */
  skipped: number;
  /** Of `skipped`: jobs another delivery of this message still holds; the message must come back. */
  leased: number;
  succeeded: number;
  failed: number;
  /** Jobs ended `expired`: the batch's deadline passed before they could be sent. */
  expired: number;
  /** Jobs that waited (for budget, or for an identical request in flight) and made no call. */
  waited: number;
  /** Jobs ended `reused`: an identical request answered meanwhile served them. */
  reused: number;
  /** Jobs ended `skipped_budget`: no room on the team's budget. */
  skippedBudget: number;
  /** Jobs given back to `pending` for a later delivery. */
  released: number;
  /** True when the message must be delivered again. */
  retry: boolean;
  /** Epoch ms before which a delivery again is pointless: the latest lease held elsewhere. */
  notBefore?: number;
  finalizeQueued: boolean;
}

/** Parses a work message body (exported for the handler's logging keys). */
export function workBatchId(rawBody: string): string | undefined {
  try {
    return (JSON.parse(rawBody) as { batchId?: string }).batchId;
  } catch {
    return undefined;
  }
}

/**
 * Seconds until a message that must come back is delivered again: a backoff growing with its
 * deliveries, with jitter, so a failing provider is not hammered and a transient failure is
 * retried in seconds rather than after the queue's visibility timeout. A job held by another
 * delivery is usually released or finished soon (that delivery is alive), so the backoff applies
 * to it too; but the last deliveries before the DLQ are not spent on it: from `receivesLeft` 2
 * the message waits out the lease instead.
 */
export function comebackSeconds(
  result: Pick<WorkResult, 'notBefore'>,
  delivery: { receiveCount: number; receivesLeft: number },
  backoff: PipelineSettings['retryBackoff'],
  nowMs: number,
  random: () => number = Math.random,
): number {
  const policy = {
    retries: 0,
    minTimeoutMs: backoff.minSeconds * 1000,
    maxTimeoutMs: backoff.maxSeconds * 1000,
  };
  const wait = retryDelayMs(Math.max(0, delivery.receiveCount - 1), policy, undefined, random);
  const untilFree =
    result.notBefore === undefined || delivery.receivesLeft > 2 ? 0 : result.notBefore - nowMs;
  return Math.ceil(Math.max(wait, untilFree) / 1000);
}

/** Throws RetryLaterError when the message must come back; used by the handler. */
export function assertDone(result: WorkResult): void {
  if (result.retry)
    throw new RetryLaterError(
      `${result.released} job(s) of batch ${result.batchId} must run again later, ${result.leased} are still held by another delivery`,
    );
}
