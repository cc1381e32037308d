/**
 * Runs the cache benchmark: every strategy under every cache model, each on a fresh in-process
 * simulator, over the same workload; then compares costs to the optimum and wall time to naive.
 */
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import type { CacheModel } from '../../local/sim/cache';
import { renderPrompt, TokenInterner } from '../../local/sim/render';
import {
  REALISTIC_OPTIONS,
  DEFAULT_OPTIONS as SIM_DEFAULTS,
  type SimUsageReport,
  startSimulator,
} from '../../local/sim/server';
import { calibrate, DEFAULT_CALIBRATION } from '../../shared/executor/calibrate';
import {
  DEFAULT_EXECUTOR_OPTIONS,
  type ExecGroup,
  type ExecutorOptions,
  runGroups,
  type WarmupMode,
} from '../../shared/executor/executor';
import { CacheProfile, type CacheProfileData } from '../../shared/executor/profile';
import { planBatch } from '../../shared/grouping';
import { createLlmClient, type LlmClient, type LlmResponse } from '../../shared/llm';
import { defaultCatalog } from '../../shared/pricing/catalog';
import { requestCost, resolvePrice } from '../../shared/pricing/cost';
import { nanoToUsd } from '../../shared/pricing/estimate';
import { estimateTokens } from '../../shared/tokens';
import type { Usage } from '../../shared/types';
import { type BoundPrompt, lowerBoundInputCost } from './bound';
import {
  costPer1000Usd,
  type GroupShape,
  optimumInputCostNano,
  type Pricer,
  ratio,
  simulatedSeconds,
  type Tally,
  tally,
} from './metrics';
import type { Strategy } from './strategies';
import { type BenchJob, jobCount, seededRandom, shuffled, type Workload } from './workload';

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

interface RunOutcome {
  usages: Usage[];
  warmupRequests: number;
  wastedProbes: number;
  learnedSettleMs?: number;
  /** The warm-up requests' usage, also in `usages`. */
  warmupUsages: Usage[];
  jobsSucceeded: number;
  jobsFailed: number;
  /** Prompt tokens each succeeded job was billed, by job id, to check the workload's counts. */
  promptByJob: Map<string, number>;
  outputByJob: Map<string, number>;
}

function billed(response: LlmResponse): Usage[] {
  return [...response.discarded.map((d) => d.usage), response.usage];
}

function emptyOutcome(): RunOutcome {
  return {
    usages: [],
    warmupRequests: 0,
    wastedProbes: 0,
    warmupUsages: [],
    jobsSucceeded: 0,
    jobsFailed: 0,
    promptByJob: new Map(),
    outputByJob: new Map(),
  };
}

function recordSucceeded(out: RunOutcome, jobId: string, response: LlmResponse): void {
  out.usages.push(...billed(response));
  out.jobsSucceeded++;
  out.promptByJob.set(jobId, response.usage.promptHitTokens + response.usage.promptMissTokens);
  out.outputByJob.set(jobId, response.usage.completionTokens);
}

/**
 * What a user's loop does: every job of every group, all submitted at once under the concurrency
 * limit, shuffled with the seed or (with `seed` undefined) in the order given.
 */
async function runNaive(
  groups: readonly ExecGroup[],
  llm: LlmClient,
  concurrency: number,
  seed: number | undefined,
): Promise<RunOutcome> {
  const all = groups.flatMap((group) => group.jobs.map((job) => ({ group, job })));
  const jobs = seed === undefined ? all : shuffled(all, seededRandom(seed));
  const limit = pLimit(concurrency);
  const out = emptyOutcome();
  const deadline = Date.now() + 3_600_000;
  await Promise.all(
    jobs.map(({ group, job }) =>
      limit(async () => {
        try {
          const response = await llm.complete(
            {
              model: group.model,
              messages: job.messages,
              maxTokens: job.maxTokens,
              sensitivity: group.sensitivity,
              team: group.team,
            },
            { deadline },
          );
          recordSucceeded(out, job.jobId, response);
        } catch {
          out.jobsFailed++;
        }
      }),
    ),
  );
  return out;
}

