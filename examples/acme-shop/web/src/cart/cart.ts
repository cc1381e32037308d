import { type Currency, type Money, money, sum } from '../lib/money';

export interface CartLine {
  sku: string;
  unitPrice: Money;
  quantity: number;
}

export interface Cart {
  currency: Currency;
  lines: CartLine[];
}

export class InvalidQuantityError extends Error {
  override name = 'InvalidQuantityError';
}

const SKU = /^[A-Z0-9]+(-[A-Z0-9]+)*$/;

/** An empty cart in a currency. */
export function emptyCart(currency: Currency): Cart {
  return { currency, lines: [] };
}

/** Adds a product, merging with an existing line for the same SKU. Returns a new cart. */
export function addItem(cart: Cart, sku: string, unitPrice: Money, quantity = 1): Cart {
  if (!SKU.test(sku)) throw new Error(`not a SKU: ${sku}`);
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > 99)
    throw new InvalidQuantityError(`quantity must be 1-99, got ${quantity}`);
  const existing = cart.lines.find((l) => l.sku === sku);
  if (!existing) return { ...cart, lines: [...cart.lines, { sku, unitPrice, quantity }] };
  const merged = existing.quantity + quantity;
  if (merged > 99) throw new InvalidQuantityError(`at most 99 of ${sku} per order`);
  return {
    ...cart,
    lines: cart.lines.map((l) => (l.sku === sku ? { ...l, quantity: merged } : l)),
  };
}

/** Removes every unit of a SKU; removing a SKU that is not there is a no-op. */
export function removeItem(cart: Cart, sku: string): Cart {
  return { ...cart, lines: cart.lines.filter((l) => l.sku !== sku) };
}

/** Total before discounts and shipping. */
export function subtotal(cart: Cart): Money {
  return sum(
    cart.lines.map((l) => money(l.unitPrice.cents * l.quantity, l.unitPrice.currency)),
    cart.currency,
  );
}

/** Number of units in the cart, for the header badge. */
export function itemCount(cart: Cart): number {
  return cart.lines.reduce((n, l) => n + l.quantity, 0);
}
