/**
 * Amortised warm-up: each job answer carries its share of its prefix group's overhead (the
 * warm-ups and cache probes sent for the group, and attempts the client discarded), pro rata by
 * prompt tokens, so a project's cost per file includes what it took to warm the cache.
 *
 * The split moves money only between records of one team, batch and prefix group, whatever the
 * day they were sent (a batch that crosses midnight UTC shares its warm-up with the jobs sent
 * after it), and is exact in integer nano-USD (largest remainder), so totals per team (and per
 * project, model, kind and tag) are the same in both views; a day's total can move to the day
 * its group's jobs ran. Overhead whose group has no priced job answer stays where it is.
 */
import { type CostRecord, isModelOverhead } from '../ports/ledger';

/** A record's share of overhead: what the amortised view moves to or from it. */
export interface Amortised {
  record: CostRecord;
  /**
   * On a job answer: its share of the group's overhead (>= 0). On overhead that was shared out:
   * minus its own cost. Otherwise 0.
   */
  warmupShareNanoUsd: number;
  /** `costNanoUsd + warmupShareNanoUsd`: the record's cost in the amortised view. */
  amortisedCostNanoUsd: number;
}

/** Records that share overhead: one team's batch, one prefix group (not one UTC day). */
const poolKey = (r: CostRecord) => JSON.stringify([r.team, r.batchId, r.group ?? '']);

const isRecipient = (r: CostRecord) => r.purpose === 'job' && r.unpriced === undefined;

/**
 * Splits `pool` over `weights` in integers that add up to `pool` exactly: each gets the floor of
 * its pro rata part, and the units left go to the largest remainders (ties: the earlier index).
 * All-zero weights split evenly.
 */
export function splitExactly(pool: number, weights: readonly number[]): number[] {
  if (weights.length === 0) return [];
  const w = weights.some((x) => x > 0) ? weights.map(BigInt) : weights.map(() => 1n);
  const total = w.reduce((a, b) => a + b, 0n);
  const p = BigInt(pool);
  const parts = w.map((x) => (p * x) / total);
  const rest = w.map((x, i) => ({ i, r: p * x - (parts[i] as bigint) * total }));
  let left = p - parts.reduce((a, b) => a + b, 0n);
  rest.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of rest) {
    if (left <= 0n) break;
    parts[i] = (parts[i] as bigint) + 1n;
    left -= 1n;
  }
  return parts.map(Number);
}

/**
 * Each record with its share of overhead, in the order given. Pass whole batches of a team (or
 * more): a pool split over part of its job answers would put all of its overhead on them.
 */
export function amortise(records: readonly CostRecord[]): Amortised[] {
  const pools = new Map<string, { overhead: number[]; jobs: number[] }>();
  records.forEach((r, i) => {
    const key = poolKey(r);
    let pool = pools.get(key);
    if (!pool) {
      pool = { overhead: [], jobs: [] };
      pools.set(key, pool);
    }
    if (isModelOverhead(r.purpose)) pool.overhead.push(i);
    else if (isRecipient(r)) pool.jobs.push(i);
  });
  const share = new Array<number>(records.length).fill(0);
  for (const pool of pools.values()) {
    if (pool.jobs.length === 0) continue;
    const overhead = pool.overhead.reduce(
      (sum, i) => sum + (records[i] as CostRecord).costNanoUsd,
      0,
    );
    if (overhead === 0) continue;
    const weights = pool.jobs.map((i) => {
      const u = (records[i] as CostRecord).usage;
      return u.promptHitTokens + u.promptMissTokens;
    });
    const parts = splitExactly(overhead, weights);
    pool.jobs.forEach((i, k) => {
      share[i] = parts[k] as number;
    });
    for (const i of pool.overhead) share[i] = -(records[i] as CostRecord).costNanoUsd;
  }
  return records.map((record, i) => ({
    record,
    warmupShareNanoUsd: share[i] as number,
    amortisedCostNanoUsd: record.costNanoUsd + (share[i] as number),
  }));
}
