/**
 * A job is reserved at the dearest endpoint it may be served by: with a fallback to a model that
 * costs ~17x DeepSeek's per token, a budget that covers the DeepSeek price but not the
 * fallback's must leave the jobs skipped with a reason before anything is sent, never overspent.
 */
import { describe, expect, it } from 'vitest';
import type { Job } from '../../shared/inputs';
import { contextLoader, decide, planPricing } from '../../shared/pipeline/plan/decide';
import { errorsOf, monthOf, put, source, summariesOfTeam, useHarness } from './support';

const TEAM = 'frugal';
/** About four jobs at DeepSeek's dearest price, and less than one at GPT-5.4's. */
const CAP_NANO_USD = 2_000_000;

const h = useHarness({
  settings: { budgets: { [TEAM]: CAP_NANO_USD } },
  fallbacks: {
    public: [
      {
        name: 'openai',
        // Never reached: the budget stops the jobs before any call.
        baseURL: 'http://127.0.0.1:9/v1',
        apiKey: 'sk-fallback',
        clearedFor: 'public',
        model: 'gpt-5.4',
        userIdField: 'user',
      },
    ],
  },
});

describe('a budget that covers DeepSeek but not the fallback', () => {
  it('skips the jobs with a reason naming the fallback, and spends nothing', async () => {
    // Prepare / Act
    for (let i = 0; i < 3; i++) await put(h, `intake/${TEAM}/p/docs/src/f${i}.ts`, source(i));
    await expect
      .poll(async () => (await summariesOfTeam(h, TEAM)).length, { timeout: 60_000 })
      .toBe(1);

    // Assess
    const [summary] = await summariesOfTeam(h, TEAM);
    expect(summary?.states.skipped_budget).toBe(3);
    const errors = await errorsOf(h, { team: TEAM, batchId: summary?.batchId ?? '' });
    expect(errors).toHaveLength(3);
    for (const e of errors) {
      expect(e.code).toBe('budget');
      expect(e.reason).toContain('gpt-5.4 on fallback endpoint openai');
      expect(e.reason).toContain(`budgets.${TEAM}`);
    }
    const budget = await h.deps.ledger.budget(TEAM, monthOf(h));
    expect(budget?.spentNanoUsd ?? 0).toBe(0);
    expect(budget?.committedNanoUsd ?? 0).toBeLessThanOrEqual(CAP_NANO_USD);
    expect(h.sim.usage().totals.requests).toBe(0);
  });

  it('prices a job above the cap only because of the fallback: at DeepSeek alone three fit', async () => {
    // Prepare: one job as the planner sees it, with and without the fallback configured.
    const job: Job = {
      jobId: 'j1',
      batchId: 'b1',
      team: TEAM,
      project: 'p',
      kind: 'docs',
      path: 'src/f0.ts',
      inputKey: `intake/${TEAM}/p/docs/src/f0.ts`,
      outputKey: `outputs/${TEAM}/p/b1/src/f0.md`,
      model: h.deps.settings.defaultModel,
      sensitivity: 'public',
      contextKeys: [],
      request: { messages: [{ role: 'user', content: source(0) }] },
    };
    const pricing = await planPricing(h.deps, h.deps.clock.now(), undefined);
    const { fallbacks: _, ...own } = h.deps.settings.endpoints;
    const deepseekOnly = { ...h.deps, settings: { ...h.deps.settings, endpoints: own } };

    // Act
    const withFallback = await decide(job, h.deps, contextLoader(h.deps, spec()), pricing);
    const alone = await decide(job, deepseekOnly, contextLoader(deepseekOnly, spec()), pricing);

    // Assess
    if (withFallback.kind !== 'llm' || alone.kind !== 'llm')
      throw new Error(`not planned for a call: ${withFallback.kind}, ${alone.kind}`);
    expect(withFallback.estimateNanoUsd).toBeGreaterThan(CAP_NANO_USD);
    expect(withFallback.dearest).toBe('gpt-5.4 on fallback endpoint openai');
    expect(3 * alone.estimateNanoUsd).toBeLessThanOrEqual(CAP_NANO_USD);
    expect(alone.dearest).toBeUndefined();
  });
});

/** An empty batch spec, for the context loader's rejections. */
function spec() {
  return { rejections: [] } as unknown as Parameters<typeof contextLoader>[1];
}
