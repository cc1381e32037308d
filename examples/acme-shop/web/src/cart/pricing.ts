import type { Money } from '../lib/money';
import { percentOf } from '../lib/money';
import { type Cart, subtotal } from './cart';

export type Promotion =
  | { type: 'percent'; code: string; basisPoints: number; minimumCents: number }
  | { type: 'fixed'; code: string; offCents: number; minimumCents: number };

export class PromotionNotApplicableError extends Error {
  override name = 'PromotionNotApplicableError';
}

/** Discount a promotion gives on a cart; never more than the subtotal. */
export function discountFor(cart: Cart, promotion: Promotion): Money {
  const base = subtotal(cart);
  if (base.cents < promotion.minimumCents)
    throw new PromotionNotApplicableError(
      `${promotion.code} needs a subtotal of at least ${promotion.minimumCents} cents`,
    );
  const off =
    promotion.type === 'percent'
      ? percentOf(base, promotion.basisPoints).cents
      : promotion.offCents;
  return { cents: Math.min(off, base.cents), currency: base.currency };
}

/** Order total: subtotal minus the best applicable promotion, plus shipping. */
export function orderTotal(cart: Cart, promotions: readonly Promotion[], shipping: Money): Money {
  const base = subtotal(cart);
  let best = 0;
  for (const p of promotions) {
    try {
      best = Math.max(best, discountFor(cart, p).cents);
    } catch (err) {
      if (!(err instanceof PromotionNotApplicableError)) throw err;
    }
  }
  return { cents: base.cents - best + shipping.cents, currency: base.currency };
}
