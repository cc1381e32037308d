import { request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type SimHandle, startSimulator } from '../../local/sim/server';
import { requestCost } from '../../shared/pricing/cost';
import {
  type ChatResponse,
  chat,
  KEY,
  post,
  realPace,
  sourceMessage,
  startTestSim,
  system,
  user,
  words,
} from './helpers';

const DOCS = system('You write reference documentation in Markdown for one source file.');
const TESTS = system(
  'You write unit tests for one source file, in its own language and framework.',
);
const CODE = [
  'export function add(a: number, b: number): number {',
  '  return a + b;',
  '}',
  'export const scale = (x: number, k: number) => x * k;',
  'export interface Point { x: number; y: number }',
  'export class Ledger {}',
  'function hidden() {}',
].join('\n');

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** Reads a response's raw body bytes as text, without any client-side JSON handling. */
function rawPost(target: SimHandle, body: unknown): Promise<{ status: number; body: string }> {
  const url = new URL(`${target.url}/chat/completions`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function sseEvents(body: string): unknown[] {
  return body
    .split('\n\n')
    .filter((block) => block.startsWith('data: ') && block !== 'data: [DONE]')
    .map((block) => JSON.parse(block.slice('data: '.length)));
}

describe('DeepSeek-shaped responses', () => {
  it('reports usage as DeepSeek does, hit plus miss equal to the prompt', async () => {
    sim = await startTestSim();

    const res = await chat(sim, { messages: [DOCS, sourceMessage('src/math.ts', CODE)] });

    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.created).toBe(Math.floor(Date.parse('2026-11-02T12:00:00Z') / 1000));
    expect(res.model).toBe('deepseek-v4-flash');
    const u = res.usage;
    expect(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens).toBe(u.prompt_tokens);
    expect(u.prompt_tokens_details.cached_tokens).toBe(u.prompt_cache_hit_tokens);
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
    expect(res.choices[0]?.finish_reason).toBe('stop');
  });

  it('answers a docs request with a section per exported symbol', async () => {
    sim = await startTestSim();

    const res = await chat(sim, { messages: [DOCS, sourceMessage('src/math.ts', CODE)] });
    const content = res.choices[0]?.message.content ?? '';

    const sections = content.split('\n').filter((line) => line.startsWith('## '));
    expect(sections).toEqual(['## `add`', '## `scale`', '## `Point`', '## `Ledger`']);
  });

  it('answers a tests request with a case per runtime export, in the file language', async () => {
    sim = await startTestSim();

    const ts = await chat(sim, { messages: [TESTS, sourceMessage('src/math.ts', CODE)] });
    const py = await chat(sim, {
      messages: [
        TESTS,
        sourceMessage(
          'app/calc.py',
          'def total(xs):\n    return sum(xs)\n\ndef _private():\n    pass\n',
        ),
      ],
    });

    const tsContent = ts.choices[0]?.message.content ?? '';
    expect(tsContent).toContain("import * as mod from './math';");
    // One case per runtime export (the interface Point has none), and one that loads the module.
    expect(tsContent.match(/\bit\('exports (\w+)'/g)).toEqual([
      "it('exports add'",
      "it('exports scale'",
      "it('exports Ledger'",
    ]);
    expect(tsContent.match(/\bit\(/g)).toHaveLength(4);
    expect(py.choices[0]?.message.content).toContain('def test_total_is_callable():');
    expect(py.choices[0]?.message.content).not.toContain('_private');
  });

  it('gives the same content for the same request, whatever the seed', async () => {
    sim = await startTestSim({ seed: 1 });
    const other = await startTestSim({ seed: 99 });
    const body = { messages: [DOCS, sourceMessage('src/math.ts', CODE)] };

    try {
      const a = await chat(sim, body);
      const b = await chat(sim, body);
      const c = await chat(other, body);

      expect(b.choices[0]?.message.content).toBe(a.choices[0]?.message.content);
      expect(c.choices[0]?.message.content).toBe(a.choices[0]?.message.content);
      expect(b.id).not.toBe(a.id);
    } finally {
      await other.close();
    }
  });

  it('cuts the answer at max_tokens with finish_reason length', async () => {
    sim = await startTestSim();

    const res = await chat(sim, {
      messages: [DOCS, sourceMessage('src/math.ts', CODE)],
      max_tokens: 5,
    });

    expect(res.usage.completion_tokens).toBe(5);
    expect(res.choices[0]?.finish_reason).toBe('length');
  });

  it('returns reasoning content and counts reasoning tokens inside completion tokens', async () => {
    sim = await startTestSim({ clock: () => Date.parse('2026-06-01T12:00:00Z') });

    const res = await chat(sim, {
      model: 'deepseek-reasoner',
      messages: [DOCS, sourceMessage('src/math.ts', CODE)],
    });

    const reasoning = res.usage.completion_tokens_details?.reasoning_tokens ?? 0;
    expect(res.choices[0]?.message.reasoning_content).toContain('src/math.ts');
    expect(reasoning).toBeGreaterThan(0);
    expect(res.usage.completion_tokens).toBeGreaterThan(reasoning);
  });

  it('returns a JSON object string in JSON mode', async () => {
    sim = await startTestSim();

    const res = await chat(sim, {
      messages: [DOCS, sourceMessage('src/math.ts', CODE)],
      response_format: { type: 'json_object' },
    });

    const parsed = JSON.parse(res.choices[0]?.message.content ?? '');
    expect(parsed).toMatchObject({
      kind: 'docs',
      path: 'src/math.ts',
      symbols: ['add', 'scale', 'Point', 'Ledger'],
    });
  });

  it('lists the served models', async () => {
    sim = await startTestSim();

    const res = await fetch(`${sim.url}/models`, { headers: { authorization: `Bearer ${KEY}` } });
    const body = (await res.json()) as { data: Array<{ id: string }> };

    expect(body.data.map((m) => m.id)).toContain('deepseek-v4-flash');
  });

  it('works with the OpenAI client, at /v1 and without it', async () => {
    sim = await startTestSim();
    const client = new OpenAI({ apiKey: KEY, baseURL: sim.url, maxRetries: 0 });

    const res = await client.chat.completions.create({
      model: 'deepseek-v4-flash',
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    const bare = await fetch(`${sim.url.replace(/\/v1$/, '')}/models`, {
      headers: { authorization: `Bearer ${KEY}` },
    });

    expect(res.usage?.prompt_tokens).toBeGreaterThan(0);
    expect((res.usage as unknown as Record<string, number>).prompt_cache_miss_tokens).toBe(
      res.usage?.prompt_tokens,
    );
    expect(bare.status).toBe(200);
  });
});

describe('billing and usage', () => {
  it('reports usage totals equal to the sum of the billed responses', async () => {
    // Prepare
    const at = Date.parse('2026-06-01T12:00:00Z');
    sim = await startTestSim({ clock: () => at, constructionDelayMs: 0 });
    const bodies = [
      { messages: [DOCS, sourceMessage('src/a.ts', CODE)] },
      { messages: [DOCS, sourceMessage('src/a.ts', CODE)], user_id: 'team-a' },
      { messages: [DOCS, sourceMessage('src/a.ts', CODE)] },
      { model: 'deepseek-reasoner', messages: [TESTS, sourceMessage('src/b.ts', CODE)] },
      {
        model: 'deepseek-v4-pro',
        messages: [TESTS, sourceMessage('src/b.ts', CODE)],
        max_tokens: 3,
      },
    ];

    // Act
    const responses: ChatResponse[] = [];
    for (const body of bodies) responses.push(await chat(sim, body));
    const report = (await (await fetch(`${sim.url}/_sim/usage`)).json()) as ReturnType<
      SimHandle['usage']
    >;

    // Assess
    const sum = (f: (r: ChatResponse) => number) => responses.reduce((s, r) => s + f(r), 0);
    const costs = responses.map(
      (r) =>
        requestCost(r.model, new Date(r.created * 1000), {
          promptHitTokens: r.usage.prompt_cache_hit_tokens,
          promptMissTokens: r.usage.prompt_cache_miss_tokens,
          completionTokens: r.usage.completion_tokens,
          reasoningTokens: r.usage.completion_tokens_details?.reasoning_tokens ?? 0,
        }).totalNanoUsd,
    );
    expect(report.totals).toEqual({
      requests: 5,
      hitTokens: sum((r) => r.usage.prompt_cache_hit_tokens),
      missTokens: sum((r) => r.usage.prompt_cache_miss_tokens),
      outputTokens: sum((r) => r.usage.completion_tokens),
      reasoningTokens: sum((r) => r.usage.completion_tokens_details?.reasoning_tokens ?? 0),
      costNanoUsd: costs.reduce((s, c) => s + c, 0),
    });
    expect(report.totals.hitTokens).toBeGreaterThan(0);
    expect(Object.keys(report.byModel).sort()).toEqual([
      'deepseek-reasoner',
      'deepseek-v4-flash',
      'deepseek-v4-pro',
    ]);
    expect(report.byUser['team-a']?.requests).toBe(1);
    expect(report.byUser['']?.requests).toBe(4);
  });

  it('prices a deepseek-v4-flash response as deepseek-flash, its alias since the V4.1 switch', async () => {
    sim = await startTestSim({ constructionDelayMs: 0 });
    const body = { messages: [system(words(300)), user(words(20))], max_tokens: 10 };

    await chat(sim, body);
    const second = await chat(sim, body);
    sim.reset();
    await chat(sim, body);
    const billed = sim.usage().totals;

    // Monday 2026-11-02 12:00 UTC is off-peak: all-miss request, 323 prompt tokens x
    // $0.15/M + 10 output x $0.60/M (deepseek-flash off-peak).
    expect(second.usage.prompt_tokens).toBe(323);
    expect(billed.costNanoUsd).toBe(Math.round((323 * 150_000 + 10 * 600_000) / 1000));
  });

  it('keeps a cache per model: a prefix paid on one model is a miss on another', async () => {
    // Prepare
    sim = await startTestSim({ constructionDelayMs: 0 });
    const prompt = [system(words(300)), user(words(20))];
    await chat(sim, { model: 'deepseek-flash', messages: prompt, max_tokens: 4 });

    // Act
    const sameModel = await chat(sim, { model: 'deepseek-flash', messages: prompt, max_tokens: 4 });
    // deepseek-v4-flash is served by deepseek-flash since the V4.1 switch: the same cache.
    const alias = await chat(sim, { model: 'deepseek-v4-flash', messages: prompt, max_tokens: 4 });
    const other = await chat(sim, { model: 'deepseek-v4-pro', messages: prompt, max_tokens: 4 });

    // Assess
    expect(sameModel.usage.prompt_cache_hit_tokens).toBeGreaterThan(0);
    expect(alias.usage.prompt_cache_hit_tokens).toBe(sameModel.usage.prompt_cache_hit_tokens);
    expect(other.usage.prompt_cache_hit_tokens).toBe(0);
  });

  it.each([
    ['sent', 1],
    ['created', 2],
  ] as const)('prices at the %s instant when told to', async (pricingInstant, factor) => {
    // Prepare: each reading of the clock is a second later, so the request arrives at
    // 00:59:59 UTC (off-peak) and is answered after 01:00 (peak) on Monday 2026-11-30.
    let t = Date.parse('2026-11-30T00:59:59Z') - 1_000;
    const tick = () => {
      t += 1_000;
      return t;
    };
    sim = await startTestSim({ clock: tick, pricingInstant });

    // Act
    const res = await chat(sim, {
      model: 'deepseek-flash',
      messages: [system(words(100)), user(words(20))],
      max_tokens: 4,
    });

    // Assess: off-peak $0.15/M miss and $0.60/M output; peak twice that.
    expect(res.created * 1000).toBeGreaterThanOrEqual(Date.parse('2026-11-30T01:00:00Z'));
    expect(sim.usage().totals.costNanoUsd).toBe(
      factor * Math.round((123 * 150_000 + 4 * 600_000) / 1000),
    );
  });

  it('bills deepseek-flash at its peak prices inside a peak window', async () => {
    // Tuesday 3 November 2026, 02:00 UTC: inside the 01:00-04:00 UTC window, not a holiday
    sim = await startTestSim({ clock: () => Date.parse('2026-11-03T02:00:00Z') });

    const res = await chat(sim, {
      model: 'deepseek-flash',
      messages: [system(words(100)), user(words(20))],
      max_tokens: 4,
    });

    // peak: $0.30/M miss, $1.20/M output
    expect(res.usage.prompt_cache_miss_tokens).toBe(123);
    expect(sim.usage().totals.costNanoUsd).toBe(Math.round((123 * 300_000 + 4 * 1_200_000) / 1000));
  });

  it('counts a streamed response once, with the usage chunk when asked', async () => {
    sim = await startTestSim();

    const raw = await rawPost(sim, {
      model: 'deepseek-v4-flash',
      messages: [DOCS, sourceMessage('src/math.ts', CODE)],
      stream: true,
      stream_options: { include_usage: true },
    });
    const plain = await chat(sim, { messages: [DOCS, sourceMessage('src/math.ts', CODE)] });

    const events = sseEvents(raw.body) as Array<{
      choices: Array<{ delta: { content?: string }; finish_reason: string | null }>;
      usage: ChatResponse['usage'] | null;
    }>;
    const text = events.flatMap((e) => e.choices.map((c) => c.delta.content ?? '')).join('');
    const usage = events.at(-1)?.usage;
    expect(raw.body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(text).toBe(plain.choices[0]?.message.content);
    expect(usage?.completion_tokens).toBe(plain.usage.completion_tokens);
    expect(sim.usage().totals.requests).toBe(2);
    expect(sim.usage().totals.outputTokens).toBe(2 * plain.usage.completion_tokens);
  });

  it('answers 402 once billed costs reach the balance', async () => {
    sim = await startTestSim({ balanceNanoUsd: 1 });
    const body = { model: 'deepseek-v4-flash', messages: [user('hello there')] };

    const first = await post(sim, body);
    const second = await post(sim, body);

    expect(first.status).toBe(200);
    expect(second.status).toBe(402);
    expect(await second.json()).toMatchObject({ error: { message: 'Insufficient Balance' } });
    expect(sim.usage().totals.requests).toBe(1);
  });
});

describe('request errors', () => {
  it('answers 401 with an OpenAI-shaped error without a valid key', async () => {
    sim = await startTestSim();
    const body = { model: 'deepseek-v4-flash', messages: [user('hi')] };

    const missing = await post(sim, body, null);
    const wrong = await post(sim, body, 'not-the-key');

    expect(missing.status).toBe(401);
    expect(wrong.status).toBe(401);
    const error = (await wrong.json()) as { error: Record<string, unknown> };
    expect(error.error).toMatchObject({ type: 'authentication_error', param: null });
    expect(JSON.stringify(error)).not.toContain('not-the-key');
  });

  it('answers 400 for an unknown model and for one with no price in force', async () => {
    // June 2026: deepseek-flash has no price before the V4.1 switch in September.
    sim = await startTestSim({ clock: () => Date.parse('2026-06-01T12:00:00Z') });

    const unknown = await post(sim, { model: 'gpt-4o', messages: [user('hi')] });
    const notYet = await post(sim, { model: 'deepseek-flash', messages: [user('hi')] });
    const reference = await post(sim, { model: 'gpt-5.4', messages: [user('hi')] });

    expect(unknown.status).toBe(400);
    expect(notYet.status).toBe(400);
    expect(reference.status).toBe(400);
  });

  it('answers 400 when the prompt is over the model context', async () => {
    sim = await startTestSim({ clock: () => Date.parse('2026-06-01T12:00:00Z') });

    const res = await post(sim, { model: 'deepseek-chat', messages: [user(words(131_100))] });

    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /maximum context length is 131072/,
    );
  });

  it('answers 400 for a body that is not a chat request', async () => {
    sim = await startTestSim();

    const res = await post(sim, { model: 'deepseek-v4-flash' });

    expect(res.status).toBe(400);
  });
});

describe('load and faults', () => {
  it('answers 429 with Retry-After over the concurrency limit', async () => {
    sim = await startTestSim({ concurrencyLimit: 1, ttftMs: 300, clock: realPace() });
    const body = { model: 'deepseek-v4-flash', messages: [user('hi')] };

    const statuses = await Promise.all([post(sim, body), post(sim, body)]);

    const rejected = statuses.find((r) => r.status === 429);
    expect(statuses.map((r) => r.status).sort()).toEqual([200, 429]);
    expect(Number(rejected?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('holds a queued request with blank lines, then answers it', async () => {
    sim = await startTestSim({
      concurrencyLimit: 1,
      overload: 'queue',
      ttftMs: 600,
      clock: realPace(),
    });
    const body = { model: 'deepseek-v4-flash', messages: [user('hi')] };

    const [first, second] = await Promise.all([rawPost(sim, body), rawPost(sim, body)]);

    const held = [first, second].find((r) => r.body.startsWith('\n'));
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(held).toBeDefined();
    expect(JSON.parse(held?.body ?? '').usage.prompt_tokens).toBeGreaterThan(0);
    expect(sim.usage().totals.requests).toBe(2);
  });

  it('sends blank lines while stalled, and keep-alive comments when streaming', async () => {
    sim = await startTestSim({ faults: { stallMs: 600 } });
    const body = { model: 'deepseek-v4-flash', messages: [user('hi')] };

    const plain = await rawPost(sim, body);
    const streamed = await rawPost(sim, { ...body, stream: true });

    expect(plain.status).toBe(200);
    expect(plain.body).toMatch(/^\n\n+\{/);
    expect(JSON.parse(plain.body).object).toBe('chat.completion');
    expect(streamed.body).toMatch(/^(: keep-alive\n\n){2,}data: /);
  });

  it('answers 500, 503 and 429 at their fault rates', async () => {
    sim = await startTestSim({ faults: { rate500: 1 } });
    const body = { model: 'deepseek-v4-flash', messages: [user('hi')] };

    const r500 = await post(sim, body);
    sim.configure({ faults: { rate500: 0, rate503: 1 } });
    const r503 = await post(sim, body);
    sim.configure({ faults: { rate503: 0, rate429: 1 } });
    const r429 = await post(sim, body);

    expect([r500.status, r503.status, r429.status]).toEqual([500, 503, 429]);
    expect(r429.headers.get('retry-after')).toBe('1');
    expect(sim.usage().totals.requests).toBe(0);
  });

  it('draws the same faults for the same seed', async () => {
    const statuses = async (seed: number) => {
      const s = await startTestSim({ seed, faults: { rate500: 0.5 } });
      try {
        const out: number[] = [];
        for (let i = 0; i < 16; i++)
          out.push((await post(s, { model: 'deepseek-v4-flash', messages: [user('hi')] })).status);
        return out;
      } finally {
        await s.close();
      }
    };

    const a = await statuses(7);
    const b = await statuses(7);

    expect(a).toEqual(b);
    expect(a).toContain(500);
    expect(a).toContain(200);
  });

  it('resets the connection mid-body and does not bill it', async () => {
    sim = await startTestSim({ faults: { resetRate: 1 } });
    const body = { messages: [DOCS, sourceMessage('src/math.ts', CODE)] };

    const failed = chat(sim, body);

    await expect(failed).rejects.toThrow();
    expect(sim.usage().totals.requests).toBe(0);
  });

  it('returns empty content in JSON mode at the empty-JSON rate, billed', async () => {
    sim = await startTestSim({ faults: { emptyJsonRate: 1 } });
    const body = { messages: [DOCS, sourceMessage('src/math.ts', CODE)] };

    const json = await chat(sim, { ...body, response_format: { type: 'json_object' } });
    const text = await chat(sim, body);

    expect(json.choices[0]?.message.content).toBe('');
    expect(json.choices[0]?.finish_reason).toBe('stop');
    expect(text.choices[0]?.message.content).not.toBe('');
    expect(sim.usage().totals.requests).toBe(2);
  });

  it('adds simulated latency scaled by timeScale', async () => {
    sim = await startSimulator({
      port: 0,
      timeScale: 0.1,
      ttftMs: 2000,
      outputTokensPerSecond: 1e9,
      clock: realPace(),
    });
    const body = { model: 'deepseek-v4-flash', messages: [user('hi')] };

    const started = performance.now();
    await chat(sim, body);
    const elapsed = performance.now() - started;

    // 2000 ms of TTFT at a tenth of real time: at least 200 ms must pass
    expect(elapsed).toBeGreaterThanOrEqual(190);
  });
});
