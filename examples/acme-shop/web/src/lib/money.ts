/** Integer-cent money helpers shared by the storefront. */

export type Currency = 'EUR' | 'USD' | 'GBP';

export interface Money {
  cents: number;
  currency: Currency;
}

export class CurrencyMismatchError extends Error {
  override name = 'CurrencyMismatchError';
  constructor(a: Currency, b: Currency) {
    super(`cannot combine ${a} with ${b}`);
  }
}

/** Builds a Money value, refusing fractional cents. */
export function money(cents: number, currency: Currency): Money {
  if (!Number.isInteger(cents)) throw new RangeError(`cents must be an integer, got ${cents}`);
  return { cents, currency };
}

/** Adds amounts of the same currency. */
export function add(a: Money, b: Money): Money {
  if (a.currency !== b.currency) throw new CurrencyMismatchError(a.currency, b.currency);
  return { cents: a.cents + b.cents, currency: a.currency };
}

/** Multiplies by a rate in basis points (1/100 of a percent), rounding half away from zero. */
export function percentOf(amount: Money, basisPoints: number): Money {
  const raw = (amount.cents * basisPoints) / 10_000;
  const rounded = Math.sign(raw) * Math.round(Math.abs(raw));
  return { cents: rounded, currency: amount.currency };
}

/** Sums a list of amounts; an empty list is zero in the given currency. */
export function sum(amounts: readonly Money[], currency: Currency): Money {
  return amounts.reduce((total, m) => add(total, m), money(0, currency));
}
