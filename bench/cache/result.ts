/**
 * One strategy's run turned into its figures: the bill checked against the simulator's and the
 * workload's counts, priced, and set against the protocol optimum and the true lower bound.
 */
import type { CacheModel } from '../../local/sim/cache';
import type { SimUsageReport } from '../../local/sim/server';
import { DEFAULT_EXECUTOR_OPTIONS } from '../../shared/executor/executor';
import { nanoToUsd } from '../../shared/pricing/estimate';
import { costPer1000Usd, type Pricer, ratio, simulatedSeconds, tally } from './metrics';
import { crossCheck, type RunOutcome, UsageMismatchError } from './runners';
import type { Strategy } from './strategies';

export interface StrategyResult {
  strategy: Strategy;
  /** The strategy as shown: `default` names the mode it resolves to. */
  label: string;
  cacheModel: CacheModel;
  hitTokens: number;
  missTokens: number;
  outputTokens: number;
  requests: number;
  warmupRequests: number;
  /** What the warm-up requests (probes and checks) cost, within `totalCostNanoUsd`. */
  warmupCostNanoUsd: number;
  /** warmupCostNanoUsd / totalCostNanoUsd: the share of the bill spent warming. */
  warmupCostShare: number;
  jobsSucceeded: number;
  jobsFailed: number;
  /** Check probes that found the prefix not served yet (paid, told nothing useful). */
  wastedProbes: number;
  /** The executor's settle time at the end of the run, learned from the calibration on. */
  learnedSettleMs?: number;
  inputCostNanoUsd: number;
  totalCostNanoUsd: number;
  optimumInputCostNanoUsd: number;
  /** The true lower bound (expected, at the miss rate) of the workload's input cost. */
  lowerBoundInputCostNanoUsd: number;
  inputCostUsd: number;
  totalCostUsd: number;
  inputCostToOptimum: number;
  /** Input cost over the true lower bound: what any strategy could still save, at most. */
  inputCostToLowerBound: number;
  /** Would-be hits the simulator's best-effort misses took away, in this run (tokens, requests). */
  bestEffort: { misses: number; lostHitTokens: number };
  /**
   * The input cost with the best-effort misses at their expectation instead of this run's draws
   * (every would-be hit, served or lost, lost with the miss rate): what the run costs on average
   * over the draws, so it compares with the lower bound (an expectation) without the draws' luck.
   */
  inputCostAtExpectedMissesNanoUsd: number;
  inputCostToLowerBoundAtExpectedMisses: number;
  elapsedMs: number;
  simulatedWallSeconds: number;
  /** Filled once naive has run under the same cache model. */
  wallToNaive?: number;
  costPer1000Usd: number;
  /** The same billed tokens priced at `peakAt`, when given. */
  peakTotalCostNanoUsd?: number;
  peakTotalCostUsd?: number;
}

export interface ReferenceCost {
  model: string;
  inputCostUsd: number;
  totalCostUsd: number;
  costPer1000Usd: number;
}

export interface RunFigures {
  strategy: Strategy;
  cacheModel: CacheModel;
  outcome: RunOutcome;
  elapsedMs: number;
  /** What the simulator billed for the run. */
  simUsage: SimUsageReport;
  model: string;
  price: Pricer;
  at: Date;
  peakAt?: Date;
  missRate: number;
  /** The protocol optimum and the true lower bound of the input cost, nano-USD. */
  optimum: number;
  bound: number;
  /** Prompt tokens of each job as the workload counted them. */
  expectedPrompt: ReadonlyMap<string, number>;
  timeScale: number;
  jobs: number;
}

