import { afterEach, describe, expect, it } from 'vitest';
import { createLlmClient, type LlmRequest } from '../../shared/llm/client';
import {
  CallCancelledError,
  DeadlineExceededError,
  IncompleteResponseError,
  InvalidParametersError,
} from '../../shared/llm/errors';
import type { LlmEndpoint } from '../../shared/llm/routing';
import { captureLogger } from './capture-logger';
import { completion, errorBody, type ScriptedReply, startScriptedServer } from './scripted-server';

const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(script: ScriptedReply[]) {
  const server = await startScriptedServer(script);
  servers.push(server);
  return server;
}

const ok = (over: Parameters<typeof completion>[0] = {}): ScriptedReply => ({
  status: 200,
  body: completion(over),
});

const endpointAt = (url: string, over: Partial<LlmEndpoint> = {}): LlmEndpoint => ({
  name: 'deepseek',
  baseURL: url,
  apiKey: 'sk-scripted-secret-0001',
  ...over,
});

const request = (over: Partial<LlmRequest> = {}): LlmRequest => ({
  model: 'deepseek-chat',
  messages: [
    { role: 'system', content: 'Write tests.' },
    { role: 'user', content: 'export const one = 1;' },
  ],
  sensitivity: 'public',
  team: 'payments',
  ...over,
});

const inSeconds = (s: number) => ({ deadline: Date.now() + s * 1_000 });
const fastRetry = { minTimeoutMs: 1, maxTimeoutMs: 5 };

describe('request body', () => {
  it("sends the model, max_tokens, JSON mode and the team's user_id", async () => {
    // Prepare
    const server = await serve([ok()]);
    const client = createLlmClient(
      { public: endpointAt(server.url), userIdByTeam: { payments: 'team-payments' } },
      {},
    );

    // Act
    await client.complete(request({ maxTokens: 1, responseFormat: 'json_object' }), inSeconds(5));

    // Assess
    expect(server.received[0]?.body).toMatchObject({
      model: 'deepseek-chat',
      max_tokens: 1,
      response_format: { type: 'json_object' },
      user_id: 'team-payments',
    });
    expect(server.received[0]?.headers.authorization).toBe('Bearer sk-scripted-secret-0001');
  });

  it('leaves the user id out for an endpoint that rejects unknown fields', async () => {
    // Prepare
    const server = await serve([ok()]);
    const client = createLlmClient(
      {
        public: endpointAt(server.url, { userIdField: 'none' }),
        userIdByTeam: { payments: 'team-payments' },
      },
      {},
    );

    // Act
    await client.complete(request(), inSeconds(5));

    // Assess
    expect(server.received[0]?.body).not.toHaveProperty('user_id');
    expect(server.received[0]?.body).not.toHaveProperty('user');
  });
});

describe('content-level retries', () => {
  it('retries an early finish and hands back the billed discard for the ledger', async () => {
    // Prepare
    const server = await serve([
      ok({ id: 'resp-busy', finishReason: 'insufficient_system_resource', content: '' }),
      ok({ id: 'resp-done' }),
    ]);
    const client = createLlmClient({ public: endpointAt(server.url) }, { retry: fastRetry });

    // Act
    const response = await client.complete(request(), inSeconds(5));

    // Assess
    expect(response.responseId).toBe('resp-done');
    expect(response.attempts).toBe(2);
    expect(response.discarded.map((d) => d.responseId)).toEqual(['resp-busy']);
    expect(response.discarded[0]?.usage.promptMissTokens).toBe(36);
  });

  it('surfaces the early finish with its billed responses when retries run out', async () => {
    // Prepare
    const server = await serve([ok({ finishReason: 'aborted', content: '' })]);
    const client = createLlmClient(
      { public: endpointAt(server.url) },
      { retry: { ...fastRetry, retries: 2 } },
    );

    // Act
    const failure = await client.complete(request(), inSeconds(5)).catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(IncompleteResponseError);
    expect(failure).toMatchObject({ retryable: true, attempts: 3, finishReason: 'aborted' });
    expect((failure as IncompleteResponseError).billed).toHaveLength(3);
    expect(server.received).toHaveLength(3);
  });
});

