import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources';
import pRetry from 'p-retry';
import type { Logger } from '../ports/logger';
import type { ChatMessage, Sensitivity, Usage } from '../types';
import type { Breakers } from './breakers';
import {
  AuthenticationError,
  BadRequestError,
  type BilledResponse,
  CallCancelledError,
  ConnectionError,
  DeadlineExceededError,
  EmptyContentError,
  IncompleteResponseError,
  InsufficientBalanceError,
  InvalidParametersError,
  LlmError,
  ProviderError,
  RateLimitedError,
  ServerError,
} from './errors';
import { breakerOutcome, chooseCandidate } from './fallback';
import { DEFAULT_RETRY_POLICY, parseRetryAfterMs, type RetryPolicy, retryDelayMs } from './retry';
import {
  type CallCandidate,
  callCandidates,
  type LlmEndpoint,
  type LlmRouting,
  validateRouting,
} from './routing';
import { redact, scrub } from './scrub';
import { mapUsage, UsageFormatError } from './usage';

/** One chat completion the pipeline wants; `sensitivity` decides where it may go. */
export interface LlmRequest {
  model: string;
  messages: ChatMessage[];
  /** Sent as `max_tokens`; a prefix-only warm-up passes 1. */
  maxTokens?: number;
  sensitivity: Sensitivity;
  team: string;
  responseFormat?: 'text' | 'json_object';
  /** A prefix-only warm-up or cache probe: it goes only to the level's own endpoint. */
  purpose?: 'warmup';
}

/** The provider's answer, with usage in the ledger's terms. */
export interface LlmResponse {
  responseId: string;
  model: string;
  /** Epoch seconds, from the provider. */
  created: number;
  /** Epoch ms the answering attempt was sent, on the client's clock (`now`). */
  sentAt: number;
  /** Epoch ms the answer arrived, on the client's clock. */
  receivedAt?: number;
  content: string;
  finishReason: string;
  usage: Usage;
  /** Name of the endpoint that served the call. */
  endpoint: string;
  attempts: number;
  /** Earlier attempts of this call that were billed but unusable; the ledger records them too. */
  discarded: BilledResponse[];
}

export interface CallOptions {
  /** Epoch ms: the call settles (resolves or rejects) by then, keep-alive lines or not. */
  deadline: number;
  /**
   * Epoch ms after which no attempt is sent, first or retry (a batch's deadline): a retry that
   * would start later ends the call with DeadlineExceededError instead. An attempt already sent
   * may still finish.
   */
  startBy?: number;
  signal?: AbortSignal;
}

export interface LlmClient {
  complete(request: LlmRequest, options: CallOptions): Promise<LlmResponse>;
}

/** The part of the app logger the client uses. */
export type LlmLogger = Pick<Logger, 'info' | 'warn'>;

export interface LlmClientDeps {
  logger?: LlmLogger;
  now?: () => number;
  retry?: Partial<RetryPolicy>;
  /** Jitter source; tests pass a fixed one. */
  random?: () => number;
  /**
   * The endpoints' shared circuit breakers: with them, a call moves to the next endpoint its
   * sensitivity allows while the one before is open. Without, every call goes to the level's own.
   */
  breakers?: Breakers;
}

/** Finish reasons with which DeepSeek gives up on a request it may serve on a second try. */
const RETRYABLE_FINISH_REASONS = new Set(['insufficient_system_resource', 'aborted']);

/**
 * Builds the client that every LLM call of the pipeline goes through.
 *
 * Retries use p-retry, and the openai SDK's own retries are off (`maxRetries: 0`): the SDK cannot
 * see the call's deadline (it would sleep past it), cannot retry on a response's content (empty
 * JSON, early finish reasons), and hides how many attempts were made. Backoff is exponential with
 * jitter; a provider's Retry-After wins; a wait that would overrun the deadline ends the call
 * with DeadlineExceededError instead.
 */
