import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../local/sim/server';
import { clockMs, runningClock } from '../../shared/clock';
import { createLlmClient, type LlmRequest } from '../../shared/llm/client';
import {
  AuthenticationError,
  BadRequestError,
  DeadlineExceededError,
  InsufficientBalanceError,
  NoEndpointError,
} from '../../shared/llm/errors';
import type { LlmEndpoint, LlmRouting } from '../../shared/llm/routing';
import { captureLogger } from './capture-logger';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type SimOptions = NonNullable<Parameters<typeof startSimulator>[0]>;

const KEY = 'sk-sim-secret-7f3a9c';
const sims: Sim[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function simulator(over: SimOptions = {}): Promise<Sim> {
  const sim = await startSimulator({
    port: 0,
    timeScale: 0,
    apiKeys: [KEY],
    // Pinned at real pace: what is served and billed does not depend on the machine's date.
    clock: clockMs(runningClock('2026-11-30T12:00:00Z')),
    ...over,
  });
  sims.push(sim);
  return sim;
}

const endpointOf = (sim: Sim, name = 'deepseek', apiKey = KEY): LlmEndpoint => ({
  name,
  baseURL: sim.url,
  apiKey,
});

const SHARED_CONTEXT = `Project style guide.\n${'Prefer small pure functions over classes. '.repeat(40)}`;

const request = (over: Partial<LlmRequest> = {}): LlmRequest => ({
  model: 'deepseek-v4-flash',
  messages: [
    { role: 'system', content: 'You write unit tests for TypeScript files.' },
    { role: 'user', content: SHARED_CONTEXT },
    { role: 'assistant', content: 'Understood.' },
    { role: 'user', content: 'File: src/math.ts\nexport function add(a: number, b: number) {}' },
  ],
  maxTokens: 200,
  sensitivity: 'public',
  team: 'payments',
  ...over,
});

const inMs = (ms: number) => ({ deadline: Date.now() + ms });
const fastRetry = { retries: 12, minTimeoutMs: 5, maxTimeoutMs: 50 };

describe('transient failures', () => {
  it.each([
    ['429', { rate429: 0.5 }],
    ['503', { rate503: 0.5 }],
    ['500', { rate500: 0.5 }],
    ['connection reset', { resetRate: 0.5 }],
  ])('rides out a %s burst and settles before the deadline', async (_label, faults) => {
    // Prepare
    const sim = await simulator({ faults });
    const client = createLlmClient({ public: endpointOf(sim) }, { retry: fastRetry });
    const { deadline } = inMs(20_000);

    // Act
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => client.complete(request(), { deadline })),
    );
    const settledAt = Date.now();

    // Assess
    expect(responses).toHaveLength(8);
    expect(settledAt).toBeLessThanOrEqual(deadline);
    const attempts = responses.reduce((sum, r) => sum + r.attempts, 0);
    expect(attempts).toBeGreaterThan(8);
  });

  it('retries empty JSON content and bills every answer it was charged for', async () => {
    // Prepare
    const sim = await simulator({ faults: { emptyJsonRate: 0.5 } });
    const client = createLlmClient({ public: endpointOf(sim) }, { retry: fastRetry });

    // Act
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        client.complete(request({ responseFormat: 'json_object' }), inMs(20_000)),
      ),
    );

    // Assess
    expect(responses.every((r) => r.content.trim() !== '')).toBe(true);
    const billed = responses.flatMap((r) => [r, ...r.discarded]);
    expect(billed.length).toBeGreaterThan(8);
    const { totals } = sim.usage();
    const sum = (pick: (u: (typeof billed)[number]['usage']) => number) =>
      billed.reduce((total, r) => total + pick(r.usage), 0);
    expect(billed.length).toBe(totals.requests);
    expect(sum((u) => u.promptHitTokens)).toBe(totals.hitTokens);
    expect(sum((u) => u.promptMissTokens)).toBe(totals.missTokens);
    expect(sum((u) => u.completionTokens)).toBe(totals.outputTokens);
  });
});

