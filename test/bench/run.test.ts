import { describe, expect, it } from 'vitest';
import { reportJson, verdicts } from '../../bench/cache/report';
import { executorOptionsFor, runCacheBench, toExecGroups } from '../../bench/cache/run';
import { syntheticWorkload } from '../../bench/cache/workload';
import { DEFAULT_EXECUTOR_OPTIONS } from '../../shared/executor/executor';

const tiny = () =>
  syntheticWorkload({
    groups: 2,
    filesPerGroup: 4,
    prefixTokens: 1000,
    seed: 3,
    model: 'deepseek-flash',
  });

describe('executorOptionsFor', () => {
  it('takes no settle time from the simulator: the executor measures it', () => {
    const options = executorOptionsFor('prefix-probe', 32);

    expect(options.settleMs).toBeUndefined();
    expect(options.warmup).toBe('prefix-probe');
    expect(options.concurrency).toBe(32);
  });

  it('runs the default strategy with the executor default warm-up', () => {
    expect(executorOptionsFor('default', 8).warmup).toBe(DEFAULT_EXECUTOR_OPTIONS.warmup);
  });
});

describe('toExecGroups', () => {
  it('hands the executor every job once, grouped by prefix', () => {
    const workload = tiny();

    const groups = toExecGroups(workload, 512);

    const ids = groups.flatMap((g) => g.jobs.map((j) => j.jobId)).sort();
    expect(ids).toEqual(workload.groups.flatMap((g) => g.jobs.map((j) => j.jobId)).sort());
    for (const g of groups)
      for (const j of g.jobs) expect(j.messages.slice(0, 3)).toEqual(g.prefixMessages);
  });
});

describe('runCacheBench', () => {
  it('warms the prefix for less input cost than naive, and completes every job', async () => {
    const report = await runCacheBench({
      workload: tiny(),
      strategies: ['naive', 'prefix-probe'],
      cacheModels: ['persisted-units'],
      concurrency: 32,
      timeScale: 0.01,
      at: new Date('2026-11-01T12:00:00Z'),
      seed: 1,
      maxOutputTokens: 512,
      simProfile: 'ideal',
    });

    const [naive, probe] = report.results;
    expect(naive?.strategy).toBe('naive');
    expect(probe?.strategy).toBe('prefix-probe');
    expect(probe?.inputCostNanoUsd).toBeLessThan(naive?.inputCostNanoUsd ?? 0);
    for (const r of report.results) {
      expect(r.jobsSucceeded).toBe(8);
      expect(r.jobsFailed).toBe(0);
    }
    // Per group: the warm-up probe and one check probe that finds the prefix cached.
    expect(probe?.warmupRequests).toBe(4);
    expect(probe?.inputCostToOptimum).toBeLessThan(1.05);
    // The lower bound is one no run can go below, and sits below the protocol optimum.
    for (const r of report.results) {
      expect(r.inputCostToLowerBound).toBeGreaterThanOrEqual(1);
      expect(r.lowerBoundInputCostNanoUsd).toBeLessThanOrEqual(r.optimumInputCostNanoUsd);
    }
    expect(naive?.wallToNaive).toBe(1);
    expect(report.reference.gpt54.totalCostUsd).toBeGreaterThan(
      report.reference.noCache.totalCostUsd,
    );
    const json = reportJson(report) as { results: Array<Record<string, unknown>> };
    expect(Object.keys(json.results[0] ?? {})).toEqual(
      expect.arrayContaining([
        'strategy',
        'cacheModel',
        'hitTokens',
        'missTokens',
        'outputTokens',
        'inputCostUsd',
        'totalCostUsd',
        'inputCostToOptimum',
        'inputCostToLowerBound',
        'wallToNaive',
        'costPer1000Usd',
      ]),
    );
  });

  it('prices the warm-ups apart and compares the default with naive, in the JSON a script reads', async () => {
    const report = await runCacheBench({
      workload: tiny(),
      strategies: ['naive', 'naive-sorted', 'default'],
      cacheModels: ['units64'],
      concurrency: 32,
      timeScale: 0.01,
      at: new Date('2026-11-01T12:00:00Z'),
      seed: 1,
      maxOutputTokens: 512,
      simProfile: 'ideal',
    });

    const [naive, sorted, def] = report.results;
    expect(sorted?.strategy).toBe('naive-sorted');
    expect(sorted?.jobsSucceeded).toBe(8);
    expect(sorted?.warmupRequests).toBe(0);
    expect(naive?.warmupRequests).toBe(0);
    expect(naive?.warmupCostNanoUsd).toBe(0);
    expect(naive?.warmupCostShare).toBe(0);
    // The default warms here (a probe and a check per group): they cost something, not all.
    expect(def?.warmupRequests).toBeGreaterThan(0);
    expect(def?.warmupCostNanoUsd).toBeGreaterThan(0);
    expect(def?.warmupCostNanoUsd).toBeLessThan((def?.totalCostNanoUsd ?? 0) / 2);
    expect(def?.warmupCostShare).toBeCloseTo(
      (def?.warmupCostNanoUsd ?? 0) / (def?.totalCostNanoUsd ?? 1),
      4,
    );
    const json = reportJson(report) as { verdicts: Array<Record<string, unknown>> };
    const [v] = verdicts(report);
    expect(json.verdicts).toEqual([v]);
    expect(v?.totalCostToNaive).toBeCloseTo(
      (def?.totalCostNanoUsd ?? 0) / (naive?.totalCostNanoUsd ?? 1),
      4,
    );
    expect(v?.warmupCostShare).toBe(def?.warmupCostShare);
    expect(v?.inputCostToLowerBound).toBe(def?.inputCostToLowerBound);
    expect(v?.naiveSortedToLowerBound).toBe(sorted?.inputCostToLowerBound);
    expect(v?.naiveToLowerBound).toBe(naive?.inputCostToLowerBound);
    expect(v?.warmupRequestsPerGroup).toBe((def?.warmupRequests ?? 0) / 2);
  });

  it('prices the best-effort misses at their expectation beside the draws of the run', async () => {
    const run = (missRate: number) =>
      runCacheBench({
        workload: tiny(),
        strategies: ['naive', 'prefix-probe'],
        cacheModels: ['persisted-units'],
        concurrency: 32,
        timeScale: 0.01,
        at: new Date('2026-11-01T12:00:00Z'),
        seed: 1,
        maxOutputTokens: 512,
        simProfile: 'ideal',
        missRate,
      });

    const exact = await run(0);
    const lossy = await run(0.3);

    for (const r of exact.results) {
      expect(r.bestEffort).toEqual({ misses: 0, lostHitTokens: 0 });
      expect(r.inputCostAtExpectedMissesNanoUsd).toBe(r.inputCostNanoUsd);
    }
    const probe = lossy.results.find((r) => r.strategy === 'prefix-probe');
    expect(probe?.bestEffort.misses).toBeGreaterThan(0);
    expect(probe?.inputCostAtExpectedMissesNanoUsd).not.toBe(probe?.inputCostNanoUsd);
    expect(lossy.workload.missRate).toBe(0.3);
  });
});
