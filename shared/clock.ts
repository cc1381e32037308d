/** Time source passed in as a dependency so tests can fix or advance it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that returns a fixed time until moved; for tests and simulations. */
export function fixedClock(
  start: Date | string,
): Clock & { set(t: Date | string): void; advance(ms: number): void } {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    set: (v) => {
      t = new Date(v).getTime();
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

/**
 * A clock that reads `start` now and runs on at the pace of real time; `set` and `advance` move
 * it. For a pipeline run "as if at" a stated instant (local runs, end-to-end tests), so prices
 * and peak hours do not depend on the machine's date.
 */
export function runningClock(
  start: Date | string,
): Clock & { set(t: Date | string): void; advance(ms: number): void } {
  let offset = new Date(start).getTime() - Date.now();
  return {
    now: () => new Date(Date.now() + offset),
    set: (v) => {
      offset = new Date(v).getTime() - Date.now();
    },
    advance: (ms) => {
      offset += ms;
    },
  };
}

/** The clock as epoch milliseconds, for code that measures durations and deadlines in ms. */
export const clockMs =
  (clock: Clock): (() => number) =>
  () =>
    clock.now().getTime();

/** The one form of time the CLI and price files accept, for error messages. */
export const ISO_INSTANT_FORM =
  'an ISO 8601 time with an explicit offset or Z, e.g. 2026-11-30T02:00:00Z or 2026-11-30T10:00:00+08:00';

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * Reads an ISO 8601 instant that names its offset (`Z` or `+hh:mm`), or returns undefined.
 * Text without an offset would be read in the host's time zone, and `Date.parse` also takes
 * forms like "Nov 30 2026" and rolls 30 February over into March: both are refused here.
 */
export function parseIsoInstant(text: string): Date | undefined {
  const m = ISO_INSTANT.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s = 0] = m.slice(1, 7).map((v) => Number(v ?? 0)) as number[];
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3) || 0);
  const sign = m[8] === '-' ? -1 : 1;
  const offH = Number(m[9] ?? 0);
  const offM = Number(m[10] ?? 0);
  const year = y as number;
  const month = mo as number;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || (d as number) < 1 || (d as number) > daysInMonth) return undefined;
  if ((h as number) > 23 || (mi as number) > 59 || s > 59 || offH > 14 || offM > 59)
    return undefined;
  const local = Date.UTC(year, month - 1, d as number, h as number, mi as number, s, ms);
  return new Date(local - sign * (offH * 60 + offM) * 60_000);
}
