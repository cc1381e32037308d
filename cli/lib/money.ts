/**
 * Formatting at the edge: amounts stay integer nano-USD until they are printed, so totals are
 * exact and a CSV's rows sum to its total row to the last digit.
 */
import { formatUsd } from '../../shared/pricing/estimate';

/** `$1.4`-style exact dollars for people (every significant digit, no float). */
export function usd(nano: number): string {
  return formatUsd(nano);
}

/**
 * Exact dollars with a fixed number of decimals (9 keeps every nano-USD), no currency sign, for
 * spreadsheets: `1234567` -> `0.001234567`.
 */
export function usdFixed(nano: number, decimals = 9): string {
  if (!Number.isSafeInteger(nano)) throw new RangeError(`not an integer nano-USD amount: ${nano}`);
  if (decimals < 0 || decimals > 9) throw new RangeError('decimals must be 0-9');
  const sign = nano < 0 ? '-' : '';
  const abs = BigInt(Math.abs(nano));
  // Half-up rounding to the requested decimals, in integers.
  const step = 10n ** BigInt(9 - decimals);
  const rounded = ((abs + step / 2n) / step) * step;
  const dollars = rounded / 1_000_000_000n;
  const fraction = (rounded % 1_000_000_000n).toString().padStart(9, '0').slice(0, decimals);
  return decimals === 0 ? `${sign}${dollars}` : `${sign}${dollars}.${fraction}`;
}

/** Share of prompt tokens served from the cache; null when there were none. */
export { cacheHitRatio } from '../../shared/chargeback/report';

/** `0.8123` -> `81.2%`; `n/a` without prompt tokens. */
export function formatRatio(ratio: number | null): string {
  return ratio === null ? 'n/a' : `${(ratio * 100).toFixed(1)}%`;
}

/**
 * One RFC 4180 field: quoted when it holds a comma, quote, CR or LF; quotes doubled. A text
 * cell that a spreadsheet would read as a formula (it begins with `=`, `+`, `-`, `@`, a tab or
 * a carriage return: a tag value, a project name) gets a leading `'`, as OWASP's CSV-injection
 * rule says, so it opens as text; numbers, and text that is only a number, are left as they are.
 */
export function csvField(value: string | number): string {
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s) && !/^[+-]?\d+(\.\d+)?$/.test(s))
    s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** RFC 4180 text: CRLF line ends, header first. */
export function toCsv(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  return `${[header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n')}\r\n`;
}

/** Integer micro-USD per million tokens as exact dollars: `2800` -> `$0.0028`. */
export function usdPerMillion(micro: number): string {
  if (!Number.isSafeInteger(micro))
    throw new RangeError(`not an integer micro-USD price: ${micro}`);
  const dollars = Math.trunc(micro / 1_000_000);
  const fraction = String(micro % 1_000_000)
    .padStart(6, '0')
    .replace(/0+$/, '');
  return `$${dollars}.${fraction.padEnd(2, '0')}`;
}
