/**
 * Runs the cache benchmark: every strategy under every cache model, each on a fresh in-process
 * simulator, over the same workload; then compares costs to the optimum and wall time to naive.
 */
import { performance } from 'node:perf_hooks';
import type { CacheModel } from '../../local/sim/cache';
import { renderPrompt, TokenInterner } from '../../local/sim/render';
import {
  REALISTIC_OPTIONS,
  DEFAULT_OPTIONS as SIM_DEFAULTS,
  type SimStartOptions,
  startSimulator,
} from '../../local/sim/server';
import { calibrate, DEFAULT_CALIBRATION } from '../../shared/executor/calibrate';
import {
  DEFAULT_EXECUTOR_OPTIONS,
  type ExecGroup,
  type ExecutorOptions,
  type WarmupMode,
} from '../../shared/executor/executor';
import { CacheProfile } from '../../shared/executor/profile';
import { planBatch } from '../../shared/grouping';
import { createLlmClient } from '../../shared/llm';
import { defaultCatalog } from '../../shared/pricing/catalog';
import { requestCost, resolvePrice } from '../../shared/pricing/cost';
import { estimateTokens } from '../../shared/tokens';
import { type BoundPrompt, lowerBoundInputCost } from './bound';
import { type GroupShape, optimumInputCostNano, type Pricer, ratio } from './metrics';
import { type ReferenceCost, referenceCost, type StrategyResult, strategyResult } from './result';

export type { ReferenceCost, StrategyResult };

import { runExecutor, runNaive, sortedByPath } from './runners';
import type { Strategy } from './strategies';
import { type BenchJob, jobCount, type Workload } from './workload';

export { UsageMismatchError } from './runners';
export { CACHE_MODELS, STRATEGIES, type Strategy } from './strategies';

/** Pricing through the project's catalog. */
export const catalogPricer: Pricer = (model, at, usage) =>
  requestCost(model, at, usage).totalNanoUsd;

export interface BenchOptions {
  workload: Workload;
  strategies: readonly Strategy[];
  cacheModels: readonly CacheModel[];
  concurrency: number;
  /** Multiplies every simulated delay; the executor's settle time is scaled by the same factor. */
  timeScale: number;
  /** Requests are priced as if made at this instant. */
  at: Date;
  /** The same tokens are also priced at this (peak) instant; none when absent. */
  peakAt?: Date;
  seed: number;
  /** Simulated cache construction delay (unscaled ms); the simulator's default when absent. */
  constructionDelayMs?: number;
  /** The simulator's best-effort miss rate: a would-be hit misses whole with this probability. */
  missRate?: number;
  /**
   * `realistic` (default): the simulator as REALISTIC_OPTIONS reads DeepSeek's docs (delays
   * spread, best-effort misses, bounded capacity, slow start); `ideal`: exact and never missing.
   */
  simProfile?: 'realistic' | 'ideal';
  /** Output tokens each job may produce. */
  maxOutputTokens: number;
  price?: Pricer;
  /** Executor options over the strategy's (e.g. `shareRoots: false`, to measure what it saves). */
  executor?: Partial<ExecutorOptions>;
  /** Called after each strategy x cache model run, for progress. */
  onRun?: (result: StrategyResult) => void;
}

export interface BenchReport {
  workload: {
    source: Workload['source'];
    model: string;
    groups: number;
    jobs: number;
    prefixTokensMean: number;
    promptTokens: number;
    concurrency: number;
    timeScale: number;
    /** What the calibration measured before the runs (per cache model), the executors' start. */
    calibratedSettleMs: Record<string, number>;
    simProfile: 'realistic' | 'ideal';
    constructionDelayMs: number;
    missRate: number;
    at: string;
    /** The instant the same tokens were also priced at (peak), if any. */
    peakAt?: string;
    seed: number;
    defaultWarmup: WarmupMode;
  };
  results: StrategyResult[];
  /** The same token shape (each job once, its output from the runs) without any caching. */
  reference: {
    promptTokens: number;
    outputTokens: number;
    noCache: ReferenceCost;
    gpt54: ReferenceCost;
  };
}