export function createLlmClient(routing: LlmRouting, deps: LlmClientDeps = {}): LlmClient {
  validateRouting(routing);
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const policy: RetryPolicy = {
    retries: deps.retry?.retries ?? DEFAULT_RETRY_POLICY.retries,
    minTimeoutMs: deps.retry?.minTimeoutMs ?? DEFAULT_RETRY_POLICY.minTimeoutMs,
    maxTimeoutMs: deps.retry?.maxTimeoutMs ?? DEFAULT_RETRY_POLICY.maxTimeoutMs,
  };
  const sdkByEndpoint = new Map<string, OpenAI>();
  const sdkFor = (endpoint: LlmEndpoint): OpenAI => {
    let sdk = sdkByEndpoint.get(endpoint.name);
    if (!sdk) {
      sdk = new OpenAI({
        apiKey: endpoint.apiKey,
        baseURL: endpoint.baseURL,
        maxRetries: 0,
        // Set explicitly so OPENAI_ORG_ID / OPENAI_PROJECT_ID in the environment are not sent
        // to another provider.
        organization: null,
        project: null,
        logLevel: 'off',
      });
      sdkByEndpoint.set(endpoint.name, sdk);
    }
    return sdk;
  };

  return {
    complete: (request, options) =>
      complete(request, options, {
        routing,
        sdkFor,
        now,
        random,
        policy,
        logger: deps.logger,
        breakers: deps.breakers,
      }),
  };
}

interface CallContext {
  routing: LlmRouting;
  sdkFor: (endpoint: LlmEndpoint) => OpenAI;
  now: () => number;
  random: () => number;
  policy: RetryPolicy;
  logger: LlmLogger | undefined;
  breakers: Breakers | undefined;
}

/** Refuses a call that may not start: its deadline or start-by passed, or its caller cancelled. */
function refuseLateStart(options: CallOptions, ctx: CallContext, endpoint: LlmEndpoint): void {
  if (
    options.deadline - ctx.now() <= 0 ||
    (options.startBy !== undefined && ctx.now() >= options.startBy)
  )
    throw new DeadlineExceededError('the deadline passed before the call started', {
      endpoint: endpoint.name,
    });
  if (options.signal?.aborted)
    throw new CallCancelledError('the caller cancelled the call', {
      endpoint: endpoint.name,
      cause: options.signal.reason,
    });
}

/** One attempt at one endpoint: sent, read, and told to the endpoint's breaker. */
async function sendOnce(
  request: LlmRequest,
  pick: CallCandidate,
  options: CallOptions,
  ctx: CallContext,
  attempt: {
    attempt: number;
    signal: AbortSignal;
    discarded: BilledResponse[];
    failureOf: (err: unknown) => LlmError;
    logFields: Record<string, unknown>;
  },
): Promise<LlmResponse> {
  const endpoint = pick.endpoint;
  const { attempt: attemptNumber, signal: callSignal, discarded, failureOf, logFields } = attempt;
  const body = requestBody({ ...request, model: pick.model }, endpoint, ctx.routing);
  const started = ctx.now();
  let response: LlmResponse;
  try {
    let completion: ChatCompletion;
    try {
      completion = await ctx.sdkFor(endpoint).chat.completions.create(body, {
        signal: callSignal,
        timeout: Math.max(1, options.deadline - ctx.now()),
      });
    } catch (err) {
      throw failureOf(err);
    }
    response = readCompletion(completion, { ...request, model: pick.model }, endpoint, {
      attempt: attemptNumber,
      sentAt: started,
      receivedAt: ctx.now(),
      discarded,
    });
  } catch (err) {
    await ctx.breakers?.record(
      endpoint.name,
      breakerOutcome(err, options.signal?.aborted === true),
    );
    throw err;
  }
  await ctx.breakers?.record(endpoint.name, 'success');
  ctx.logger?.info('llm attempt succeeded', {
    ...logFields,
    attempt: attemptNumber,
    status: 200,
    finishReason: response.finishReason,
    latencyMs: ctx.now() - started,
    responseId: response.responseId,
    ...response.usage,
  });
  return response;
}