async function runExecutor(
  groups: readonly ExecGroup[],
  llm: LlmClient,
  options: Partial<ExecutorOptions>,
  start: CacheProfileData,
): Promise<RunOutcome> {
  // One profile for the run, as a worker keeps one per model and endpoint.
  const profile = new CacheProfile(start);
  const reports = await runGroups(
    groups,
    { llm, now: Date.now, deadline: Date.now() + 3_600_000, profileFor: () => profile },
    options,
  );
  const out = emptyOutcome();
  out.wastedProbes = profile.data.wastedProbes;
  out.learnedSettleMs = profile.settleMs();
  for (const report of reports) {
    for (const warmup of report.warmups) {
      if (!warmup.response) continue;
      out.warmupRequests++;
      out.usages.push(...billed(warmup.response));
      out.warmupUsages.push(...billed(warmup.response));
    }
    for (const job of report.jobs) {
      if (job.status === 'succeeded') recordSucceeded(out, job.jobId, job.response);
      else out.jobsFailed++;
    }
  }
  return out;
}

/** The executor's groups re-cut into one job per group, in the order of the jobs' paths. */
function sortedByPath(workload: Workload, groups: readonly ExecGroup[]): ExecGroup[] {
  const groupOf = new Map<string, ExecGroup>();
  for (const g of groups) for (const j of g.jobs) groupOf.set(j.jobId, g);
  return workload.groups
    .flatMap((g) => g.jobs)
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((job) => {
      const group = groupOf.get(job.jobId) as ExecGroup;
      const exec = group.jobs.find((j) => j.jobId === job.jobId) as ExecGroup['jobs'][number];
      return { ...group, jobs: [exec] };
    });
}

/** The responses' totals and the simulator's own report disagree: a billing bug, not a figure. */
export class UsageMismatchError extends Error {
  override name = 'UsageMismatchError';
}

function crossCheck(t: Tally, sim: SimUsageReport, what: string): void {
  const s = sim.totals;
  if (
    s.requests !== t.requests ||
    s.hitTokens !== t.hitTokens ||
    s.missTokens !== t.missTokens ||
    s.outputTokens !== t.outputTokens
  )
    throw new UsageMismatchError(
      `${what}: responses say ${t.requests} requests, ${t.hitTokens} hit, ${t.missTokens} miss, ${t.outputTokens} output tokens; the simulator billed ${s.requests}, ${s.hitTokens}, ${s.missTokens}, ${s.outputTokens}`,
    );
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
    const sim = await startSimulator({
      ...realism,
      missRate,
      port: 0,
      seed: options.seed,
      timeScale: options.timeScale,
      cacheModel,
      constructionDelayMs,
      // The simulator's clock starts at the pricing instant, so what it bills is priced there too.
      clock: (() => {
        const offset = at.getTime() - Date.now();
        return () => Date.now() + offset;
      })(),
    });
    try {
      const llm = createLlmClient({
        public: { name: 'simulator', baseURL: sim.url, apiKey: sim.options.apiKeys[0] ?? '' },
      });
      // One untimed pass first (JIT, connections), so the first strategy timed is not penalised.
      await runNaive(groups.slice(0, 1), llm, options.concurrency, options.seed);
      // What a deployment has before a batch: a profile of the provider's cache, here from a
      // calibration against this simulator (a few one-token requests).
      const calibration = await calibrate(
        { ...DEFAULT_CALIBRATION, model: workload.model, endpoint: 'simulator' },
        { llm, now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
      );
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
        const label = `${strategy}/${cacheModel}`;
        const t = tally(outcome.usages, workload.model, price, at);
        const warm = tally(outcome.warmupUsages, workload.model, price, at);
        const simUsage = sim.usage();
        crossCheck(t, simUsage, label);
        // What moving X tokens from the hit to the miss price costs, nano-USD.
        const missPremium = (tokens: number) =>
          price(workload.model, at, {
            promptHitTokens: 0,
            promptMissTokens: tokens,
            completionTokens: 0,
            reasoningTokens: 0,
          }) -
          price(workload.model, at, {
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
        for (const [id, n] of outcome.outputByJob) outputs.set(id, n);
        const result: StrategyResult = {
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
          ...(outcome.learnedSettleMs !== undefined
            ? { learnedSettleMs: outcome.learnedSettleMs }
            : {}),
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
          simulatedWallSeconds: Math.round(simulatedSeconds(elapsedMs, options.timeScale)),
          costPer1000Usd: costPer1000Usd(t.totalCostNano, jobs),
          ...(options.peakAt
            ? (() => {
                const peak = tally(outcome.usages, workload.model, price, options.peakAt);
                return {
                  peakTotalCostNanoUsd: peak.totalCostNano,
                  peakTotalCostUsd: nanoToUsd(peak.totalCostNano),
                };
              })()
            : {}),
        };
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
  const reference = (model: string): ReferenceCost => {
    // Each job priced on its own, all input at the miss price, as a provider without a cache bills.
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
  };

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
