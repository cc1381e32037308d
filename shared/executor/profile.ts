/**
 * What the executor has measured of a provider's cache, per model and endpoint: how long a
 * prefix takes to become a hit after the request that built it, and how often a prefix that was
 * shown to be warm still misses (the cache is best effort). Nothing here knows the simulator or
 * any provider's figures: the profile starts from a guess that says so, from `warmbatch
 * calibrate`, or from what earlier runs measured (kept in a `CacheProfileStore`), and every
 * check probe and every answer's usage moves it.
 *
 * The settle time is a quantile tracker over upper bounds: each warmed group probes first at
 * `FIRST_PROBE_SHARE` of the current settle time and then at growing waits; the wait at which
 * the cache first served is an upper bound of that prefix's construction delay. The settle time
 * is the `SETTLE_QUANTILE` quantile of the recent upper bounds, so it comes down when the first
 * probe keeps hitting and goes up when it keeps missing, and settles where the first probe hits
 * about that often.
 */

import type { CacheProfileData, CacheProfileStore } from '../ports/profiles';
import type { Sensitivity } from '../types';

export type { CacheProfileData, CacheProfileStore };

/**
 * Used while nothing is measured: DeepSeek documents that building the cache "takes seconds".
 * A guess, marked as such in the profile's `source`; one warmed group replaces it.
 */
export const GUESSED_SETTLE_MS = 1_500;
/** Upper bounds kept: enough for a quantile, few enough to follow a provider that changes. */
export const WINDOW = 24;
/** The settle time is this quantile of the recent upper bounds. */
export const SETTLE_QUANTILE = 0.95;
/** The first check probe goes out at this share of the settle time (so the time can come down). */
export const FIRST_PROBE_SHARE = 0.95;
/** Each further check waits this many times longer, counted from the warm-up. */
export const PROBE_GROWTH = 1.6;
/** Past this share of warm misses, a check says little: a group fans out after the settle time. */
export const CHECK_USELESS_MISS_RATE = 0.5;

