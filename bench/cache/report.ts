/** Renders a cache benchmark report: the JSON object of `--json`, or a table and a verdict. */
import Table from 'cli-table3';
import { ratio } from './metrics';
import type { BenchReport, StrategyResult } from './run';

/** The one object `--json` prints. */
export function reportJson(report: BenchReport): object {
  return {
    workload: report.workload,
    results: report.results.map((r) => ({
      strategy: r.label,
      cacheModel: r.cacheModel,
      hitTokens: r.hitTokens,
      missTokens: r.missTokens,
      outputTokens: r.outputTokens,
      inputCostUsd: r.inputCostUsd,
      totalCostUsd: r.totalCostUsd,
      inputCostToOptimum: r.inputCostToOptimum,
      inputCostToLowerBound: r.inputCostToLowerBound,
      inputCostToLowerBoundAtExpectedMisses: r.inputCostToLowerBoundAtExpectedMisses,
      bestEffort: r.bestEffort,
      inputCostAtExpectedMissesNanoUsd: r.inputCostAtExpectedMissesNanoUsd,
      wallToNaive: r.wallToNaive ?? null,
      costPer1000Usd: r.costPer1000Usd,
      requests: r.requests,
      warmupRequests: r.warmupRequests,
      warmupCostNanoUsd: r.warmupCostNanoUsd,
      warmupCostShare: r.warmupCostShare,
      jobsSucceeded: r.jobsSucceeded,
      jobsFailed: r.jobsFailed,
      wastedProbes: r.wastedProbes,
      learnedSettleMs: r.learnedSettleMs ?? null,
      inputCostNanoUsd: r.inputCostNanoUsd,
      totalCostNanoUsd: r.totalCostNanoUsd,
      optimumInputCostNanoUsd: r.optimumInputCostNanoUsd,
      lowerBoundInputCostNanoUsd: r.lowerBoundInputCostNanoUsd,
      simulatedWallSeconds: r.simulatedWallSeconds,
      peakTotalCostUsd: r.peakTotalCostUsd ?? null,
      peakTotalCostNanoUsd: r.peakTotalCostNanoUsd ?? null,
    })),
    reference: report.reference,
    verdicts: verdicts(report),
  };
}

/** The issue's bars for the default strategy, per cache model: checkable by a script. */
export interface Verdict {
  cacheModel: string;
  /** Over the protocol optimum: the warm-up protocol's ideal case, per group. */
  inputCostToOptimum: number;
  /** Over the true lower bound: no strategy can go below 1 on average over the miss draws. */
  inputCostToLowerBound: number;
  /** The same with this run's best-effort misses replaced by their expectation. */
  inputCostToLowerBoundAtExpectedMisses: number;
  /** The sorted-order naive run (a loop over a sorted glob) over the lower bound, if it ran. */
  naiveSortedToLowerBound: number | null;
  /** The shuffled naive run over the lower bound, if it ran. */
  naiveToLowerBound: number | null;
  wallToNaive: number | null;
  /** The default's whole bill over naive's, under the same cache model. */
  totalCostToNaive: number | null;
  /** The share of the default's bill spent on warm-up requests. */
  warmupCostShare: number;
  /** Warm-up requests over the workload's groups (2 for a group warmed with a check probe). */
  warmupRequestsPerGroup: number;
  /** At most 1.05x the lower bound of the input cost, best-effort misses at their expectation. */
  costMet: boolean;
  /** At most 1.10x naive's wall time. */
  wallMet: boolean;
  /** What running at `peakAt` instead would cost more, the saving of `preferOffPeak`. */
  offPeakSavingUsd: number | null;
}

export const BARS = { inputCostToLowerBound: 1.05, wallToNaive: 1.1 } as const;

export function verdicts(report: BenchReport): Verdict[] {
  return report.results
    .filter((r) => r.strategy === 'default')
    .map((r) => {
      const naive = report.results.find(
        (n) => n.strategy === 'naive' && n.cacheModel === r.cacheModel,
      );
      const sorted = report.results.find(
        (n) => n.strategy === 'naive-sorted' && n.cacheModel === r.cacheModel,
      );
      return {
        cacheModel: r.cacheModel,
        inputCostToOptimum: r.inputCostToOptimum,
        inputCostToLowerBound: r.inputCostToLowerBound,
        inputCostToLowerBoundAtExpectedMisses: r.inputCostToLowerBoundAtExpectedMisses,
        naiveSortedToLowerBound: sorted?.inputCostToLowerBound ?? null,
        naiveToLowerBound: naive?.inputCostToLowerBound ?? null,
        wallToNaive: r.wallToNaive ?? null,
        totalCostToNaive: naive ? ratio(r.totalCostNanoUsd, naive.totalCostNanoUsd) : null,
        warmupCostShare: r.warmupCostShare,
        warmupRequestsPerGroup: ratio(r.warmupRequests, report.workload.groups),
        // Judged with the best-effort misses at their expectation, as the bound is.
        costMet: r.inputCostToLowerBoundAtExpectedMisses <= BARS.inputCostToLowerBound,
        wallMet: r.wallToNaive !== undefined && r.wallToNaive <= BARS.wallToNaive,
        offPeakSavingUsd:
          r.peakTotalCostNanoUsd === undefined
            ? null
            : (r.peakTotalCostNanoUsd - r.totalCostNanoUsd) / 1e9,
      };
    });
}

