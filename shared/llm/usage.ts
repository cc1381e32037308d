import * as z from 'zod';
import type { Usage } from '../types';

const count = z.number().int().nonnegative();

/**
 * The usage block of an OpenAI-compatible response. DeepSeek reports the cache split as
 * `prompt_cache_hit_tokens` / `prompt_cache_miss_tokens`; other providers only as
 * `prompt_tokens_details.cached_tokens`. Some send null for the detail objects.
 */
const ProviderUsage = z.object({
  prompt_tokens: count,
  completion_tokens: count,
  prompt_cache_hit_tokens: count.nullish(),
  prompt_cache_miss_tokens: count.nullish(),
  prompt_tokens_details: z.object({ cached_tokens: count.nullish() }).nullish(),
  completion_tokens_details: z.object({ reasoning_tokens: count.nullish() }).nullish(),
});

/** The provider's usage block could not be read; the response cannot be billed correctly. */
export class UsageFormatError extends Error {
  override name = 'UsageFormatError';
}

/**
 * Maps a provider usage block to the ledger's fields. Hit tokens come from DeepSeek's own field,
 * else from `cached_tokens`; miss tokens from DeepSeek's field, else the rest of the prompt.
 * Throws UsageFormatError when the block is missing or inconsistent, since a guessed count would
 * put a wrong cost in the ledger.
 */
export function mapUsage(raw: unknown): Usage {
  const parsed = ProviderUsage.safeParse(raw);
  if (!parsed.success) throw new UsageFormatError('the response has no readable usage block');
  const u = parsed.data;
  const hit = u.prompt_cache_hit_tokens ?? u.prompt_tokens_details?.cached_tokens ?? 0;
  const miss = u.prompt_cache_miss_tokens ?? u.prompt_tokens - hit;
  if (miss < 0) throw new UsageFormatError('cached tokens exceed prompt tokens');
  return {
    promptHitTokens: hit,
    promptMissTokens: miss,
    completionTokens: u.completion_tokens,
    reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}
