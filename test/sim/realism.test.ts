import { afterEach, describe, expect, it } from 'vitest';
import type { SimHandle } from '../../local/sim/server';
import { chat, startTestSim, system, user, words } from './helpers';

type TestSim = SimHandle & { advance(ms: number): void };
let sim: TestSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** A prompt of its own per index (distinct from its first word), long enough to be cached. */
const prompt = (i: number, length = 200) => ({
  messages: [system(`${'abcdefghijklmnopqrstuvwxyz'[i]} ${words(length)}`), user('go')],
  max_tokens: 4,
});

/** How long after it was built an entry first serves a hit, to 100 ms. */
async function readiness(s: TestSim, i: number): Promise<number> {
  await chat(s, prompt(i));
  for (let waited = 0; waited <= 60_000; waited += 100) {
    const r = await chat(s, prompt(i));
    if (r.usage.prompt_cache_hit_tokens > 0) return waited;
    s.advance(100);
  }
  return Number.POSITIVE_INFINITY;
}

describe('construction delay drawn from a distribution', () => {
  it('builds entries after delays spread around the median, the same for the same seed', async () => {
    sim = await startTestSim({ constructionDelayMs: 2000, constructionDelaySpread: 0.6 });
    /** Which of 20 entries built together serve a hit `after` ms later (one probe each). */
    const readyAfter = async (s: TestSim, after: number) => {
      s.reset();
      for (let i = 0; i < 20; i++) await chat(s, prompt(i));
      s.advance(after);
      const ready: boolean[] = [];
      for (let i = 0; i < 20; i++)
        ready.push((await chat(s, prompt(i))).usage.prompt_cache_hit_tokens > 0);
      return ready;
    };

    const atMedian = await readyAfter(sim, 2000);
    const again = await readyAfter(sim, 2000);
    const early = await readyAfter(sim, 400);
    const late = await readyAfter(sim, 20_000);

    const count = (r: boolean[]) => r.filter(Boolean).length;
    expect(count(atMedian)).toBeGreaterThan(3);
    expect(count(atMedian)).toBeLessThan(17);
    expect(again).toEqual(atMedian);
    expect(count(early)).toBeLessThan(count(atMedian));
    expect(count(late)).toBe(20);
  });

  it('builds every entry after exactly the median without a spread', async () => {
    sim = await startTestSim({ constructionDelayMs: 2000 });
    for (let i = 0; i < 3; i++) expect(await readiness(sim, i)).toBe(2000);
  });
});

describe('slow start after idle', () => {
  it('builds slower right after waking and at the median once the window has passed', async () => {
    sim = await startTestSim({
      constructionDelayMs: 1000,
      slowStart: { idleMs: 300_000, factor: 3, windowMs: 60_000 },
    });

    const cold = await readiness(sim, 1);
    sim.advance(61_000);
    const warm = await readiness(sim, 2);
    sim.advance(400_000);
    const afterIdle = await readiness(sim, 3);

    expect(cold).toBe(3000);
    expect(warm).toBe(1000);
    expect(afterIdle).toBe(3000);
  });
});

describe('eviction by capacity', () => {
  it('evicts the least recently used entries once the cache holds more than its capacity', async () => {
    sim = await startTestSim({ constructionDelayMs: 0, capacityTokens: 700 });
    // Three prompts of about 200 tokens each fit; the fourth pushes the first out.
    for (let i = 0; i < 3; i++) {
      await chat(sim, prompt(i));
      sim.advance(10);
    }
    const stillThere = await chat(sim, prompt(0));
    sim.advance(10);
    for (let i = 3; i < 5; i++) {
      await chat(sim, prompt(i));
      sim.advance(10);
    }

    // Prompt 0 was used again (most recent of the first three), prompt 1 was not.
    expect(stillThere.usage.prompt_cache_hit_tokens).toBeGreaterThan(0);
    expect((await chat(sim, prompt(1))).usage.prompt_cache_hit_tokens).toBe(0);
  });

  it('keeps everything without a capacity', async () => {
    sim = await startTestSim({ constructionDelayMs: 0 });
    for (let i = 0; i < 5; i++) await chat(sim, prompt(i));

    expect((await chat(sim, prompt(0))).usage.prompt_cache_hit_tokens).toBeGreaterThan(0);
  });
});

describe('best-effort misses and abandoned calls', () => {
  it('turns about the miss rate of would-be hits into whole misses', async () => {
    sim = await startTestSim({ constructionDelayMs: 0, missRate: 0.2 });
    await chat(sim, prompt(0));
    let missed = 0;
    for (let i = 0; i < 200; i++)
      if ((await chat(sim, prompt(0))).usage.prompt_cache_hit_tokens === 0) missed++;

    expect(missed).toBeGreaterThan(20);
    expect(missed).toBeLessThan(60);
  });

  it('tells the harness of every billed call with its cost', async () => {
    const calls: Array<{ id: string; cost: number; abandoned: boolean }> = [];
    sim = await startTestSim({
      constructionDelayMs: 0,
      onBilled: (c) => calls.push({ id: c.id, cost: c.usage.costNanoUsd, abandoned: c.abandoned }),
    });

    const r = await chat(sim, prompt(0));

    expect(calls).toEqual([{ id: r.id, cost: sim.usage().totals.costNanoUsd, abandoned: false }]);
  });
});
