import { describe, expect, it } from 'vitest';
import { mapUsage, UsageFormatError } from '../../shared/llm/usage';

const deepseekUsage = (over: Record<string, unknown> = {}) => ({
  prompt_tokens: 1_200,
  completion_tokens: 300,
  total_tokens: 1_500,
  prompt_cache_hit_tokens: 1_024,
  prompt_cache_miss_tokens: 176,
  prompt_tokens_details: { cached_tokens: 1_024 },
  completion_tokens_details: { reasoning_tokens: 120 },
  ...over,
});

describe('mapUsage', () => {
  it("maps DeepSeek's cache fields to the ledger's", () => {
    expect(mapUsage(deepseekUsage())).toEqual({
      promptHitTokens: 1_024,
      promptMissTokens: 176,
      completionTokens: 300,
      reasoningTokens: 120,
    });
  });

  it('falls back to cached_tokens and the rest of the prompt for other providers', () => {
    // Prepare
    const openAiStyle = deepseekUsage({
      prompt_cache_hit_tokens: undefined,
      prompt_cache_miss_tokens: undefined,
      prompt_tokens_details: { cached_tokens: 1_000 },
      completion_tokens_details: null,
    });

    // Act
    const usage = mapUsage(openAiStyle);

    // Assess
    expect(usage).toEqual({
      promptHitTokens: 1_000,
      promptMissTokens: 200,
      completionTokens: 300,
      reasoningTokens: 0,
    });
  });

  it('counts the whole prompt as a miss when no cache field is reported', () => {
    // Prepare
    const bare = { prompt_tokens: 40, completion_tokens: 1 };

    // Act
    const usage = mapUsage(bare);

    // Assess
    expect(usage.promptHitTokens).toBe(0);
    expect(usage.promptMissTokens).toBe(40);
  });

  it('refuses a missing or inconsistent usage block rather than guess a cost', () => {
    expect(() => mapUsage(undefined)).toThrow(UsageFormatError);
    expect(() => mapUsage({ prompt_tokens: 'many', completion_tokens: 1 })).toThrow(
      UsageFormatError,
    );
    expect(() =>
      mapUsage({
        prompt_tokens: 10,
        completion_tokens: 1,
        prompt_tokens_details: { cached_tokens: 20 },
      }),
    ).toThrow(UsageFormatError);
  });
});