/** The run's figures; throws UsageMismatchError when the bill disagrees with the counts. */
export function strategyResult(input: RunFigures): StrategyResult {
  const { strategy, cacheModel, outcome, simUsage, model, price, at, missRate } = input;
  const { optimum, bound, expectedPrompt, elapsedMs, jobs } = input;
  const label = `${strategy}/${cacheModel}`;
  const t = tally(outcome.usages, model, price, at);
  const warm = tally(outcome.warmupUsages, model, price, at);
  crossCheck(t, simUsage, label);
  // What moving X tokens from the hit to the miss price costs, nano-USD.
  const missPremium = (tokens: number) =>
    price(model, at, {
      promptHitTokens: 0,
      promptMissTokens: tokens,
      completionTokens: 0,
      reasoningTokens: 0,
    }) -
    price(model, at, {
      promptHitTokens: tokens,
      promptMissTokens: 0,
      completionTokens: 0,
      reasoningTokens: 0,
    });
  const lost = simUsage.bestEffort.lostHitTokens;
  const atExpectedMisses = Math.round(
    t.inputCostNano - missPremium(lost) + missRate * missPremium(t.hitTokens + lost),
  );
  for (const [id, prompt] of outcome.promptByJob) {
    if (prompt !== expectedPrompt.get(id))
      throw new UsageMismatchError(
        `${label}: job ${id} was billed ${prompt} prompt tokens, the workload counted ${expectedPrompt.get(id)}`,
      );
  }
  const peakAt = input.peakAt;
  const peak = peakAt ? tally(outcome.usages, model, price, peakAt) : undefined;
  return {
    strategy,
    label: strategy === 'default' ? `default (${DEFAULT_EXECUTOR_OPTIONS.warmup})` : strategy,
    cacheModel,
    hitTokens: t.hitTokens,
    missTokens: t.missTokens,
    outputTokens: t.outputTokens,
    requests: t.requests,
    warmupRequests: outcome.warmupRequests,
    warmupCostNanoUsd: warm.totalCostNano,
    warmupCostShare: t.totalCostNano > 0 ? ratio(warm.totalCostNano, t.totalCostNano) : 0,
    jobsSucceeded: outcome.jobsSucceeded,
    jobsFailed: outcome.jobsFailed,
    wastedProbes: outcome.wastedProbes,
    ...(outcome.learnedSettleMs !== undefined ? { learnedSettleMs: outcome.learnedSettleMs } : {}),
    inputCostNanoUsd: t.inputCostNano,
    totalCostNanoUsd: t.totalCostNano,
    optimumInputCostNanoUsd: optimum,
    lowerBoundInputCostNanoUsd: bound,
    inputCostUsd: nanoToUsd(t.inputCostNano),
    totalCostUsd: nanoToUsd(t.totalCostNano),
    inputCostToOptimum: ratio(t.inputCostNano, optimum),
    inputCostToLowerBound: ratio(t.inputCostNano, bound),
    bestEffort: simUsage.bestEffort,
    inputCostAtExpectedMissesNanoUsd: atExpectedMisses,
    inputCostToLowerBoundAtExpectedMisses: ratio(atExpectedMisses, bound),
    elapsedMs: Math.round(elapsedMs),
    simulatedWallSeconds: Math.round(simulatedSeconds(elapsedMs, input.timeScale)),
    costPer1000Usd: costPer1000Usd(t.totalCostNano, jobs),
    ...(peak
      ? {
          peakTotalCostNanoUsd: peak.totalCostNano,
          peakTotalCostUsd: nanoToUsd(peak.totalCostNano),
        }
      : {}),
  };
}

/**
 * The same jobs on a provider without a cache: each priced on its own, all input at the miss
 * price, with the output the runs produced.
 */
export function referenceCost(
  model: string,
  expectedPrompt: ReadonlyMap<string, number>,
  outputs: ReadonlyMap<string, number>,
  price: Pricer,
  at: Date,
  jobs: number,
): ReferenceCost {
  let input = 0;
  let total = 0;
  for (const [id, prompt] of expectedPrompt) {
    const usage = {
      promptHitTokens: 0,
      promptMissTokens: prompt,
      completionTokens: outputs.get(id) ?? 0,
      reasoningTokens: 0,
    };
    input += price(model, at, { ...usage, completionTokens: 0 });
    total += price(model, at, usage);
  }
  return {
    model,
    inputCostUsd: nanoToUsd(input),
    totalCostUsd: nanoToUsd(total),
    costPer1000Usd: costPer1000Usd(total, jobs),
  };
}