describe('permanent failures', () => {
  it('fails an unknown model with BadRequestError and does not retry it', async () => {
    // Prepare
    const sim = await simulator();
    const client = createLlmClient({ public: endpointOf(sim) }, { retry: fastRetry });

    // Act
    const failure = await client
      .complete(request({ model: 'deepseek-imaginary' }), inMs(10_000))
      .catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(BadRequestError);
    expect(failure).toMatchObject({
      status: 400,
      retryable: false,
      stopsBatch: false,
      attempts: 1,
    });
  });

  it('stops the batch on a bad key, after one attempt', async () => {
    // Prepare
    const sim = await simulator();
    const client = createLlmClient(
      { public: endpointOf(sim, 'deepseek', 'sk-wrong-key') },
      { retry: fastRetry },
    );

    // Act
    const failure = await client.complete(request(), inMs(10_000)).catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(AuthenticationError);
    expect(failure).toMatchObject({ status: 401, retryable: false, stopsBatch: true, attempts: 1 });
  });

  it('stops the batch when the balance is exhausted, without retrying', async () => {
    // Prepare
    const sim = await simulator({ balanceNanoUsd: 0 });
    const client = createLlmClient({ public: endpointOf(sim) }, { retry: fastRetry });

    // Act
    const failure = await client.complete(request(), inMs(10_000)).catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(InsufficientBalanceError);
    expect(failure).toMatchObject({ status: 402, retryable: false, stopsBatch: true, attempts: 1 });
    expect(sim.usage().totals.costNanoUsd).toBe(0);
  });
});

describe('deadline', () => {
  it('aborts a call held open with keep-alive lines at its deadline', async () => {
    // Prepare
    const sim = await simulator({ faults: { stallMs: 10_000 } });
    const client = createLlmClient({ public: endpointOf(sim) }, {});
    const started = Date.now();

    // Act
    const failure = await client.complete(request(), inMs(1_000)).catch((e: unknown) => e);
    const elapsed = Date.now() - started;

    // Assess
    expect(failure).toBeInstanceOf(DeadlineExceededError);
    expect(failure).toMatchObject({ retryable: true });
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(1_000 + 2_000);
  });

  it('aborts a call queued behind the concurrency limit at its deadline', async () => {
    // Prepare: the first call holds the only slot, the second waits in the queue
    const sim = await simulator({
      overload: 'queue',
      concurrencyLimit: 1,
      faults: { stallMs: 10_000 },
    });
    const client = createLlmClient({ public: endpointOf(sim) }, {});
    const holder = client.complete(request(), inMs(3_000)).catch((e: unknown) => e);
    const started = Date.now();

    // Act
    const failure = await client.complete(request(), inMs(1_000)).catch((e: unknown) => e);
    const elapsed = Date.now() - started;

    // Assess
    expect(failure).toBeInstanceOf(DeadlineExceededError);
    expect(elapsed).toBeLessThan(1_000 + 2_000);
    expect(await holder).toBeInstanceOf(DeadlineExceededError);
  });
});

describe('routing by sensitivity', () => {
  it('sends a restricted job to its own endpoint and never to DeepSeek', async () => {
    // Prepare
    const deepseek = await simulator();
    const selfHosted = await simulator();
    const routing: LlmRouting = {
      public: endpointOf(deepseek),
      restricted: endpointOf(selfHosted, 'self-hosted'),
    };
    const client = createLlmClient(routing, {});

    // Act
    const response = await client.complete(request({ sensitivity: 'restricted' }), inMs(10_000));

    // Assess
    expect(response.endpoint).toBe('self-hosted');
    expect(selfHosted.usage().totals.requests).toBe(1);
    expect(deepseek.usage().totals.requests).toBe(0);
  });

  it('fails a restricted job with NoEndpointError when none is configured', async () => {
    // Prepare
    const deepseek = await simulator();
    const other = await simulator();
    const client = createLlmClient(
      { public: endpointOf(deepseek), internal: endpointOf(other, 'vendor') },
      {},
    );

    // Act
    const failure = await client
      .complete(request({ sensitivity: 'restricted' }), inMs(10_000))
      .catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(NoEndpointError);
    expect(deepseek.usage().totals.requests).toBe(0);
    expect(other.usage().totals.requests).toBe(0);
  });
});

