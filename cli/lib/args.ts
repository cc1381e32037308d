/**
 * Parsers of option values, for commander's `.option(flags, description, parser)`: a bad value
 * becomes commander's usage error (`error: option '--x <n>' argument 'y' is invalid. expected …`).
 */
import { InvalidArgumentError } from 'commander';
import { ISO_INSTANT_FORM, parseIsoInstant } from '../../shared/clock';

function bounds(min: number, max: number): string {
  return max === Number.POSITIVE_INFINITY ? `of at least ${min}` : `from ${min} to ${max}`;
}

function parsed(value: string, ok: (n: number) => boolean, expected: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !ok(n))
    throw new InvalidArgumentError(`expected ${expected}`);
  return n;
}

/** A number from `min` to `max`, inclusive. */
export function number(min: number, max = Number.POSITIVE_INFINITY) {
  return (value: string): number =>
    parsed(value, (n) => n >= min && n <= max, `a number ${bounds(min, max)}`);
}

/** An integer from `min` to `max`, inclusive. */
export function integer(min: number, max = Number.POSITIVE_INFINITY) {
  return (value: string): number =>
    parsed(
      value,
      (n) => Number.isInteger(n) && n >= min && n <= max,
      `an integer ${bounds(min, max)}`,
    );
}

/** A number above 0. */
export function positive(value: string): number {
  return parsed(value, (n) => n > 0, 'a positive number');
}

/**
 * An ISO 8601 time with an explicit offset or `Z`, e.g. `2026-01-15T12:00:00Z`. Anything else,
 * a time without an offset (which would be read in the host's zone) included, is refused.
 */
export function instant(value: string): Date {
  const at = parseIsoInstant(value);
  if (!at) throw new InvalidArgumentError(`expected ${ISO_INSTANT_FORM}.`);
  return at;
}

/** A comma-separated list whose every item is one of `allowed`. */
export function list<T extends string>(allowed: readonly T[]) {
  return (value: string): T[] => {
    const items = value.split(',').map((s) => s.trim());
    for (const item of items)
      if (!allowed.includes(item as T))
        throw new InvalidArgumentError(
          `${JSON.stringify(item)} is not one of ${allowed.join(', ')} (comma-separated)`,
        );
    return items as T[];
  };
}