/** The workload as executor groups, in the planner's order (longest prefix first, radix order). */
export function toExecGroups(workload: Workload, maxOutputTokens: number, at?: Date): ExecGroup[] {
  const byId = new Map<string, { job: BenchJob; group: Workload['groups'][number] }>();
  const plannable = workload.groups.flatMap((group) =>
    group.jobs.map((job) => {
      byId.set(job.jobId, { job, group });
      return {
        jobId: job.jobId,
        prefixKey: group.prefixKey,
        model: group.model,
        sortKey: job.sortKey,
        prefixTokens: estimateTokens(group.prefixMessages.map((m) => m.content).join('\n')),
        uniqueTokens: estimateTokens(job.messages.at(-1)?.content ?? ''),
        maxOutputTokens,
      };
    }),
  );
  const plan = planBatch('cache-bench', plannable);
  if (plan.rejected.length > 0)
    throw new RangeError(`the planner rejected ${plan.rejected.length} bench jobs`);
  return plan.groups.map((planned) => {
    const first = byId.get(planned.jobIds[0] ?? '');
    if (!first) throw new RangeError(`planned group ${planned.prefixKey} has no jobs`);
    const { group } = first;
    const price = at ? resolvePrice(group.model, at, defaultCatalog()) : undefined;
    return {
      ...(price ? { prices: { hit: price.hit, miss: price.miss, output: price.output } } : {}),
      prefixKey: group.prefixKey,
      model: group.model,
      team: 'bench',
      sensitivity: 'public',
      prefixMessages: group.prefixMessages,
      prefixTokens: planned.prefixTokens,
      jobs: planned.jobIds.map((id) => {
        const job = byId.get(id)?.job as BenchJob;
        return { jobId: job.jobId, messages: job.messages, maxTokens: maxOutputTokens };
      }),
    };
  });
}

/**
 * The executor options a strategy runs with: the defaults, whose waits come from the cache
 * profile the executor measures; nothing is taken from the simulator's settings.
 */
export function executorOptionsFor(
  strategy: Exclude<Strategy, 'naive' | 'naive-sorted'>,
  concurrency: number,
): Partial<ExecutorOptions> {
  const warmup = strategy === 'default' ? DEFAULT_EXECUTOR_OPTIONS.warmup : strategy;
  return { ...DEFAULT_EXECUTOR_OPTIONS, warmup, concurrency };
}

/**
 * A fresh simulator under one cache model (its clock at the pricing instant, so what it bills is
 * priced there too), a client on it, and what a deployment has before a batch: a profile of the
 * provider's cache from a calibration against it (a few one-token requests).
 */
