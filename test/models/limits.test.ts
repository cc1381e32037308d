import { describe, expect, it } from 'vitest';
import {
  checkRequestLimits,
  DEFAULT_MAX_OUTPUT_TOKENS,
  FALLBACK_LIMITS,
  limitsOf,
  MODEL_LIMITS,
} from '../../shared/models/limits';
import { parseSettings } from '../../shared/pipeline/settings';
import { defaultCatalog } from '../../shared/pricing/catalog';

const ENDPOINTS = { public: { name: 'public', baseURL: 'https://api.deepseek.com' } };

describe('model limits', () => {
  it('gives the V3.2 names 128K and the V4 and V4.1 models 1M of context', () => {
    expect(limitsOf('deepseek-chat').contextTokens).toBe(131_072);
    expect(limitsOf('deepseek-reasoner').contextTokens).toBe(131_072);
    for (const model of ['deepseek-v4-flash', 'deepseek-v4-pro', 'deepseek-flash'])
      expect(limitsOf(model).contextTokens).toBe(1_048_576);
    expect(limitsOf('deepseek-v4-flash').maxOutputTokens).toBe(DEFAULT_MAX_OUTPUT_TOKENS);
  });

  it('has limits for every DeepSeek model of the price catalog', () => {
    const priced = new Set(
      defaultCatalog()
        .rows.filter((r) => r.provider === 'deepseek')
        .map((r) => r.model),
    );
    expect([...priced].filter((model) => MODEL_LIMITS[model] === undefined)).toEqual([]);
  });

  it('holds a model it has no figures for to the smallest known limits', () => {
    expect(limitsOf('some-new-model')).toEqual(FALLBACK_LIMITS);
  });

  it('lets settings override one figure of one model and keeps the other', () => {
    const limits = limitsOf('deepseek-v4-flash', {
      'deepseek-v4-flash': { maxOutputTokens: 32_768 },
    });

    expect(limits).toMatchObject({ contextTokens: 1_048_576, maxOutputTokens: 32_768 });
    expect(limits.source).toMatch(/settings modelLimits\.deepseek-v4-flash/);
    expect(limitsOf('deepseek-chat', { 'deepseek-v4-flash': { contextTokens: 1 } })).toBe(
      MODEL_LIMITS['deepseek-chat'],
    );
  });

  it('refuses max_tokens over the output limit, naming where it came from and the setting', () => {
    const violation = checkRequestLimits(
      { model: 'deepseek-chat', promptTokens: 10, maxTokens: 1e9, maxTokensFrom: 'the request' },
      limitsOf('deepseek-chat'),
    );

    expect(violation?.code).toBe('max_tokens_over_limit');
    expect(violation?.reason).toMatch(
      /max_tokens 1000000000 \(the request\) is over deepseek-chat's output limit of 8192 tokens.*modelLimits\.deepseek-chat\.maxOutputTokens/,
    );
  });

  it('refuses a prompt plus max_tokens over the context window, and accepts one that fits exactly', () => {
    const limits = limitsOf('deepseek-chat');
    const request = { model: 'deepseek-chat', maxTokens: 4_096, maxTokensFrom: 'the request' };

    const over = checkRequestLimits({ ...request, promptTokens: 131_072 - 4_095 }, limits);
    const exact = checkRequestLimits({ ...request, promptTokens: 131_072 - 4_096 }, limits);

    expect(over?.code).toBe('context_exceeded');
    expect(over?.reason).toMatch(
      /about 126977 tokens, estimated\) plus max_tokens 4096 is over deepseek-chat's context window of 131072/,
    );
    expect(exact).toBeUndefined();
  });
});

describe('settings of input limits', () => {
  it('default to 16 MiB JSONL files and the built-in model limits', () => {
    const settings = parseSettings({ endpoints: ENDPOINTS });

    expect(settings.maxJsonlBytes).toBe(16 * 1024 * 1024);
    expect(settings.modelLimits).toEqual({});
  });

  it('accept per-model overrides and refuse a misspelt or non-positive figure', () => {
    const settings = parseSettings({
      endpoints: ENDPOINTS,
      maxJsonlBytes: 1_000,
      modelLimits: { 'deepseek-flash': { maxOutputTokens: 65_536 } },
    });

    expect(settings.modelLimits['deepseek-flash']).toEqual({ maxOutputTokens: 65_536 });
    expect(() =>
      parseSettings({ endpoints: ENDPOINTS, modelLimits: { x: { maxOutput: 1 } } } as never),
    ).toThrow(/modelLimits\.x/);
    expect(() =>
      parseSettings({ endpoints: ENDPOINTS, modelLimits: { x: { contextTokens: 0 } } }),
    ).toThrow(/modelLimits\.x\.contextTokens/);
  });
});
