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

/** The clock as epoch milliseconds, for code that measures durations and deadlines in ms. */
export const clockMs =
  (clock: Clock): (() => number) =>
  () =>
    clock.now().getTime();
