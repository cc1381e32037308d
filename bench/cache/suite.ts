/**
 * The cache benchmark's workloads by name, and `--all`: every workload (the default synthetic
 * one, many tiny groups, sizes drawn like a real repository, a real directory) under both cache
 * rules, judged against the bars (input cost at most 1.05x the optimum, wall at most 1.10x
 * naive's), priced off-peak and at peak, then the CI re-run.
 */
import type { CacheModel } from '../../local/sim/cache';
import { type BenchReport, runCacheBench, type StrategyResult } from './run';
import type { Strategy } from './strategies';
import {
  corpusWorkload,
  mixedShapes,
  shapedWorkload,
  syntheticWorkload,
  tinyGroupShapes,
  type Workload,
} from './workload';

import { WORKLOADS, type WorkloadName } from './workloads';

export { WORKLOADS, type WorkloadName };

export interface WorkloadFlags {
  groups: number;
  files: number;
  prefixTokens: number;
  seed: number;
  model: string;
  corpus?: string;
  groupBy: 'folder' | 'kind';
  kind: 'docs' | 'tests';
}

/** The directory `--all` uses as its real one: this repository (its sources and README). */
export const REAL_DIRECTORY = '.';

/** Builds a named workload; `corpus` reads `flags.corpus` (or the real directory). */
export async function workloadNamed(name: WorkloadName, flags: WorkloadFlags): Promise<Workload> {
  const common = { seed: flags.seed, model: flags.model };
  switch (name) {
    case 'tiny-groups':
      return shapedWorkload({ ...common, source: name, shapes: tinyGroupShapes(flags.seed) });
    case 'mixed':
      return shapedWorkload({ ...common, source: name, shapes: mixedShapes(flags.seed) });
    case 'corpus':
      return corpusWorkload({
        dir: flags.corpus ?? REAL_DIRECTORY,
        model: flags.model,
        groupBy: flags.groupBy,
        kind: flags.kind,
      });
    default:
      return syntheticWorkload({
        ...common,
        groups: flags.groups,
        filesPerGroup: flags.files,
        prefixTokens: flags.prefixTokens,
      });
  }
}

export interface SuiteRunOptions {
  concurrency: number;
  timeScale: number;
  at: Date;
  peakAt: Date;
  seed: number;
  constructionDelayMs: number;
  missRate?: number;
  simProfile?: 'realistic' | 'ideal';
  maxOutputTokens: number;
  cacheModels: readonly CacheModel[];
  onRun?: (workload: string, result: StrategyResult) => void;
}

/**
 * Every workload: the default one with every strategy (the table docs/benchmarks.md keeps),
 * the others with naive, prefix-probe (always warm) and the default.
 */
export async function runAllWorkloads(
  flags: WorkloadFlags,
  options: SuiteRunOptions,
  strategies: readonly Strategy[],
): Promise<BenchReport[]> {
  const reports: BenchReport[] = [];
  for (const name of WORKLOADS) {
    const workload = await workloadNamed(name, flags);
    reports.push(
      await runCacheBench({
        workload,
        strategies:
          name === 'synthetic'
            ? strategies
            : (['naive', 'naive-sorted', 'prefix-probe', 'default'] as const),
        cacheModels: options.cacheModels,
        concurrency: options.concurrency,
        timeScale: options.timeScale,
        at: options.at,
        peakAt: options.peakAt,
        seed: options.seed,
        constructionDelayMs: options.constructionDelayMs,
        ...(options.missRate !== undefined ? { missRate: options.missRate } : {}),
        ...(options.simProfile ? { simProfile: options.simProfile } : {}),
        maxOutputTokens: options.maxOutputTokens,
        onRun: (r) => options.onRun?.(name, r),
      }),
    );
  }
  return reports;
}