async function calibratedSimulator(
  options: BenchOptions,
  cacheModel: CacheModel,
  settings: Partial<SimStartOptions>,
) {
  const offset = options.at.getTime() - Date.now();
  const sim = await startSimulator({
    ...settings,
    port: 0,
    seed: options.seed,
    timeScale: options.timeScale,
    cacheModel,
    clock: () => Date.now() + offset,
  });
  try {
    const llm = createLlmClient({
      public: { name: 'simulator', baseURL: sim.url, apiKey: sim.options.apiKeys[0] ?? '' },
    });
    // One untimed pass first (JIT, connections), so the first strategy timed is not penalised.
    const groups = toExecGroups(options.workload, options.maxOutputTokens, options.at);
    await runNaive(groups.slice(0, 1), llm, options.concurrency, options.seed);
    const calibration = await calibrate(
      { ...DEFAULT_CALIBRATION, model: options.workload.model, endpoint: 'simulator' },
      { llm, now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
    );
    return { sim, llm, calibration };
  } catch (err) {
    await sim.close();
    throw err;
  }
}

/** Runs every strategy under every cache model and reports costs, ratios and the reference. */
export async function runCacheBench(options: BenchOptions): Promise<BenchReport> {
  const price = options.price ?? catalogPricer;
  const { workload, at } = options;
  const groups = toExecGroups(workload, options.maxOutputTokens, at);
  const jobs = jobCount(workload);
  const expectedPrompt = new Map<string, number>();
  for (const g of workload.groups)
    for (const j of g.jobs) expectedPrompt.set(j.jobId, j.promptTokens);
  const shapes: GroupShape[] = workload.groups.map((g) => ({
    model: g.model,
    prefixTokens: g.prefixTokens,
    jobPromptTokens: g.jobs.map((j) => j.promptTokens),
  }));
  const constructionDelayMs = options.constructionDelayMs ?? SIM_DEFAULTS.constructionDelayMs;
  const simProfile = options.simProfile ?? 'realistic';
  const realism = simProfile === 'realistic' ? REALISTIC_OPTIONS : {};
  const missRate =
    options.missRate ?? (simProfile === 'realistic' ? REALISTIC_OPTIONS.missRate : 0);
  const calibratedSettleMs: Record<string, number> = {};
  // Every job's prompt as the simulator renders it: the tree the lower bound is computed over.
  const interner = new TokenInterner();
  const prompts: BoundPrompt[] = workload.groups.flatMap((g) =>
    g.jobs.map((j) => ({ model: g.model, tokens: renderPrompt(j.messages, interner) })),
  );
  // A plain loop over a sorted glob: every job in path order, one group after another.
  const sorted = sortedByPath(workload, groups);
  const results: StrategyResult[] = [];
  const outputs = new Map<string, number>();

  for (const cacheModel of options.cacheModels) {
    const optimum = optimumInputCostNano(shapes, cacheModel, price, at);
    const bound = lowerBoundInputCost(prompts, cacheModel, price, at, missRate).inputCostNano;
    const { sim, llm, calibration } = await calibratedSimulator(options, cacheModel, {
      ...realism,
      missRate,
      constructionDelayMs,
    });
    try {
      calibratedSettleMs[cacheModel] = new CacheProfile(calibration.profile).settleMs();
      for (const strategy of options.strategies) {
        sim.reset();
        const started = performance.now();
        const outcome =
          strategy === 'naive'
            ? await runNaive(groups, llm, options.concurrency, options.seed)
            : strategy === 'naive-sorted'
              ? await runNaive(sorted, llm, options.concurrency, undefined)
              : await runExecutor(
                  groups,
                  llm,
                  { ...executorOptionsFor(strategy, options.concurrency), ...options.executor },
                  calibration.profile,
                );
        const elapsedMs = performance.now() - started;
        const result = strategyResult({
          strategy,
          cacheModel,
          outcome,
          elapsedMs,
          simUsage: sim.usage(),
          model: workload.model,
          price,
          at,
          ...(options.peakAt ? { peakAt: options.peakAt } : {}),
          missRate,
          optimum,
          bound,
          expectedPrompt,
          timeScale: options.timeScale,
          jobs,
        });
        for (const [id, n] of outcome.outputByJob) outputs.set(id, n);
        results.push(result);
        options.onRun?.(result);
      }
    } finally {
      await sim.close();
    }
  }

  for (const r of results) {
    const naive = results.find((n) => n.strategy === 'naive' && n.cacheModel === r.cacheModel);
    if (naive) r.wallToNaive = ratio(r.elapsedMs, naive.elapsedMs);
  }

  const promptTokens = [...expectedPrompt.values()].reduce((a, b) => a + b, 0);
  const outputTokens = [...outputs.values()].reduce((a, b) => a + b, 0);
  const reference = (model: string) =>
    referenceCost(model, expectedPrompt, outputs, price, at, jobs);

  return {
    workload: {
      source: workload.source,
      model: workload.model,
      groups: workload.groups.length,
      jobs,
      prefixTokensMean: Math.round(
        workload.groups.reduce((n, g) => n + g.prefixTokens, 0) / workload.groups.length,
      ),
      promptTokens,
      concurrency: options.concurrency,
      timeScale: options.timeScale,
      calibratedSettleMs,
      simProfile,
      constructionDelayMs,
      missRate,
      at: at.toISOString(),
      ...(options.peakAt ? { peakAt: options.peakAt.toISOString() } : {}),
      seed: options.seed,
      defaultWarmup: DEFAULT_EXECUTOR_OPTIONS.warmup,
    },
    results,
    reference: {
      promptTokens,
      outputTokens,
      noCache: reference(workload.model),
      gpt54: reference('gpt-5.4'),
    },
  };
}
