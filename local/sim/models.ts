import { limitsOf } from '../../shared/models/limits';
import { CATALOG } from '../../shared/pricing/catalog';
import { ModelNotInForceError, requestCost, UnknownModelError } from '../../shared/pricing/cost';
import type { Usage } from '../../shared/types';

/**
 * The models the simulator serves, and what it charges for them: every DeepSeek model of the
 * project's price catalog, billed by the catalog's own cost function, so the simulator's bill and
 * the ledger's figures cannot disagree.
 */

export interface SimModel {
  id: string;
  /** Prompt tokens the model accepts; longer prompts answer 400. */
  contextTokens: number;
  /** Reasoning models return `reasoning_content` and count reasoning tokens as output. */
  reasoning: boolean;
}

/** Every DeepSeek model in the price catalog, in catalog order. */
export const SIM_MODELS: readonly SimModel[] = [
  ...new Set(CATALOG.filter((r) => r.provider === 'deepseek').map((r) => r.model)),
].map((id) => ({
  id,
  // The catalog holds prices only; context windows are the pipeline's own model limits.
  contextTokens: limitsOf(id).contextTokens,
  reasoning: id.includes('reasoner'),
}));

/** A model the simulator does not serve at the given time; the server answers 400. */
export class ModelNotServedError extends Error {
  override name = 'ModelNotServedError';
  constructor(
    readonly model: string,
    options?: { cause?: unknown },
  ) {
    super(`Model Not Exist: ${model}`, options);
  }
}

/** Looks a served model up by id; throws ModelNotServedError for any other id. */
export function findModel(id: string): SimModel {
  const model = SIM_MODELS.find((m) => m.id === id);
  if (!model) throw new ModelNotServedError(id);
  return model;
}

/**
 * Cost of one billed response in integer nano-USD, by the catalog row in force at `at`.
 * Throws ModelNotServedError when the model is unknown or not priced then (retired): an
 * unpriced model is never served for free.
 */
export function responseCostNanoUsd(model: string, at: Date, usage: Usage): number {
  try {
    return requestCost(model, at, usage).totalNanoUsd;
  } catch (err) {
    if (err instanceof UnknownModelError || err instanceof ModelNotInForceError)
      throw new ModelNotServedError(model, { cause: err });
    throw err;
  }
}
