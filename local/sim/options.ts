/**
 * The simulator's options: what a caller may set, the ideal defaults that keep tests exact,
 * the realistic ones the benchmark starts from, and what the running server hands back.
 */
import type { Catalog } from '../../shared/pricing/catalog';
import type { BilledTotals } from '../../shared/totals';
import { type CacheModel, UNIT_TOKENS } from './cache';
import { DEFAULT_FAULTS, type SimFaults } from './faults';
import type { SimOutage } from './outage';
import { DEFAULT_QUALITY, type SimQuality } from './quality';
import type { SimMessage } from './render';

export interface SimOptions {
  /** 0 = any free port. */
  port: number;
  host: string;
  seed: number;
  /** Multiplies every simulated delay; 0 = no delays at all. */
  timeScale: number;
  cacheModel: CacheModel;
  /** persisted-units: also persist a unit every this many tokens (at least 64). */
  unitInterval?: number;
  /**
   * A cache entry is usable only this long (x timeScale) after the request that built it: the
   * median of a log-normal draw whose spread is `constructionDelaySpread`.
   */
  constructionDelayMs: number;
  /** Sigma of the log-normal construction delay; 0 = always the median. */
  constructionDelaySpread: number;
  /** Tokens the cache holds; the least recently used entries are evicted past it. */
  capacityTokens?: number;
  /** Latency every prompt token adds, hit or miss (ms per 1,000 tokens, x timeScale). */
  promptLatencyMsPerKToken: number;
  /**
   * A cache (per model and user) idle this long builds entries `factor` times slower for
   * `windowMs` after it wakes; a key never seen before wakes on its first request. Durations are
   * scaled by timeScale like the construction delay.
   */
  slowStart?: { idleMs: number; factor: number; windowMs: number };
  /**
   * Bill a processed request even when its client went away before the answer was written, as
   * a provider does once it has done the work (a worker killed mid-call). Default false.
   */
  billAbandoned: boolean;
  /** Told of every billed response (the harness's per-call bill); never prompts in logs. */
  onBilled?: (call: SimBilledCall) => void;
  /** Cache entries expire this long after they were last built or hit. */
  ttlMs: number;
  /** Best effort: probability that a would-be hit misses. */
  missRate: number;
  /** Accepted bearer keys. */
  apiKeys: string[];
  /** Requests processed at once. */
  concurrencyLimit: number;
  /** Over the limit: 429 with Retry-After, or hold the connection with keep-alives. */
  overload: 'reject' | 'queue';
  faults: SimFaults;
  /** When set, requests answer 402 once billed costs reach it. */
  balanceNanoUsd?: number;
  /** A window in which every chat request answers 503 (local/sim/outage.ts). */
  outage?: SimOutage;
  ttftMs: number;
  outputTokensPerSecond: number;
  /** Prefill speed of missed prompt tokens; hit tokens go HIT_PREFILL_SPEEDUP times faster. */
  prefillMissTokensPerSecond: number;
  /** Epoch milliseconds; drives cache readiness, expiry, `created` and prices. */
  clock?: () => number;
  /** The price catalog the simulator bills with and serves the models of; default built-in. */
  catalog?: Catalog;
  /**
   * Which instant of a request its price is taken at: when the request arrived (`sent`) or the
   * `created` of the response. The pipeline's `pricing.instant` setting, so both agree.
   */
  pricingInstant: 'sent' | 'created';
  /**
   * How good the tests it writes are: the share of broken first answers and of repairs that
   * fix them, with per-model rates (local/sim/quality.ts).
   */
  quality: SimQuality;
}

/** One billed response, as the harness sees it: what was asked and what it cost. */
export interface SimBilledCall {
  id: string;
  model: string;
  messages: SimMessage[];
  maxTokens: number;
  usage: SimTotals;
  /** True when the client had gone before the answer was written (billed anyway). */
  abandoned: boolean;
}

/** What the simulator billed, as a provider reports it: totals without a counterfactual. */
export type SimTotals = BilledTotals;

export interface SimUsageReport {
  totals: SimTotals;
  byModel: Record<string, SimTotals>;
  /** Keyed by `user_id`; requests without one are under the empty key. */
  byUser: Record<string, SimTotals>;
  /**
   * Of the billed responses, those a best-effort miss (`missRate`) turned from a hit into a
   * miss, and the prompt tokens that would have been hits: what the draws cost, for a harness
   * that compares a run with an expectation.
   */
  bestEffort: { misses: number; lostHitTokens: number };
}

