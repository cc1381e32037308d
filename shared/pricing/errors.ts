/**
 * Why a model cannot be priced at an instant. Each is a code callers act on differently: the
 * planner fails the job with it, the worker records the billed response as unpriced with it,
 * the CLI prints it. None ever prices a request at $0.
 */

import type { PricingErrorCode } from '../types';

export { PRICING_ERROR_CODES, type PricingErrorCode } from '../types';

/** Base of the pricing failures; `code` says which. */
export abstract class PricingError extends Error {
  abstract readonly code: PricingErrorCode;
}

const list = (models: readonly string[]) => (models.length > 0 ? models.join(', ') : 'none');

export class UnknownModelError extends PricingError {
  override readonly name = 'UnknownModelError';
  readonly code = 'unknown_model';
  constructor(
    readonly model: string,
    readonly knownModels: readonly string[],
  ) {
    super(`Unknown model "${model}"; known models: ${list(knownModels)}`);
  }
}

export class ModelRetiredError extends PricingError {
  override readonly name = 'ModelRetiredError';
  readonly code = 'model_retired';
  constructor(
    readonly model: string,
    readonly at: Date,
    readonly retiredAt: Date,
    readonly modelsInForce: readonly string[],
  ) {
    super(
      `Model "${model}" retired at ${retiredAt.toISOString()} and is not priced at ${at.toISOString()}; models in force then: ${list(modelsInForce)}`,
    );
  }
}

export class ModelNotInForceError extends PricingError {
  override readonly name = 'ModelNotInForceError';
  readonly code = 'model_not_in_force';
  constructor(
    readonly model: string,
    readonly at: Date,
    readonly modelsInForce: readonly string[],
  ) {
    super(
      `Model "${model}" has no price in force at ${at.toISOString()} (not yet priced, or between two rows); models in force then: ${list(modelsInForce)}`,
    );
  }
}

export class HolidaysUnknownError extends PricingError {
  override readonly name = 'HolidaysUnknownError';
  readonly code = 'holidays_unknown';
  constructor(
    readonly calendar: string,
    readonly year: number,
  ) {
    super(
      `no ${calendar} holiday list for ${year}: a weekday peak window of ${year} may be a holiday; add the list to a price file (holidays)`,
    );
  }
}
