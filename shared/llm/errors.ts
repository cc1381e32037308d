import type { LlmErrorName } from '../job-errors';
import type { Sensitivity, Usage } from '../types';

/**
 * A provider response that was billed but not returned to the caller (empty JSON content,
 * a resource-exhausted finish). The ledger must still record it, or ledger totals drift from
 * the provider's bill.
 */
export interface BilledResponse {
  responseId: string;
  /** The `model` the response names (what served it), which may differ from the one asked for. */
  model: string;
  /** Epoch seconds, from the provider. */
  created: number;
  /** Epoch ms the attempt was sent, on the caller's clock: one of the instants that can price it. */
  sentAt: number;
  /** Epoch ms the answer arrived, on the caller's clock: the end of the usage. */
  receivedAt?: number;
  endpoint: string;
  usage: Usage;
  /**
   * Set when the provider answered (HTTP 200, so billed) but its usage block could not be read:
   * `usage` is then zeros, and the caller records the call's upper-bound estimate in its place,
   * marked `billed_unrecorded`, rather than lose the bill.
   */
  usageUnreadable?: true;
}

interface LlmErrorOptions {
  cause?: unknown;
  status?: number;
  endpoint?: string;
}

/**
 * Base of every failure the LLM client throws. Callers act on three fields: `retryable`
 * (the pipeline may try the job again later), `stopsBatch` (every other job of the batch would
 * fail the same way: stop it), and `status` (the provider's HTTP status, when there was one).
 * Messages never contain the API key, prompts or generated content.
 */
export class LlmError extends Error {
  override name: LlmErrorName = 'LlmError';
  readonly retryable: boolean = false;
  readonly stopsBatch: boolean = false;
  readonly status: number | undefined;
  readonly endpoint: string | undefined;
  /** Attempts made before giving up; set by the client when the error leaves it. */
  attempts = 0;
  /** Responses billed during the call although it failed; the ledger records them. */
  billed: BilledResponse[] = [];
  /** The provider's requested wait before another attempt, when it sent one. */
  retryAfterMs: number | undefined;

  constructor(message: string, options: LlmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.endpoint = options.endpoint;
  }
}

/** No endpoint is configured for the job's sensitivity; the job must not fall back to public. */
export class NoEndpointError extends LlmError {
  override name: LlmErrorName = 'NoEndpointError';
  readonly sensitivity: Sensitivity;
  constructor(sensitivity: Sensitivity) {
    super(`no LLM endpoint is configured for ${sensitivity} jobs`);
    this.sensitivity = sensitivity;
  }
}

/**
 * Every endpoint the call may go to has its circuit breaker open (or, for a warm-up, the one
 * endpoint a warm-up may go to): nothing was sent. A job waits for a breaker to let a probe
 * through (`retryAfterMs`); a warm-up is skipped, since it cannot pay off anywhere else.
 */
export class EndpointsOpenError extends LlmError {
  override name: LlmErrorName = 'EndpointsOpenError';
  override readonly retryable: boolean;
  constructor(
    message: string,
    options: LlmErrorOptions & { retryable?: boolean; retryAfterMs?: number } = {},
  ) {
    super(message, options);
    this.retryable = options.retryable ?? true;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The call did not settle before its deadline. The job may be tried again later. */
export class DeadlineExceededError extends LlmError {
  override name: LlmErrorName = 'DeadlineExceededError';
  override readonly retryable = true;
}

/** The caller's own signal aborted the call (for example, the Lambda is about to time out). */
export class CallCancelledError extends LlmError {
  override name: LlmErrorName = 'CallCancelledError';
  override readonly retryable = true;
}

/** 400: the request is malformed, the model is unknown or the prompt exceeds the context. */
export class BadRequestError extends LlmError {
  override name: LlmErrorName = 'BadRequestError';
}

/** 401: the API key is missing or wrong; every job of the batch would fail the same way. */
export class AuthenticationError extends LlmError {
  override name: LlmErrorName = 'AuthenticationError';
  override readonly stopsBatch = true;
}

/** 402: the account has run out of balance; every job of the batch would fail the same way. */
export class InsufficientBalanceError extends LlmError {
  override name: LlmErrorName = 'InsufficientBalanceError';
  override readonly stopsBatch = true;
}

/** 422: the parameters are well-formed but not accepted. */
export class InvalidParametersError extends LlmError {
  override name: LlmErrorName = 'InvalidParametersError';
}

/** 429: rate or concurrency limit; retried after the provider's Retry-After or a backoff. */
export class RateLimitedError extends LlmError {
  override name: LlmErrorName = 'RateLimitedError';
  override readonly retryable = true;
}

/** 500, 503 and other transient server statuses; retried after a wait. */
export class ServerError extends LlmError {
  override name: LlmErrorName = 'ServerError';
  override readonly retryable = true;
}

/** The connection failed or was reset before a response arrived. */
export class ConnectionError extends LlmError {
  override name: LlmErrorName = 'ConnectionError';
  override readonly retryable = true;
}

/** JSON mode returned empty content with finish_reason `stop`; a known transient fault. */
export class EmptyContentError extends LlmError {
  override name: LlmErrorName = 'EmptyContentError';
  override readonly retryable = true;
}

/** The provider stopped early (`insufficient_system_resource`, `aborted`); try again. */
export class IncompleteResponseError extends LlmError {
  override name: LlmErrorName = 'IncompleteResponseError';
  override readonly retryable = true;
  readonly finishReason: string;
  constructor(finishReason: string, options: LlmErrorOptions = {}) {
    super(`the provider stopped early with finish_reason ${finishReason}`, options);
    this.finishReason = finishReason;
  }
}

/** Any other status (403, 404, ...) or a response the client cannot read. Not retried. */
export class ProviderError extends LlmError {
  override name: LlmErrorName = 'ProviderError';
}