const usd = (n: number, digits = 4) => `$${n.toFixed(digits)}`;
const int = (n: number) => n.toLocaleString('en-US');

/** A table of every run, then one line per cache model comparing the default with naive. */
export function reportText(report: BenchReport): string {
  const w = report.workload;
  const table = new Table({
    head: [
      'strategy',
      'cache model',
      'hit',
      'miss',
      'output',
      'input $',
      'total $',
      'input/bound',
      'input/opt',
      'wall/naive',
      'sim wall s',
      '$/1000 jobs',
      'total $ at peak',
    ],
    style: { head: [], border: [] },
  });
  for (const r of report.results)
    table.push([
      r.label,
      r.cacheModel,
      int(r.hitTokens),
      int(r.missTokens),
      int(r.outputTokens),
      usd(r.inputCostUsd),
      usd(r.totalCostUsd),
      r.inputCostToLowerBound.toFixed(3),
      r.inputCostToOptimum.toFixed(3),
      r.wallToNaive === undefined ? '-' : r.wallToNaive.toFixed(3),
      int(r.simulatedWallSeconds),
      usd(r.costPer1000Usd),
      r.peakTotalCostUsd === undefined ? '-' : usd(r.peakTotalCostUsd),
    ]);
  const lines = [
    `workload: ${w.source}, ${w.groups} groups, ${int(w.jobs)} jobs, mean prefix ${int(w.prefixTokensMean)} tokens, ${int(w.promptTokens)} prompt tokens; model ${w.model} priced at ${w.at}`,
    `concurrency ${w.concurrency}, time scale ${w.timeScale} (simulated wall = measured / time scale), simulator ${w.simProfile}: construction delay ${w.constructionDelayMs} ms (scaled), miss rate ${w.missRate}; executor's settle time calibrated at ${Object.entries(
      w.calibratedSettleMs,
    )
      .map(([m, ms]) => `${ms} ms (${m})`)
      .join(', ')} real, then learned`,
    'input/bound: input cost over the true lower bound (every distinct prompt-tree token once at the miss price, every other use at the hit price; expected at the miss rate). input/opt: over the protocol optimum (per group, first job all miss, the prefix a hit for every other job)',
    table.toString(),
  ];
  for (const cacheModel of new Set(report.results.map((r) => r.cacheModel))) {
    const line = verdict(report.results, cacheModel);
    if (line) lines.push(line);
  }
  if (w.peakAt)
    for (const v of verdicts(report))
      if (v.offPeakSavingUsd !== null)
        lines.push(
          `${v.cacheModel}: the default run priced at peak (${w.peakAt}) would cost ${usd(v.offPeakSavingUsd)} more: what preferOffPeak saves on this workload`,
        );
  const ref = report.reference;
  lines.push(
    `reference, the same ${int(ref.promptTokens)} prompt + ${int(ref.outputTokens)} output tokens without caching: ${ref.noCache.model} ${usd(ref.noCache.totalCostUsd)} (${usd(ref.noCache.costPer1000Usd)} per 1000 jobs), ${ref.gpt54.model} ${usd(ref.gpt54.totalCostUsd)} (${usd(ref.gpt54.costPer1000Usd)} per 1000 jobs)`,
  );
  return `${lines.join('\n')}\n`;
}

function verdict(results: readonly StrategyResult[], cacheModel: string): string | undefined {
  const naive = results.find((r) => r.strategy === 'naive' && r.cacheModel === cacheModel);
  const def = results.find((r) => r.strategy === 'default' && r.cacheModel === cacheModel);
  if (!naive || !def) return undefined;
  const saved = 1 - def.totalCostUsd / naive.totalCostUsd;
  return `${cacheModel}: ${def.label} costs ${usd(def.totalCostUsd)} vs naive ${usd(naive.totalCostUsd)} (${(saved * 100).toFixed(1)}% less), input ${def.inputCostToLowerBound.toFixed(3)}x the lower bound vs ${naive.inputCostToLowerBound.toFixed(3)}x (${def.inputCostToOptimum.toFixed(3)}x vs ${naive.inputCostToOptimum.toFixed(3)}x the protocol optimum), wall ${def.wallToNaive?.toFixed(3) ?? '-'}x naive; warm-up ${def.warmupRequests} requests (${def.wastedProbes} checks not served), ${(def.warmupCostShare * 100).toFixed(2)}% of the bill; settle ${def.learnedSettleMs ?? '-'} ms real at the end`;
}
