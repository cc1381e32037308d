/**
 * What a running simulator remembers between requests, all of it cleared by `reset`: the prompt
 * cache and when its entries become usable, the seeded draws, and the usage report.
 */
import { addTotals, zeroBilledTotals } from '../../shared/totals';
import { PromptCache } from './cache';
import type { SimOptions, SimTotals, SimUsageReport } from './options';
import { createPrng } from './prng';

function emptyReport(): SimUsageReport {
  return {
    totals: zeroBilledTotals(),
    byModel: {},
    byUser: {},
    bestEffort: { misses: 0, lostHitTokens: 0 },
  };
}

export class SimState {
  cache: PromptCache;
  /** Fault and miss outcomes, a fixed number of draws per request. */
  prng: () => number;
  report: SimUsageReport = emptyReport();
  private counter = 0;
  // The construction delay's draws come from a stream of their own, so a spread leaves the
  // sequence of fault and miss outcomes of a seed as it was.
  private readonly delaySeed: number;
  private delayPrng: () => number;
  /** Per cache key: its last request, and when it last woke from idle. */
  private lastSeen = new Map<string, { at: number; wokeAt: number }>();

  constructor(private readonly opts: SimOptions) {
    this.cache = this.newCache();
    this.prng = createPrng(opts.seed);
    this.delaySeed = (opts.seed ^ 0x5bd1e995) >>> 0;
    this.delayPrng = createPrng(this.delaySeed);
  }

  /** A simulated duration in real milliseconds, at the current time scale. */
  scaled(ms: number): number {
    return ms * this.opts.timeScale;
  }

  /** A response id unique to this server run. */
  nextId(nonce: string): string {
    return `chatcmpl-${nonce}-${++this.counter}`;
  }

  /** The construction delay of an entry built now under `key`, before scaling. */
  constructionDelay(key: string, now: number): number {
    let delay = this.opts.constructionDelayMs;
    if (this.opts.constructionDelaySpread > 0) {
      const u1 = Math.max(this.delayPrng(), 1e-12);
      const u2 = this.delayPrng();
      const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      delay *= Math.exp(this.opts.constructionDelaySpread * normal);
    }
    const slow = this.opts.slowStart;
    if (slow) {
      const seen = this.lastSeen.get(key);
      const wokeAt =
        seen === undefined || now - seen.at >= this.scaled(slow.idleMs) ? now : seen.wokeAt;
      this.lastSeen.set(key, { at: now, wokeAt });
      if (now - wokeAt < this.scaled(slow.windowMs)) delay *= slow.factor;
    }
    return delay;
  }

  /** Adds a billed response to the totals, its model's and its user's. */
  bill(model: string, user: string, usage: SimTotals): void {
    this.report.byModel[model] ??= zeroBilledTotals();
    this.report.byUser[user] ??= zeroBilledTotals();
    for (const into of [this.report.totals, this.report.byModel[model], this.report.byUser[user]])
      addTotals(into, usage);
  }

  /** Clears the cache and the usage report, and restarts the seeded draws. */
  reset(): void {
    this.cache = this.newCache();
    this.report = emptyReport();
    this.prng = createPrng(this.opts.seed);
    this.delayPrng = createPrng(this.delaySeed);
    this.lastSeen = new Map();
  }

  private newCache(): PromptCache {
    return new PromptCache({
      model: this.opts.cacheModel,
      unitInterval: this.opts.unitInterval,
      ttlMs: this.opts.ttlMs,
      ...(this.opts.capacityTokens !== undefined
        ? { capacityTokens: this.opts.capacityTokens }
        : {}),
    });
  }
}