describe('usage', () => {
  it("maps the simulator's usage exactly, cache hits included", async () => {
    // Prepare: a prefix-only warm-up (messages 1-3, one output token) persists the shared prefix
    const sim = await simulator();
    const client = createLlmClient({ public: endpointOf(sim) }, {});
    const warmUp = await client.complete(
      request({ messages: request().messages.slice(0, 3), maxTokens: 1 }),
      inMs(10_000),
    );
    const afterWarmUp = sim.usage().totals;

    // Act
    const job = await client.complete(request(), inMs(10_000));

    // Assess
    const totals = sim.usage().totals;
    expect(warmUp.usage).toEqual({
      promptHitTokens: afterWarmUp.hitTokens,
      promptMissTokens: afterWarmUp.missTokens,
      completionTokens: afterWarmUp.outputTokens,
      reasoningTokens: afterWarmUp.reasoningTokens,
    });
    expect(warmUp.usage.completionTokens).toBe(1);
    expect(job.usage).toEqual({
      promptHitTokens: totals.hitTokens - afterWarmUp.hitTokens,
      promptMissTokens: totals.missTokens - afterWarmUp.missTokens,
      completionTokens: totals.outputTokens - afterWarmUp.outputTokens,
      reasoningTokens: totals.reasoningTokens - afterWarmUp.reasoningTokens,
    });
    expect(job.usage.promptHitTokens).toBeGreaterThan(0);
  });

  it('counts reasoning tokens of a reasoning model', async () => {
    // Prepare: deepseek-reasoner was V3.2 until July 2026, so the simulator runs in May 2026
    const shift = Date.now() - Date.parse('2026-05-01T00:00:00Z');
    const sim = await simulator({ clock: () => Date.now() - shift });
    const client = createLlmClient({ public: endpointOf(sim) }, {});

    // Act
    const response = await client.complete(
      request({ model: 'deepseek-reasoner', maxTokens: 2_000 }),
      inMs(10_000),
    );

    // Assess
    expect(response.usage.reasoningTokens).toBeGreaterThan(0);
    expect(response.usage.reasoningTokens).toBe(sim.usage().totals.reasoningTokens);
  });
});

describe('secrets', () => {
  it('keeps the API key out of errors and logs, through retries and failures', async () => {
    // Prepare
    const sim = await simulator({ faults: { rate500: 0.3, rate503: 0.3 } });
    const capture = captureLogger();
    const good = createLlmClient(
      { public: endpointOf(sim) },
      { logger: capture.logger, retry: fastRetry },
    );
    const wrongKey = `${KEY}-rotated`;
    const bad = createLlmClient(
      { public: endpointOf(sim, 'deepseek', wrongKey) },
      { logger: capture.logger, retry: fastRetry },
    );

    // Act
    const outcomes = await Promise.all([
      ...Array.from({ length: 4 }, () => good.complete(request(), inMs(10_000))),
      bad.complete(request(), inMs(10_000)).catch((e: unknown) => e),
    ]);
    const failure = outcomes.at(-1) as Error;
    capture.logger.error('job failed', failure);
    capture.restore();

    // Assess
    expect(failure).toBeInstanceOf(AuthenticationError);
    expect(capture.records().some((r) => r.message === 'llm attempt failed')).toBe(true);
    const thrown = `${failure.message} ${failure.stack} ${String((failure.cause as Error)?.stack)}`;
    for (const key of [KEY, wrongKey]) {
      expect(thrown).not.toContain(key);
      expect(capture.text()).not.toContain(key);
    }
  });
});
