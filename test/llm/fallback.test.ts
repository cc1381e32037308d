import { afterEach, describe, expect, it } from 'vitest';
import { createBreakers, memoryBreakerStore } from '../../shared/llm/breakers';
import { createLlmClient, type LlmRequest } from '../../shared/llm/client';
import { EndpointsOpenError } from '../../shared/llm/errors';
import type { LlmRouting } from '../../shared/llm/routing';
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

const down: ScriptedReply = { status: 503, body: errorBody('Server Overloaded') };
const ok = (model: string, id: string): ScriptedReply => ({
  status: 200,
  body: { ...completion({ id, finishReason: 'length' }), model },
});

const request = (over: Partial<LlmRequest> = {}): LlmRequest => ({
  model: 'deepseek-chat',
  messages: [{ role: 'user', content: 'export const one = 1;' }],
  sensitivity: 'public',
  team: 'payments',
  ...over,
});

const fastRetry = { retries: 4, minTimeoutMs: 1, maxTimeoutMs: 5 };
const CONFIG = { failureThreshold: 2, openMs: 60_000, probeLeaseMs: 1_000 };
const inSeconds = (s: number) => ({ deadline: Date.now() + s * 1_000 });

async function twoEndpoints() {
  const primary = await serve([down]);
  const fallback = await serve([ok('gpt-5.4', 'fb-1')]);
  const routing: LlmRouting = {
    public: { name: 'public', baseURL: primary.url, apiKey: 'k1' },
    fallbacks: {
      public: [
        {
          name: 'openai',
          baseURL: fallback.url,
          apiKey: 'k2',
          clearedFor: 'public',
          model: 'gpt-5.4',
          userIdField: 'user',
        },
      ],
    },
  };
  const store = memoryBreakerStore();
  const breakers = createBreakers(store, { config: CONFIG });
  return { primary, fallback, routing, breakers, store };
}

describe('a call while its endpoint is down', () => {
  it('moves to the fallback once the breaker opens, with the fallback’s model, and says what served it', async () => {
    // Prepare
    const { primary, fallback, routing, breakers } = await twoEndpoints();
    const client = createLlmClient(routing, { retry: fastRetry, breakers });

    // Act
    const response = await client.complete(request(), inSeconds(10));

    // Assess: two 503s open the breaker; the third attempt goes to the fallback.
    expect(primary.received).toHaveLength(2);
    expect(fallback.received).toHaveLength(1);
    expect(fallback.received[0]?.body.model).toBe('gpt-5.4');
    expect(response).toMatchObject({
      endpoint: 'openai',
      model: 'gpt-5.4',
      finishReason: 'length',
      attempts: 3,
    });
    expect(await breakers.state('public')).toMatchObject({ status: 'open', opened: 1 });
  });

  it('sends later calls straight to the fallback while the breaker is open', async () => {
    // Prepare
    const { primary, fallback, routing, breakers } = await twoEndpoints();
    const client = createLlmClient(routing, { retry: fastRetry, breakers });
    await client.complete(request(), inSeconds(10));

    // Act
    await client.complete(request(), inSeconds(10));

    // Assess
    expect(primary.received).toHaveLength(2);
    expect(fallback.received).toHaveLength(2);
  });

  it('goes back to the primary once it recovers: the half-open probe succeeds and closes the breaker', async () => {
    // Prepare: a primary down for two requests, then up; a breaker open for 50 ms only.
    const primary = await serve([down, down, ok('deepseek-chat', 'p-1')]);
    const fallback = await serve([ok('gpt-5.4', 'fb-1')]);
    const { routing } = await twoEndpoints();
    const breakers = createBreakers(memoryBreakerStore(), {
      config: { ...CONFIG, openMs: 50 },
    });
    const client = createLlmClient(
      {
        ...routing,
        public: { name: 'public', baseURL: primary.url, apiKey: 'k1' },
        fallbacks: {
          public: [
            {
              name: 'openai',
              baseURL: fallback.url,
              apiKey: 'k2',
              clearedFor: 'public',
              model: 'gpt-5.4',
            },
          ],
        },
      },
      { retry: fastRetry, breakers },
    );
    await client.complete(request(), inSeconds(10));
    await new Promise((resolve) => setTimeout(resolve, 60));

    // Act
    const response = await client.complete(request(), inSeconds(10));

    // Assess
    expect(response.endpoint).toBe('public');
    expect(response.model).toBe('deepseek-chat');
    expect(await breakers.state('public')).toMatchObject({
      status: 'closed',
      opened: 1,
      closed: 1,
    });
  });

  it('never warms a prefix on a fallback: the warm-up is skipped, nothing sent', async () => {
    // Prepare
    const { fallback, routing, breakers } = await twoEndpoints();
    const client = createLlmClient(routing, { retry: fastRetry, breakers });
    await client.complete(request(), inSeconds(10));

    // Act
    const warmup = client.complete(request({ purpose: 'warmup', maxTokens: 1 }), inSeconds(10));

    // Assess
    await expect(warmup).rejects.toBeInstanceOf(EndpointsOpenError);
    await expect(warmup).rejects.toMatchObject({ retryable: false });
    expect(fallback.received).toHaveLength(1);
  });

  it('keeps a restricted job off every public fallback: it waits with a reason instead', async () => {
    // Prepare
    const { routing, breakers, fallback } = await twoEndpoints();
    const restricted = await serve([down]);
    const client = createLlmClient(
      { ...routing, restricted: { name: 'restricted', baseURL: restricted.url, apiKey: 'k3' } },
      { retry: { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 5 }, breakers },
    );

    // Act
    const call = client.complete(request({ sensitivity: 'restricted' }), inSeconds(5));

    // Assess
    await expect(call).rejects.toMatchObject({ name: 'EndpointsOpenError', retryable: true });
    await expect(call).rejects.toThrow(/restricted/);
    expect(restricted.received).toHaveLength(2);
    expect(fallback.received).toHaveLength(0);
  });
});
