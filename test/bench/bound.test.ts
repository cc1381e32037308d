import { describe, expect, it } from 'vitest';
import { boundHitTokens, lowerBoundInputCost } from '../../bench/cache/bound';
import type { Pricer } from '../../bench/cache/metrics';

const AT = new Date('2026-11-01T12:00:00Z');

/** Hit 1 nano-USD a token, miss 10: costs are easy to compute by hand. */
const simplePricer: Pricer = (_model, _at, u) => u.promptHitTokens * 1 + u.promptMissTokens * 10;

/** A prompt of `shared` tokens common to all (ids 1..shared) followed by `own` tokens of its own. */
const prompt = (shared: number, own: number, tag: number, model = 'deepseek-flash') => ({
  model,
  tokens: Int32Array.from([
    ...Array.from({ length: shared }, (_, i) => i + 1),
    ...Array.from({ length: own }, (_, i) => 100_000 * tag + i),
  ]),
});

describe('lowerBoundInputCost', () => {
  it('pays every distinct token of the prompt tree once at the miss price and every other use at the hit price', () => {
    const prompts = [prompt(200, 30, 1), prompt(200, 40, 2), prompt(200, 50, 3)];

    const bound = lowerBoundInputCost(prompts, 'persisted-units', simplePricer, AT);

    // Distinct: 200 shared + 30 + 40 + 50 own; the shared 200 are used twice more.
    expect(bound.missTokens).toBe(320);
    expect(bound.hitTokens).toBe(400);
    expect(bound.inputCostNano).toBe(320 * 10 + 400);
  });

  it('counts roots shared across groups once, below any per-group optimum', () => {
    // Two "groups": a common root of 100 tokens, then each group's own 300-token context.
    const root = Array.from({ length: 100 }, (_, i) => i + 1);
    const groupPrompt = (g: number, j: number) => ({
      model: 'deepseek-flash',
      tokens: Int32Array.from([
        ...root,
        ...Array.from({ length: 300 }, (_, i) => 10_000 * g + i),
        ...Array.from({ length: 20 }, (_, i) => 1_000_000 + 1000 * (10 * g + j) + i),
      ]),
    });
    const prompts = [groupPrompt(1, 1), groupPrompt(1, 2), groupPrompt(2, 1), groupPrompt(2, 2)];

    const bound = lowerBoundInputCost(prompts, 'persisted-units', simplePricer, AT);

    // Distinct: root 100 + two contexts 600 + four tails 80. A per-group optimum pays the root twice.
    expect(bound.missTokens).toBe(780);
    expect(bound.hitTokens).toBe(4 * 420 - 780);
  });

  it('grants only whole 64-token units under units64', () => {
    const prompts = [prompt(200, 10, 1), prompt(200, 10, 2)];

    const hits = boundHitTokens(prompts, 'units64');

    expect(hits.sort((a, b) => a - b)).toEqual([0, 192]);
  });

  it('keeps caches apart per model', () => {
    const prompts = [prompt(200, 10, 1, 'a'), prompt(200, 10, 2, 'b')];

    expect(boundHitTokens(prompts, 'persisted-units')).toEqual([0, 0]);
  });

  it('prices the expected best-effort misses: a would-be hit misses whole with the miss rate', () => {
    const prompts = [prompt(100, 0, 1), prompt(100, 0, 2)];

    const none = lowerBoundInputCost(prompts, 'persisted-units', simplePricer, AT, 0);
    const some = lowerBoundInputCost(prompts, 'persisted-units', simplePricer, AT, 0.2);

    expect(none.inputCostNano).toBe(1000 + 100);
    // The second prompt: 0.8 x 100 hit + 0.2 x 100 miss.
    expect(some.inputCostNano).toBe(1000 + 80 + 200);
    expect(() => lowerBoundInputCost(prompts, 'units64', simplePricer, AT, 1.5)).toThrow(
      RangeError,
    );
  });
});
