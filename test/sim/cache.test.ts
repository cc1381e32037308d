import { afterEach, describe, expect, it } from 'vitest';
import type { SimHandle } from '../../local/sim/server';
import { type ChatMessage, chat, realPace, startTestSim, system, user, words } from './helpers';

// Rendered as `BOS {system} <User>{user} <Assistant>`: a system prompt of n words is a shared
// prefix of n + 2 tokens (BOS, the words, the User marker) when the user messages differ from
// their first token on.
const SHARED_WORDS = 100;
const SHARED_PREFIX = SHARED_WORDS + 2;
const A = system(words(SHARED_WORDS));
const request = (tail: string, ...extra: ChatMessage[]) => ({
  messages: [A, ...extra, user(words(40, tail))],
  max_tokens: 16,
});

let sim: (SimHandle & { advance(ms: number): void }) | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('persisted-units cache model', () => {
  it('misses A+C after A+B, then persists A so that A+D hits it', async () => {
    // Prepare
    sim = await startTestSim({ cacheModel: 'persisted-units' });

    // Act
    const ab = await chat(sim, request('bravo'));
    sim.advance(5000);
    const ac = await chat(sim, request('charl'));
    sim.advance(5000);
    const ad = await chat(sim, request('delta'));

    // Assess
    expect(ab.usage.prompt_cache_hit_tokens).toBe(0);
    expect(ac.usage.prompt_cache_hit_tokens).toBe(0);
    expect(ad.usage.prompt_cache_hit_tokens).toBe(SHARED_PREFIX);
    expect(ad.usage.prompt_cache_miss_tokens).toBe(ad.usage.prompt_tokens - SHARED_PREFIX);
  });

  it('serves a repeated request whole from the unit at the end of its input', async () => {
    sim = await startTestSim({ cacheModel: 'persisted-units' });

    const first = await chat(sim, request('bravo'));
    sim.advance(5000);
    const again = await chat(sim, request('bravo'));

    expect(again.usage.prompt_cache_hit_tokens).toBe(first.usage.prompt_tokens);
    expect(again.usage.prompt_cache_miss_tokens).toBe(0);
  });

  it('serves the next turn from the unit at the end of the output', async () => {
    sim = await startTestSim({ cacheModel: 'persisted-units' });

    const first = await chat(sim, request('bravo'));
    sim.advance(5000);
    const answer = first.choices[0]?.message.content ?? '';
    const next = await chat(sim, {
      messages: [A, user(words(40, 'bravo')), { role: 'assistant', content: answer }, user('more')],
    });

    // prompt, answer, and the end-of-sentence marker the template puts after an answer
    expect(next.usage.prompt_cache_hit_tokens).toBe(
      first.usage.prompt_tokens + first.usage.completion_tokens + 1,
    );
  });

  it('lets a warm-up of messages 1-3 serve every job of the group', async () => {
    sim = await startTestSim({ cacheModel: 'persisted-units' });
    const prefix = [A, user(words(80, 'ctx')), { role: 'assistant' as const, content: 'Ready.' }];

    const warm = await chat(sim, { messages: prefix, max_tokens: 1 });
    sim.advance(5000);
    const jobs = await Promise.all(
      ['one', 'two', 'three'].map((tail) =>
        chat(sim as SimHandle, { messages: [...prefix, user(words(30, tail))] }),
      ),
    );

    expect(warm.usage.completion_tokens).toBe(1);
    for (const job of jobs)
      expect(job.usage.prompt_cache_hit_tokens).toBe(warm.usage.prompt_tokens);
  });

  it('persists every K tokens when a unit interval is set', async () => {
    sim = await startTestSim({ cacheModel: 'persisted-units', unitInterval: 64 });

    await chat(sim, request('bravo'));
    sim.advance(5000);
    const other = await chat(sim, request('charl'));

    expect(other.usage.prompt_cache_hit_tokens).toBe(64);
  });

  it('never persists a unit under 64 tokens', async () => {
    sim = await startTestSim({ cacheModel: 'persisted-units' });
    const short = { messages: [user(words(20))] };

    await chat(sim, short);
    sim.advance(5000);
    const again = await chat(sim, short);

    expect(again.usage.prompt_tokens).toBeLessThan(64);
    expect(again.usage.prompt_cache_hit_tokens).toBe(0);
  });
});