async function complete(
  request: LlmRequest,
  options: CallOptions,
  ctx: CallContext,
): Promise<LlmResponse> {
  const candidates = callCandidates(ctx.routing, request.sensitivity, request.model);
  // Errors before any attempt name the level's own endpoint; each attempt names its own.
  let endpoint = candidates[0]?.endpoint as LlmEndpoint;
  refuseLateStart(options, ctx, endpoint);
  const remainingMs = options.deadline - ctx.now();

  // One signal for the whole call, so neither keep-alive lines nor retries outlive the deadline.
  const deadlineSignal = AbortSignal.timeout(Math.ceil(remainingMs));
  const callSignal = options.signal
    ? AbortSignal.any([deadlineSignal, options.signal])
    : deadlineSignal;
  let logFields = { endpoint: endpoint.name, model: request.model, team: request.team };
  const discarded: BilledResponse[] = [];
  let attempts = 0;

  const failureOf = (err: unknown): LlmError => {
    if (callSignal.aborted && !(err instanceof DeadlineExceededError)) {
      const message = 'the call did not settle before its deadline';
      return callSignal.reason === deadlineSignal.reason
        ? new DeadlineExceededError(message, { endpoint: endpoint.name, cause: err })
        : new CallCancelledError('the caller cancelled the call', {
            endpoint: endpoint.name,
            cause: err,
          });
    }
    return toLlmError(err, endpoint, ctx.now());
  };

  try {
    return await pRetry(
      async (attemptNumber) => {
        attempts = attemptNumber;
        // Chosen per attempt: a retry after the breaker opened goes to the next endpoint.
        const pick: CallCandidate = await chooseCandidate(candidates, {
          warmup: request.purpose === 'warmup',
          breakers: ctx.breakers,
          now: ctx.now,
        });
        endpoint = pick.endpoint;
        logFields = { endpoint: endpoint.name, model: pick.model, team: request.team };
        const response = await sendOnce(request, pick, options, ctx, {
          attempt: attemptNumber,
          signal: callSignal,
          discarded,
          failureOf,
          logFields,
        });
        return response;
      },
      {
        retries: ctx.policy.retries,
        // The wait is taken in onFailedAttempt, where Retry-After and the deadline are known.
        minTimeout: 0,
        // No `signal` here on purpose: p-retry would also check it after a successful attempt
        // and throw away a response that was already billed. Aborts reach the SDK call and the
        // wait below instead.
        shouldRetry: ({ error }) =>
          !callSignal.aborted && error instanceof LlmError && error.retryable,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft, retriesConsumed }) => {
          const failure = error instanceof LlmError ? error : failureOf(error);
          const willRetry = failure.retryable && retriesLeft > 0 && !callSignal.aborted;
          const delayMs = willRetry
            ? retryDelayMs(retriesConsumed, ctx.policy, failure.retryAfterMs, ctx.random)
            : undefined;
          ctx.logger?.warn('llm attempt failed', {
            ...logFields,
            attempt: attemptNumber,
            status: failure.status,
            error: failure.name,
            retryable: failure.retryable,
            willRetry,
            delayMs,
            ...(failure.billed[0]?.usage ?? {}),
          });
          if (delayMs === undefined) return;
          if (
            ctx.now() + delayMs >= options.deadline ||
            (options.startBy !== undefined && ctx.now() + delayMs >= options.startBy)
          )
            throw new DeadlineExceededError(
              `the next attempt would start after the deadline (wait ${delayMs} ms)`,
              { endpoint: endpoint.name, cause: failure },
            );
          await sleep(delayMs, undefined, { signal: callSignal });
        },
      },
    );
  } catch (err) {
    const failure = err instanceof LlmError ? err : failureOf(err);
    failure.attempts = attempts;
    failure.billed = discarded;
    throw failure;
  }
}

function requestBody(
  request: LlmRequest,
  endpoint: LlmEndpoint,
  routing: LlmRouting,
): ChatCompletionCreateParamsNonStreaming {
  const body: ChatCompletionCreateParamsNonStreaming & Record<string, unknown> = {
    model: request.model,
    messages: request.messages,
    stream: false,
  };
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  if (request.responseFormat === 'json_object') body.response_format = { type: 'json_object' };
  const userId = routing.userIdByTeam?.[request.team];
  const field = endpoint.userIdField ?? 'user_id';
  if (userId !== undefined && field !== 'none') body[field] = userId;
  return body;
}

/**
 * Turns a completion into a response, or into a retryable error when DeepSeek answered but
 * unusably. Such answers are billed all the same, so they are kept in `discarded`.
 */
