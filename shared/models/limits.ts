/**
 * What each model accepts in one request: its context window (prompt and output together, in
 * tokens) and the most output tokens a request may ask for. Data, like the price catalog, and
 * kept apart from it: prices change by date, limits by model. Every figure can be overridden
 * per model by the pipeline settings (`modelLimits`), so a provider's change needs no release.
 *
 * The planner refuses a request over these limits before any call: the provider would answer
 * 400 or cut the answer short, and a `max_tokens` far over the limit would also reserve that
 * much budget.
 */

export interface ModelLimits {
  /** Prompt plus `max_tokens`, in tokens. */
  contextTokens: number;
  /** Largest `max_tokens` one request may ask for. */
  maxOutputTokens: number;
  /** Where the figures come from. */
  source: string;
}

/** Per model, the figures that replace the built-in ones (the `modelLimits` setting). */
export type ModelLimitOverrides = Readonly<
  Record<string, Partial<Pick<ModelLimits, 'contextTokens' | 'maxOutputTokens'>>>
>;

/** 128K, as DeepSeek counts it. */
const K128 = 131_072;
/** 1M, as DeepSeek counts it. */
const M1 = 1_048_576;

/**
 * Output limit of a model whose provider publishes none: 8K, the smallest documented maximum
 * of a DeepSeek chat model (V3.2 `deepseek-chat`: 4K by default, 8K at most). Conservative on
 * purpose: a request refused here can be let through by raising `modelLimits.<model>`, while
 * one the provider truncates or refuses has been sent, and perhaps billed.
 */
export const DEFAULT_MAX_OUTPUT_TOKENS = 8_192;

const V32 = 'team handbook facts page (V3.2: 128K context); no output limit given there';
const V4 =
  'team handbook facts page (V4 and V4.1 Flash and Pro: 1M context); no output limit given there';

/** Built-in limits, by model id as requests name it. */
export const MODEL_LIMITS: Readonly<Record<string, ModelLimits>> = {
  'deepseek-chat': { contextTokens: K128, maxOutputTokens: DEFAULT_MAX_OUTPUT_TOKENS, source: V32 },
  'deepseek-reasoner': {
    contextTokens: K128,
    maxOutputTokens: DEFAULT_MAX_OUTPUT_TOKENS,
    source: V32,
  },
  'deepseek-v4-flash': {
    contextTokens: M1,
    maxOutputTokens: DEFAULT_MAX_OUTPUT_TOKENS,
    source: V4,
  },
  'deepseek-v4-flash-vision-exp': {
    contextTokens: M1,
    maxOutputTokens: DEFAULT_MAX_OUTPUT_TOKENS,
    source: V4,
  },
  'deepseek-v4-pro': { contextTokens: M1, maxOutputTokens: DEFAULT_MAX_OUTPUT_TOKENS, source: V4 },
  'deepseek-flash': { contextTokens: M1, maxOutputTokens: DEFAULT_MAX_OUTPUT_TOKENS, source: V4 },
};

/**
 * Limits of a model no row names (a priced model added to the catalog before its limits were
 * known): the smallest context window of the models above, and the default output limit.
 */
export const FALLBACK_LIMITS: ModelLimits = {
  contextTokens: K128,
  maxOutputTokens: DEFAULT_MAX_OUTPUT_TOKENS,
  source: 'no figures for this model: the smallest of the known DeepSeek models',
};

/** The limits a request to `model` is held to: the built-in row (or the fallback), overridden. */
export function limitsOf(model: string, overrides: ModelLimitOverrides = {}): ModelLimits {
  const base = MODEL_LIMITS[model] ?? FALLBACK_LIMITS;
  const own = overrides[model];
  if (!own) return base;
  return { ...base, ...own, source: `settings modelLimits.${model}, over: ${base.source}` };
}

/** Why a request is too big for its model, as a job error code and a reason a person acts on. */
export interface LimitViolation {
  code: 'max_tokens_over_limit' | 'context_exceeded';
  reason: string;
}

/**
 * Checks one request against its model's limits: `max_tokens` against the output limit, then
 * the estimated prompt plus `max_tokens` against the context window. `maxTokensFrom` names
 * where `max_tokens` came from (`body.max_tokens`, `maxOutputTokens.docs`), so the reason says
 * what to change.
 */
export function checkRequestLimits(
  request: { model: string; promptTokens: number; maxTokens: number; maxTokensFrom: string },
  limits: ModelLimits,
): LimitViolation | undefined {
  const { model, promptTokens, maxTokens, maxTokensFrom } = request;
  if (maxTokens > limits.maxOutputTokens)
    return {
      code: 'max_tokens_over_limit',
      reason: `max_tokens ${maxTokens} (${maxTokensFrom}) is over ${model}'s output limit of ${limits.maxOutputTokens} tokens: ask for at most ${limits.maxOutputTokens} (the limit is the setting modelLimits.${model}.maxOutputTokens)`,
    };
  if (promptTokens + maxTokens > limits.contextTokens)
    return {
      code: 'context_exceeded',
      reason: `the prompt (about ${promptTokens} tokens, estimated) plus max_tokens ${maxTokens} is over ${model}'s context window of ${limits.contextTokens} tokens: shorten the input or its context files, or lower max_tokens`,
    };
  return undefined;
}
