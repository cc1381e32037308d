import { limitsOf } from '../../shared/models/limits';
import { type Catalog, rowAt } from '../../shared/pricing/catalog';
import { costAtPrice, PricingError, resolvePrice } from '../../shared/pricing/cost';
import type { Usage } from '../../shared/types';

/**
 * The models the simulator serves, and what it charges for them: every DeepSeek model of the
 * project's price catalog, billed by the catalog's own cost function, so the simulator's bill and
 * the ledger's figures cannot disagree.
 */

export interface SimModel {
  id: string;
  /** The model that serves it at the request's time (an alias names another); caches are per served model. */
  servedBy: string;
  /** Prompt tokens the model accepts; longer prompts answer 400. */
  contextTokens: number;
  /** Reasoning models return `reasoning_content` and count reasoning tokens as output. */
  reasoning: boolean;
}

/** Every DeepSeek model of the catalog, sorted. */
export function simModelIds(catalog: Catalog): string[] {
  return [...catalog.byModel.entries()]
    .filter(([, rows]) => rows.some((r) => r.provider === 'deepseek'))
    .map(([id]) => id)
    .sort();
}

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

/**
 * The model `id` as served at `at`: what serves it (through aliases) and its context window,
 * the pipeline's own limits of the model that serves it (128K for the V3.2 names while they
 * were V3.2, 1M for every V4 model). Throws
 * ModelNotServedError for a model with no DeepSeek price in force then: an unpriced model is
 * never served for free.
 */
export function findModel(id: string, at: Date, catalog: Catalog): SimModel {
  const row = rowAt(catalog, id, at.getTime());
  if (row?.provider !== 'deepseek') throw new ModelNotServedError(id);
  let servedBy: string;
  try {
    servedBy = resolvePrice(id, at, catalog, { holidaysUnknown: 'peak' }).billedAs;
  } catch (err) {
    if (err instanceof PricingError) throw new ModelNotServedError(id, { cause: err });
    throw err;
  }
  return {
    id,
    servedBy,
    contextTokens: limitsOf(servedBy).contextTokens,
    reasoning: id.includes('reasoner'),
  };
}

/**
 * Cost of one billed response in integer nano-USD, by the catalog row in force at `at`. A year
 * without a holiday list is billed at peak: the provider knows its holidays, the simulator must
 * still answer.
 */
export function responseCostNanoUsd(
  model: string,
  at: Date,
  usage: Usage,
  catalog: Catalog,
): number {
  const price = resolvePrice(model, at, catalog, { holidaysUnknown: 'peak' });
  return costAtPrice(price, usage).totalNanoUsd;
}