describe('waits', () => {
  it("waits the provider's retry-after-ms before trying again", async () => {
    // Prepare
    const server = await serve([
      { status: 429, headers: { 'retry-after-ms': '150' }, body: errorBody('busy') },
      ok(),
    ]);
    const capture = captureLogger();
    const client = createLlmClient({ public: endpointAt(server.url) }, { logger: capture.logger });

    // Act
    const response = await client.complete(request(), inSeconds(5)).finally(capture.restore);

    // Assess
    expect(response.attempts).toBe(2);
    const failed = capture.records().find((r) => r.message === 'llm attempt failed');
    expect(failed).toMatchObject({ status: 429, attempt: 1, delayMs: 150, willRetry: true });
  });

  it('gives up at once when the wait asked for would overrun the deadline', async () => {
    // Prepare
    const server = await serve([
      { status: 503, headers: { 'retry-after': '60' }, body: errorBody('overloaded') },
    ]);
    const client = createLlmClient({ public: endpointAt(server.url) }, {});
    const started = Date.now();

    // Act
    const failure = await client.complete(request(), inSeconds(10)).catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(DeadlineExceededError);
    expect(failure).toMatchObject({ retryable: true, attempts: 1 });
    expect(server.received).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('does not call at all when the deadline has already passed', async () => {
    // Prepare
    const server = await serve([ok()]);
    const client = createLlmClient({ public: endpointAt(server.url) }, {});

    // Act
    const failure = await client
      .complete(request(), { deadline: Date.now() - 1 })
      .catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(DeadlineExceededError);
    expect(server.received).toHaveLength(0);
  });

  it("sends no retry after the batch's start-by time, though the call's deadline is later", async () => {
    // Prepare
    const server = await serve([
      { status: 503, headers: { 'retry-after-ms': '300' }, body: errorBody('overloaded') },
      ok(),
    ]);
    const client = createLlmClient({ public: endpointAt(server.url) }, {});

    // Act
    const failure = await client
      .complete(request(), { ...inSeconds(30), startBy: Date.now() + 100 })
      .catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(DeadlineExceededError);
    expect(server.received).toHaveLength(1);
  });

  it("stops when the caller's signal aborts, as a cancellation rather than a deadline", async () => {
    // Prepare
    const server = await serve([
      { status: 429, headers: { 'retry-after': '3' }, body: errorBody('busy') },
    ]);
    const client = createLlmClient({ public: endpointAt(server.url) }, {});
    const controller = new AbortController();

    // Act
    const pending = client
      .complete(request(), { ...inSeconds(20), signal: controller.signal })
      .catch((e: unknown) => e);
    await expect.poll(() => server.received.length).toBe(1);
    controller.abort();
    const failure = await pending;

    // Assess
    expect(failure).toBeInstanceOf(CallCancelledError);
    expect(failure).toMatchObject({ attempts: 1 });
  });
});

describe('permanent errors', () => {
  it('does not retry 422 invalid parameters', async () => {
    // Prepare
    const server = await serve([{ status: 422, body: errorBody('temperature out of range') }]);
    const client = createLlmClient({ public: endpointAt(server.url) }, { retry: fastRetry });

    // Act
    const failure = await client.complete(request(), inSeconds(5)).catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(InvalidParametersError);
    expect(failure).toMatchObject({
      status: 422,
      retryable: false,
      stopsBatch: false,
      attempts: 1,
    });
    expect(server.received).toHaveLength(1);
  });

  it('keeps an echoed key out of the error and its cause', async () => {
    // Prepare
    const key = 'sk-scripted-secret-0001';
    const server = await serve([{ status: 401, body: errorBody(`Incorrect API key: ${key}`) }]);
    const capture = captureLogger();
    const client = createLlmClient({ public: endpointAt(server.url) }, { logger: capture.logger });

    // Act
    const failure = await client.complete(request(), inSeconds(5)).catch((e: unknown) => e);
    capture.logger.error('job failed', failure as Error);
    capture.restore();

    // Assess
    expect(failure).toMatchObject({ name: 'AuthenticationError', stopsBatch: true });
    const cause = (failure as Error).cause as Error & { error?: unknown };
    expect(String((failure as Error).message)).not.toContain(key);
    expect(`${cause.message} ${cause.stack} ${JSON.stringify(cause.error)}`).not.toContain(key);
    expect(capture.text()).toContain('AuthenticationError');
    expect(capture.text()).not.toContain(key);
  });

  it.each(['message', 'type', 'param', 'code', 'header'])(
    'keeps a key the provider echoes in the error %s out of everything the error holds',
    async (where) => {
      // Prepare: the key quoted back in one field of the body, or in a response header
      const key = 'sk-scripted-secret-0001';
      const error = { message: 'refused', type: 'invalid_request_error', param: null, code: null };
      const body = where === 'header' ? { error } : { error: { ...error, [where]: `x ${key} y` } };
      const server = await serve([
        { status: 401, body, ...(where === 'header' ? { headers: { 'x-echo': key } } : {}) },
      ]);
      const client = createLlmClient({ public: endpointAt(server.url) });

      // Act
      const failure = await client.complete(request(), inSeconds(5)).catch((e: unknown) => e);

      // Assess: every string reachable from the error, its causes and their headers
      expect(failure).toMatchObject({ name: 'AuthenticationError' });
      const text = everythingIn(failure);
      expect(text).toContain(where === 'header' ? 'x-echo' : 'x [redacted] y');
      expect(text).not.toContain(key);
    },
  );
});

/** Every string reachable from `value`: own fields (enumerable or not), causes and headers. */
function everythingIn(value: unknown, seen = new Set<unknown>()): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object' || seen.has(value)) return '';
  seen.add(value);
  if (value instanceof Headers) return [...value.entries()].flat().join(' ');
  return Object.getOwnPropertyNames(value)
    .map((n) => `${n} ${everythingIn((value as Record<string, unknown>)[n], seen)}`)
    .join(' ');
}