function readCompletion(
  completion: ChatCompletion,
  request: LlmRequest,
  endpoint: LlmEndpoint,
  {
    attempt,
    sentAt,
    receivedAt,
    discarded,
  }: { attempt: number; sentAt: number; receivedAt: number; discarded: BilledResponse[] },
): LlmResponse {
  let usage: Usage;
  try {
    usage = mapUsage(completion.usage);
  } catch (err) {
    // Answered, so billed: it goes on the billed list (the caller records an estimate for it)
    // before the error that retries the call.
    const failure = new ProviderError('the response carries no readable usage', {
      endpoint: endpoint.name,
      cause: err,
    });
    const unreadable: BilledResponse = {
      responseId:
        typeof completion.id === 'string' && completion.id !== ''
          ? completion.id
          : `unreadable:${endpoint.name}:${sentAt}:${attempt}`,
      model: typeof completion.model === 'string' ? completion.model : request.model,
      created: Number.isFinite(completion.created) ? completion.created : Math.floor(sentAt / 1000),
      sentAt,
      receivedAt,
      endpoint: endpoint.name,
      usage: { promptHitTokens: 0, promptMissTokens: 0, completionTokens: 0, reasoningTokens: 0 },
      usageUnreadable: true,
    };
    failure.billed = [unreadable];
    discarded.push(unreadable);
    throw failure;
  }
  const billed: BilledResponse = {
    responseId: completion.id,
    model: completion.model,
    created: completion.created,
    sentAt,
    receivedAt,
    endpoint: endpoint.name,
    usage,
  };
  const choice = completion.choices[0];
  const finishReason = String(choice?.finish_reason ?? '');
  const content = choice?.message.content ?? '';
  let failure: LlmError | undefined;
  if (!choice)
    failure = new ProviderError('the response has no choices', { endpoint: endpoint.name });
  else if (RETRYABLE_FINISH_REASONS.has(finishReason))
    failure = new IncompleteResponseError(finishReason, { endpoint: endpoint.name });
  else if (
    request.responseFormat === 'json_object' &&
    finishReason === 'stop' &&
    content.trim() === ''
  )
    failure = new EmptyContentError('JSON mode returned empty content', {
      endpoint: endpoint.name,
    });
  if (failure) {
    failure.billed = [billed];
    discarded.push(billed);
    throw failure;
  }
  return { ...billed, content, finishReason, attempts: attempt, discarded: [...discarded] };
}

/** The error of each HTTP status the provider documents; other statuses are told apart below. */
const ERROR_BY_STATUS: Record<number, typeof LlmError> = {
  400: BadRequestError,
  401: AuthenticationError,
  402: InsufficientBalanceError,
  422: InvalidParametersError,
  429: RateLimitedError,
};

/** Maps whatever the SDK threw to the client's named errors, without the key in any message. */
function toLlmError(err: unknown, endpoint: LlmEndpoint, nowMs: number): LlmError {
  if (err instanceof LlmError) return err;
  const where = { endpoint: endpoint.name, cause: scrub(err, endpoint.apiKey) };
  const detail = redact(err instanceof Error ? err.message : String(err), endpoint.apiKey);
  if (err instanceof OpenAI.APIConnectionTimeoutError)
    return new DeadlineExceededError(`${endpoint.name}: the request timed out`, where);
  if (err instanceof OpenAI.APIConnectionError)
    return new ConnectionError(`${endpoint.name}: connection failed: ${detail}`, where);
  if (err instanceof OpenAI.APIError && err.status !== undefined) {
    const status = err.status;
    const opts = { ...where, status };
    const message = `${endpoint.name}: ${detail}`;
    const ErrorClass =
      ERROR_BY_STATUS[status] ??
      (status === 408 || status === 409 || status >= 500 ? ServerError : ProviderError);
    const failure = new ErrorClass(message, opts);
    failure.retryAfterMs = parseRetryAfterMs(err.headers, nowMs);
    return failure;
  }
  if (err instanceof UsageFormatError) return new ProviderError(detail, where);
  // A reset while the body streams surfaces from fetch as a bare TypeError ("terminated").
  if (err instanceof TypeError || (err instanceof Error && err.name === 'AbortError'))
    return new ConnectionError(`${endpoint.name}: connection failed: ${detail}`, where);
  return new ProviderError(`${endpoint.name}: unexpected failure: ${detail}`, where);
}
