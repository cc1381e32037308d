import { afterEach, describe, expect, it } from 'vitest';
import { lowerBoundInputCost } from '../../bench/cache/bound';
import type { CacheModel } from '../../local/sim/cache';
import { renderPrompt, TokenInterner } from '../../local/sim/render';
import type { SimHandle } from '../../local/sim/server';
import { type ExecGroup, runGroups } from '../../shared/executor/executor';
import { planSharedRoots, RootGate } from '../../shared/executor/prefix-tree';
import { createLlmClient } from '../../shared/llm';
import type { ChatMessage } from '../../shared/types';
import { startTestSim, words } from '../sim/helpers';

const MODEL = 'deepseek-v4-flash';

/** Group `g` of `n` jobs: a long system message shared by every group, then its own context. */
function group(g: number, n: number, system = words(600), model = MODEL): ExecGroup {
  const prefixMessages: ChatMessage[] = [
    { role: 'system', content: system },
    { role: 'user', content: `Context ${String.fromCharCode(97 + g)}:${words(100, `w${g}`)}` },
    { role: 'assistant', content: 'ok' },
  ];
  return {
    prefixKey: `g${g}`,
    model,
    team: 't',
    sensitivity: 'public',
    prefixMessages,
    prefixTokens: 700,
    jobs: Array.from({ length: n }, (_, j) => ({
      jobId: `g${g}-j${j}`,
      messages: [...prefixMessages, { role: 'user', content: `File ${g}/${j}` }],
      maxTokens: 8,
    })),
  };
}

describe('planSharedRoots', () => {
  it('warms a head shared by several groups through two groups from different branches', () => {
    const groups = Array.from({ length: 5 }, (_, g) => group(g, 2));

    const roots = planSharedRoots(groups);

    expect(roots).toHaveLength(1);
    const [root] = roots;
    expect(root?.builders).toHaveLength(2);
    expect(new Set(root?.builders).size).toBe(2);
    expect(root?.followers.sort()).toEqual(
      groups.map((g) => g.prefixKey).filter((k) => !root?.builders.includes(k)),
    );
    expect(root?.rootTokens).toBeGreaterThanOrEqual(600);
  });

  it('shares nothing across models, under three groups, or when the head is under one cache unit', () => {
    const twoModels = [group(0, 2), group(1, 2), group(2, 2, undefined, 'deepseek-v4-pro')];
    const short = Array.from({ length: 5 }, (_, g) => group(g, 2, 'Be brief.'));

    expect(planSharedRoots(twoModels)).toEqual([]);
    expect(planSharedRoots([group(0, 2), group(1, 2)])).toEqual([]);
    expect(planSharedRoots(short)).toEqual([]);
  });
});

describe('RootGate', () => {
  it('holds a follower until both builders settled and the settle time passed', async () => {
    let clock = 0;
    const gate = new RootGate(
      [{ model: MODEL, rootTokens: 600, builders: ['a', 'b'], followers: ['c'] }],
      () => clock,
    );
    const slept: number[] = [];
    let released = false;

    const waiting = gate
      .ready(
        'c',
        () => 500,
        async (ms) => {
          slept.push(ms);
          clock += ms;
        },
        10_000,
      )
      .then(() => {
        released = true;
      });
    gate.settled('a', true);
    await Promise.resolve();
    const afterOne = released;
    clock = 100;
    gate.settled('b', false);
    await waiting;

    expect(afterOne).toBe(false);
    expect(slept).toEqual([500]);
    expect(clock).toBe(600);
  });
});

let sim: (SimHandle & { advance(ms: number): void }) | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** Runs six groups of one job at once on virtual time; returns missed tokens and the bound's. */
async function run(cacheModel: CacheModel, shareRoots: boolean) {
  const s = await startTestSim({ constructionDelayMs: 1_000, cacheModel });
  sim = s;
  const now = () => (s.options.clock as () => number)();
  const llm = createLlmClient(
    { public: { name: 'sim', baseURL: s.url, apiKey: 'sim-key' } },
    { now },
  );
  const groups = Array.from({ length: 6 }, (_, g) => group(g, 1));

  await runGroups(
    groups,
    { llm, now, deadline: now() + 3_600_000, sleep: async (ms) => s.advance(ms) },
    { warmup: 'none', concurrency: 8, stopMarginMs: 0, settleMs: 1_500, shareRoots },
  );

  const interner = new TokenInterner();
  const prompts = groups.flatMap((g) =>
    g.jobs.map((j) => ({ model: MODEL, tokens: renderPrompt(j.messages, interner) })),
  );
  const bound = lowerBoundInputCost(prompts, cacheModel, () => 0, new Date(now()));
  const root = renderPrompt(groups[0]?.prefixMessages.slice(0, 1) ?? [], interner).length;
  return { missed: s.usage().totals.missTokens, boundMissed: bound.missTokens, root };
}

describe('a root shared across groups', () => {
  it.each(['persisted-units', 'units64'] as const)(
    'is paid at the miss price by its two builders only, near the lower bound (%s)',
    async (cacheModel) => {
      const shared = await run(cacheModel, true);
      await sim?.close();
      sim = undefined;
      const separate = await run(cacheModel, false);

      // One root more than the bound (two builders instead of one), within a cache unit each.
      expect(shared.missed).toBeLessThanOrEqual(shared.boundMissed + shared.root + 6 * 64);
      // Sent side by side, every group pays it.
      expect(separate.missed).toBeGreaterThanOrEqual(
        separate.boundMissed + 5 * (separate.root - 64),
      );
      expect(separate.missed - shared.missed).toBeGreaterThanOrEqual(4 * (shared.root - 64));
    },
  );
});