describe('units64 cache model', () => {
  it('hits A+C on its common prefix with A+B, floored to 64-token units', async () => {
    sim = await startTestSim({ cacheModel: 'units64' });

    await chat(sim, request('bravo'));
    sim.advance(5000);
    const ac = await chat(sim, request('charl'));

    expect(ac.usage.prompt_cache_hit_tokens).toBe(Math.floor(SHARED_PREFIX / 64) * 64);
    expect(ac.usage.prompt_cache_hit_tokens).toBe(64);
  });

  it('floors a long common prefix to whole units', async () => {
    sim = await startTestSim({ cacheModel: 'units64' });
    const long = system(words(200));

    await chat(sim, { messages: [long, user(words(10, 'bravo'))] });
    sim.advance(5000);
    const other = await chat(sim, { messages: [long, user(words(10, 'charl'))] });

    // common prefix: BOS + 200 words + User marker = 202 tokens
    expect(other.usage.prompt_cache_hit_tokens).toBe(192);
  });

  it('never hits a prompt under 64 tokens', async () => {
    sim = await startTestSim({ cacheModel: 'units64' });
    const short = { messages: [user(words(40))] };

    await chat(sim, short);
    sim.advance(5000);
    const again = await chat(sim, short);

    expect(again.usage.prompt_tokens).toBeLessThan(64);
    expect(again.usage.prompt_cache_hit_tokens).toBe(0);
  });
});

describe.each(['units64', 'persisted-units'] as const)('%s cache model', (cacheModel) => {
  it('is unusable until the construction delay after the building request has passed', async () => {
    sim = await startTestSim({ cacheModel, constructionDelayMs: 1000 });

    await chat(sim, request('bravo'));
    const immediate = await chat(sim, request('bravo'));
    sim.advance(999);
    const tooEarly = await chat(sim, request('bravo'));
    sim.advance(2);
    const afterDelay = await chat(sim, request('bravo'));

    expect(immediate.usage.prompt_cache_hit_tokens).toBe(0);
    expect(tooEarly.usage.prompt_cache_hit_tokens).toBe(0);
    expect(afterDelay.usage.prompt_cache_hit_tokens).toBeGreaterThanOrEqual(64);
  });

  it('scales the construction delay with timeScale', async () => {
    // Prepare: 2,000 simulated ms at a time scale of 0.05 are 100 ms on the simulator's clock
    sim = await startTestSim({ cacheModel, constructionDelayMs: 2000, timeScale: 0.05 });

    // Act
    await chat(sim, request('bravo'));
    sim.advance(99);
    const tooEarly = await chat(sim, request('bravo'));
    sim.advance(2);
    const afterScaledDelay = await chat(sim, request('bravo'));

    // Assess: unscaled, the entry would still be building; scaled twice, it would be ready early
    expect(tooEarly.usage.prompt_cache_hit_tokens).toBe(0);
    expect(afterScaledDelay.usage.prompt_cache_hit_tokens).toBeGreaterThanOrEqual(64);
  });

  it('serves no hit before the scaled delay has passed in real time', async () => {
    // Prepare: a clock at real pace, read by the test too. Only a lower bound is asserted, so a
    // busy machine, which can only make the answers later, cannot fail it.
    const clock = realPace();
    sim = await startTestSim({ cacheModel, constructionDelayMs: 2000, timeScale: 0.05, clock });
    const sentAt = clock();

    // Act
    await chat(sim, request('bravo'));
    await expect
      .poll(
        async () => (await chat(sim as SimHandle, request('bravo'))).usage.prompt_cache_hit_tokens,
        { interval: 20 },
      )
      .toBeGreaterThanOrEqual(64);
    const hitAt = clock();

    // Assess
    expect(hitAt - sentAt).toBeGreaterThanOrEqual(100);
  });

  it('keeps caches apart per user_id', async () => {
    sim = await startTestSim({ cacheModel });

    await chat(sim, { ...request('bravo'), user_id: 'team-a' });
    sim.advance(5000);
    const otherUser = await chat(sim, { ...request('bravo'), user_id: 'team-b' });
    const noUser = await chat(sim, request('bravo'));
    const sameUser = await chat(sim, { ...request('bravo'), user_id: 'team-a' });

    expect(otherUser.usage.prompt_cache_hit_tokens).toBe(0);
    expect(noUser.usage.prompt_cache_hit_tokens).toBe(0);
    expect(sameUser.usage.prompt_cache_hit_tokens).toBeGreaterThanOrEqual(64);
  });

  it('expires entries after the TTL', async () => {
    sim = await startTestSim({ cacheModel, ttlMs: 60_000 });

    await chat(sim, request('bravo'));
    sim.advance(30_000);
    const live = await chat(sim, request('bravo'));
    sim.advance(61_000);
    const expired = await chat(sim, request('bravo'));

    expect(live.usage.prompt_cache_hit_tokens).toBeGreaterThanOrEqual(64);
    expect(expired.usage.prompt_cache_hit_tokens).toBe(0);
  });

  it('misses every would-be hit at a miss rate of 1', async () => {
    sim = await startTestSim({ cacheModel, missRate: 1 });

    await chat(sim, request('bravo'));
    sim.advance(5000);
    const again = await chat(sim, request('bravo'));

    expect(again.usage.prompt_cache_hit_tokens).toBe(0);
  });

  it('forgets everything on reset', async () => {
    sim = await startTestSim({ cacheModel });

    await chat(sim, request('bravo'));
    sim.advance(5000);
    sim.reset();
    const again = await chat(sim, request('bravo'));

    expect(again.usage.prompt_cache_hit_tokens).toBe(0);
    expect(sim.usage().totals.requests).toBe(1);
  });
});