/** Options of `startSimulator`: any subset, faults included field by field. */
export type SimStartOptions = Omit<Partial<SimOptions>, 'faults' | 'quality'> & {
  faults?: Partial<SimFaults>;
  quality?: Partial<SimQuality>;
};

/** What `configure` may change on a running simulator. */
export type SimConfigurePatch = Omit<
  Partial<
    Pick<
      SimOptions,
      | 'faults'
      | 'missRate'
      | 'concurrencyLimit'
      | 'overload'
      | 'balanceNanoUsd'
      | 'outage'
      | 'timeScale'
      | 'constructionDelayMs'
      | 'constructionDelaySpread'
      | 'billAbandoned'
      | 'onBilled'
    >
  >,
  'faults'
> & { faults?: Partial<SimFaults>; quality?: Partial<SimQuality> };

export interface SimHandle {
  /** Base URL ending in /v1, for an OpenAI client's `baseURL`. */
  url: string;
  port: number;
  options: SimOptions;
  usage(): SimUsageReport;
  /** Requests being processed now. */
  inFlight(): number;
  /** Clears the cache and the usage report. */
  reset(): void;
  /** Changes faults and load settings of a running simulator; faults merge into the current ones. */
  configure(patch: SimConfigurePatch): void;
  close(): Promise<void>;
}

export const DEFAULT_OPTIONS: SimOptions = {
  port: 8787,
  host: '127.0.0.1',
  seed: 1,
  timeScale: 1,
  cacheModel: 'persisted-units',
  constructionDelayMs: 2000,
  constructionDelaySpread: 0,
  promptLatencyMsPerKToken: 0,
  billAbandoned: false,
  ttlMs: 3_600_000,
  missRate: 0,
  apiKeys: ['sim-key'],
  concurrencyLimit: 2500,
  overload: 'reject',
  faults: DEFAULT_FAULTS,
  ttftMs: 1200,
  outputTokensPerSecond: 32,
  prefillMissTokensPerSecond: 8000,
  pricingInstant: 'sent',
  quality: DEFAULT_QUALITY,
};

/**
 * The most realistic reading of DeepSeek's documentation, where the ideal defaults above keep
 * tests exact: the cache is best effort (a would-be hit misses whole one time in twenty), is
 * built "in seconds" (median 2 s, log-normal spread 0.6: about 0.6-6.5 s for 19 in 20 entries),
 * lives "a few hours" (the low end: 1 hour) in a cache of bounded size, a long prompt answers
 * later even when cached, and a cache left idle builds slower for a while. The benchmark and
 * `warmbatch sim` start from these; every figure is a knob.
 */
export const REALISTIC_OPTIONS = {
  missRate: 0.05,
  constructionDelayMs: 2000,
  constructionDelaySpread: 0.6,
  ttlMs: 3_600_000,
  capacityTokens: 200_000_000,
  promptLatencyMsPerKToken: 20,
  slowStart: { idleMs: 300_000, factor: 3, windowMs: 60_000 },
} as const satisfies SimStartOptions;

/** Cached prompt tokens prefill this many times faster than missed ones. */
export const HIT_PREFILL_SPEEDUP = 20;

/** Every option, defaults filled; refuses the values the server cannot run with. */
export function resolveOptions(options: SimStartOptions): SimOptions {
  const resolved: SimOptions = {
    ...DEFAULT_OPTIONS,
    ...options,
    faults: { ...DEFAULT_FAULTS, ...options.faults },
    quality: { ...DEFAULT_QUALITY, ...options.quality },
  };
  if (resolved.unitInterval !== undefined && resolved.unitInterval < UNIT_TOKENS)
    throw new RangeError(`unitInterval must be at least ${UNIT_TOKENS} tokens`);
  if (resolved.apiKeys.length === 0) throw new RangeError('apiKeys must hold at least one key');
  if (!(resolved.timeScale >= 0)) throw new RangeError('timeScale must be >= 0');
  if (!(resolved.concurrencyLimit >= 1)) throw new RangeError('concurrencyLimit must be >= 1');
  return resolved;
}