export function emptyProfile(key: string, now: Date): CacheProfileData {
  return {
    key,
    readyWithinMs: [],
    warmServed: 0,
    warmMissed: 0,
    probes: 0,
    wastedProbes: 0,
    probeLatencyMs: [],
    updatedAt: now.toISOString(),
    source: 'guess',
  };
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

const push = (list: number[], value: number) => {
  list.push(Math.max(0, Math.round(value)));
  if (list.length > WINDOW) list.splice(0, list.length - WINDOW);
};

/** A profile being learned: read by the executor, moved by what it observes. */
export class CacheProfile {
  readonly data: CacheProfileData;

  constructor(data: CacheProfileData) {
    this.data = structuredClone(data);
  }

  static key(endpoint: string, model: string): string {
    return `${endpoint}|${model}`;
  }

  /** How long after a warm-up the cache is expected to serve its prefix, ms. */
  settleMs(): number {
    const d = this.data.readyWithinMs;
    return d.length === 0 ? GUESSED_SETTLE_MS : quantile(d, SETTLE_QUANTILE);
  }

  /** The waits (ms after the warm-up finished) at which to check the cache, at most `checks`. */
  checkSchedule(checks: number): number[] {
    const first = this.settleMs() * FIRST_PROBE_SHARE;
    return Array.from({ length: checks }, (_, i) => Math.round(first * PROBE_GROWTH ** i));
  }

  /** Share of jobs that missed a prefix the cache had been seen serving (with a weak prior). */
  warmMissRate(): number {
    const { warmServed, warmMissed } = this.data;
    return (warmMissed + 0.5) / (warmServed + warmMissed + 10);
  }

  /** Whether checking before fan-out tells anything: not when warm prefixes miss this often. */
  checkWorthIt(): boolean {
    return this.warmMissRate() < CHECK_USELESS_MISS_RATE;
  }

  /** A check probe `waitedMs` after the warm-up: served or not. */
  observeCheck(waitedMs: number, served: boolean, now: Date): void {
    this.data.probes++;
    if (!served) this.data.wastedProbes++;
    else push(this.data.readyWithinMs, waitedMs);
    this.touch(now);
  }

  /**
   * Every check missed, the last `waitedMs` after the warm-up: the delay is now longer than
   * that. Bounds below it describe a provider that is no longer (it slowed down), so they go,
   * and the next group starts from twice the wait.
   */
  observeNeverServed(waitedMs: number, now: Date): void {
    const kept = this.data.readyWithinMs.filter((ms) => ms >= waitedMs);
    this.data.readyWithinMs.splice(0, this.data.readyWithinMs.length, ...kept);
    push(this.data.readyWithinMs, waitedMs * 2);
    this.touch(now);
  }

  /**
   * An answer's usage, `waitedMs` after its group's warm-up. After a check saw the prefix served,
   * a miss is a best-effort miss. Without a check, a hit sooner than the settle time is an upper
   * bound of the delay.
   */
  observeAnswer(waitedMs: number, served: boolean, verified: boolean, now: Date): void {
    if (verified) {
      if (served) this.data.warmServed++;
      else this.data.warmMissed++;
    } else if (served && waitedMs < this.settleMs()) push(this.data.readyWithinMs, waitedMs);
    this.touch(now);
  }

  /** A warm-up or check probe's round trip, ms. */
  observeProbeLatency(ms: number): void {
    push(this.data.probeLatencyMs, ms);
  }

  private touch(now: Date): void {
    this.data.updatedAt = now.toISOString();
    if (this.data.source === 'guess') this.data.source = 'observed';
  }
}

/** A store in memory (tests, and a process that keeps its profile for its own life). */
export function memoryProfileStore(): CacheProfileStore & {
  profiles: Map<string, CacheProfileData>;
} {
  const profiles = new Map<string, CacheProfileData>();
  return {
    profiles,
    load: async (key) => {
      const p = profiles.get(key);
      return p ? structuredClone(p) : undefined;
    },
    save: async (profile) => {
      profiles.set(profile.key, structuredClone(profile));
    },
  };
}

/**
 * The profiles a call of the executor reads and moves, loaded from a store first and saved back
 * after; a store that fails only costs the measurements (the executor falls back to its guess).
 */
export async function openProfiles(
  store: CacheProfileStore | undefined,
  keys: readonly string[],
  now: Date,
  onError?: (err: unknown) => void,
): Promise<{ get(key: string): CacheProfile; save(): Promise<void> }> {
  const profiles = new Map<string, CacheProfile>();
  for (const key of new Set(keys)) {
    let data: CacheProfileData | undefined;
    try {
      data = await store?.load(key);
    } catch (err) {
      onError?.(err);
    }
    profiles.set(key, new CacheProfile(data ?? emptyProfile(key, now)));
  }
  return {
    get(key) {
      let p = profiles.get(key);
      if (!p) {
        p = new CacheProfile(emptyProfile(key, now));
        profiles.set(key, p);
      }
      return p;
    },
    async save() {
      for (const p of profiles.values()) {
        if (p.data.source === 'guess') continue;
        try {
          await store?.save(p.data);
        } catch (err) {
          onError?.(err);
        }
      }
    },
  };
}

/**
 * The profile a group's calls read and move, by the endpoint its sensitivity routes to and its
 * model: loaded before the group, `save()` after it; a store that fails is logged and skipped.
 */
export async function groupProfile(
  deps: {
    profiles?: CacheProfileStore;
    logger?: { warn(message: string, extra?: Record<string, unknown>): void };
    settings: { endpoints: Partial<Record<Sensitivity, { name: string }>> };
  },
  group: { sensitivity: Sensitivity; model: string },
  now: Date,
): Promise<{ profileFor: () => CacheProfile; save: () => Promise<void> }> {
  const endpoint = deps.settings.endpoints[group.sensitivity]?.name ?? group.sensitivity;
  const key = CacheProfile.key(endpoint, group.model);
  const opened = await openProfiles(deps.profiles, [key], now, (err) =>
    deps.logger?.warn('cache profile not loaded or saved', { error: String(err) }),
  );
  return { profileFor: () => opened.get(key), save: () => opened.save() };
}
