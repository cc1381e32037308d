// Display helpers for the storefront templates (plain JavaScript, loaded by the legacy pages).

const SYMBOLS = { EUR: '€', USD: '$', GBP: '£' };

/**
 * Formats integer cents for display: formatPrice(123456, 'EUR') -> '€1,234.56'.
 * Negative amounts (refunds) get a leading minus sign.
 */
export function formatPrice(cents, currency) {
  if (!Number.isInteger(cents)) throw new TypeError('cents must be an integer');
  const symbol = SYMBOLS[currency];
  if (!symbol) throw new RangeError(`unsupported currency ${currency}`);
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const units = Math.floor(abs / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const rest = String(abs % 100).padStart(2, '0');
  return `${sign}${symbol}${units}.${rest}`;
}

/** Pluralises a count for labels: pluralize(1, 'item') -> '1 item', pluralize(3, 'item') -> '3 items'. */
export function pluralize(count, noun) {
  return `${count} ${count === 1 ? noun : `${noun}s`}`;
}

/** Shortens a product title to fit a card, cutting at a word boundary and adding an ellipsis. */
export function truncateTitle(title, maxLength = 40) {
  if (title.length <= maxLength) return title;
  const cut = title.slice(0, maxLength - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > maxLength / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
