import { Command, InvalidArgumentError, Option } from 'commander';
import { CACHE_MODELS, STRATEGIES, type Strategy } from '../../bench/cache/strategies';
import { WORKLOADS, type WorkloadName } from '../../bench/cache/workloads';
import { instant, integer, list, number, positive } from '../../cli/lib/args';
import type { CacheModel } from '../../local/sim/cache';
import { KINDS, type Kind } from '../../shared/types';

/** A Sunday noon UTC: off-peak for every model with peak windows, so figures are reproducible. */
export const DEFAULT_BENCH_AT = '2026-11-01T12:00:00Z';
/**
 * A Monday 02:00 UTC (10:00 in Beijing, not a holiday): in DeepSeek's peak window, where the same
 * tokens cost twice as much; the difference is what `preferOffPeak` saves.
 */
export const DEFAULT_BENCH_PEAK_AT = '2026-11-02T02:00:00Z';

interface BenchFlags {
  groups: number;
  files: number;
  prefixTokens: number;
  seed: number;
  corpus?: string;
  groupBy: 'folder' | 'kind';
  kind: Kind;
  strategies: Strategy[];
  cacheModels: CacheModel[];
  concurrency: number;
  model: string;
  at: Date;
  timeScale: number;
  constructionDelayMs: number;
  missRate?: number;
  simProfile: 'realistic' | 'ideal';
  maxOutputTokens: number;
  json?: boolean;
  e2e?: number;
  filesPerProject: number;
  awsLatency?: { min: number; max: number };
  workload: WorkloadName;
  peakAt: Date;
  all?: boolean;
  ciRerun?: boolean;
  changed: number;
  planJobs: number;
  scaleFiles: number;
}

/** `15-30` (uniform) or `20`, in milliseconds. */
function msRange(value: string): { min: number; max: number } {
  const m = /^(\d+)(?:-(\d+))?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected milliseconds, or a range like 15-30');
  const min = Number(m[1]);
  const max = Number(m[2] ?? min);
  if (max < min) throw new InvalidArgumentError('the range must not end before it starts');
  return { min, max };
}

/** `warmbatch bench`: the cache benchmark against the in-process DeepSeek simulator. */
export function benchCommand(): Command {
  const command = new Command('bench')
    .description(
      'Cache benchmark: naive vs warm-up strategies on the same workload, both cache models, against the in-process simulator.',
    )
    .option('--groups <n>', 'synthetic: prefix groups', integer(1), 20)
    .option('--files <n>', 'synthetic: files per group', integer(1), 50)
    .option('--prefix-tokens <n>', 'synthetic: shared prefix tokens per group', integer(0), 3000)
    .option(
      '--seed <n>',
      'seed of the workload, the naive shuffle and the simulator',
      integer(0),
      1,
    )
    .addOption(
      new Option(
        '--workload <name>',
        'synthetic: --groups x --files; tiny-groups: 200 groups of 1-3 files; mixed: group sizes drawn like a real repository; corpus: --corpus <dir>',
      )
        .choices([...WORKLOADS])
        .default('synthetic'),
    )
    .option('--corpus <dir>', 'use the source files of this directory instead (--workload corpus)')
    .addOption(
      new Option('--group-by <how>', 'corpus: group by top-level folder, or by kind')
        .choices(['folder', 'kind'])
        .default('folder'),
    )
    .addOption(
      new Option('--kind <kind>', 'corpus grouped by folder: what to generate')
        .choices([...KINDS])
        .default('docs'),
    )
    .option(
      '--strategies <list>',
      `strategies to run (${STRATEGIES.join(',')})`,
      list(STRATEGIES),
      [...STRATEGIES],
    )
    .option(
      '--cache-models <list>',
      `cache models (${CACHE_MODELS.join(',')})`,
      list(CACHE_MODELS),
      [...CACHE_MODELS],
    )
    .option('--concurrency <n>', 'requests in flight at once', integer(1), 32)
    .option('--model <id>', 'model to request and price', 'deepseek-flash')
    .option(
      '--at <time>',
      'price requests as made at this instant',
      instant,
      new Date(DEFAULT_BENCH_AT),
    )
    .option(
      '--time-scale <x>',
      'multiplies every simulated delay (the executor measures its waits; nothing is scaled for it)',
      positive,
      0.05,
    )
    .option(
      '--construction-delay-ms <ms>',
      'simulated cache construction delay (before scaling)',
      integer(0),
      2000,
    )
    .addOption(
      new Option(
        '--sim-profile <profile>',
        "realistic: the simulator as its REALISTIC_OPTIONS read DeepSeek's docs (spread delays, best-effort misses, bounded capacity, slow start); ideal: exact, never missing",
      )
        .choices(['realistic', 'ideal'])
        .default('realistic'),
    )
    .option(
      '--miss-rate <p>',
      "the simulator's best-effort miss rate (a would-be hit misses whole); the lower bound is its expectation under it",
      number(0, 1),
    )
    .option(
      '--peak-at <time>',
      'also price the same tokens at this (peak) instant: the difference is what preferOffPeak saves',
      instant,
      new Date(DEFAULT_BENCH_PEAK_AT),
    )
    .option('--max-output-tokens <n>', 'max_tokens of each job', integer(1), 4096);
  return withRunModes(command).action(runBench);
}

/** The flags that pick what to run instead of one cache benchmark, and their own settings. */
function withRunModes(command: Command): Command {
  return command
    .option(
      '--all',
      'every workload (synthetic, tiny-groups, mixed, this repository as a real directory) under both cache models, then the CI re-run and the planner at one shard and sharded at --plan-jobs (bench/planner.ts)',
    )
    .option(
      '--ci-rerun',
      'instead: run the e2e workload through the local pipeline, change a seeded share of its files (--changed) and run it again; compare the bills',
    )
    .option('--changed <share>', 'CI re-run: share of files changed', positive, 0.05)
    .option(
      '--plan-jobs <n>',
      'all: jobs of the planning run (bench/planner.ts whole at one shard, sharded at this size)',
      integer(1),
      100_000,
    )
    .option(
      '--scale-files <n>',
      'all: files of the end-to-end run (--e2e) whose AWS overhead is checked against the 5% goal',
      integer(1),
      5_000,
    )
    .option('--json', 'print one JSON object instead of a table')
    .option(
      '--e2e <files>',
      'instead: drop this many files through the whole local pipeline (emulators, handlers, simulator at time scale 0) and measure time, memory, every AWS request and the AWS bill',
      integer(1),
    )
    .option('--files-per-project <n>', 'e2e: files per project (one drop each)', integer(1), 50)
    .option(
      '--aws-latency <ms>',
      "e2e: delay every AWS request this long (ms, or a range like 15-30); the emulators' own latency otherwise",
      msRange,
    );
}

/** Runs what the flags ask: the end-to-end run, the CI re-run, everything, or one cache benchmark. */
async function runBench(flags: BenchFlags): Promise<void> {
  if (flags.e2e !== undefined) return e2e(flags);
  if (!flags.strategies.includes('naive'))
    throw new InvalidArgumentError('--strategies must include naive: ratios are to naive');
  if (flags.ciRerun) return ciRerun(flags);
  if (flags.all) return all(flags);
  // Loaded here, not at the top: `warmbatch --help` need not load the simulator and client.
  const [{ reportJson, reportText }, { runCacheBench }, { workloadNamed }] = await Promise.all([
    import('../../bench/cache/report'),
    import('../../bench/cache/run'),
    import('../../bench/cache/suite'),
  ]);
  const workload = await workloadNamed(flags.corpus ? 'corpus' : flags.workload, flags);
  const report = await runCacheBench({
    ...runOptions(flags),
    workload,
    strategies: flags.strategies,
    onRun: flags.json
      ? undefined
      : (r) => progress(`${r.label} / ${r.cacheModel}: ${r.elapsedMs} ms, ${r.jobsSucceeded} jobs`),
  });
  process.stdout.write(flags.json ? `${JSON.stringify(reportJson(report))}\n` : reportText(report));
  if (report.results.some((r) => r.jobsFailed > 0)) process.exitCode = 1;
}

const progress = (line: string) => process.stderr.write(`  ${line}\n`);

/** What every cache benchmark run takes from the flags. */
function runOptions(flags: BenchFlags) {
  return {
    cacheModels: flags.cacheModels,
    concurrency: flags.concurrency,
    timeScale: flags.timeScale,
    at: flags.at,
    peakAt: flags.peakAt,
    seed: flags.seed,
    constructionDelayMs: flags.constructionDelayMs,
    ...(flags.missRate !== undefined ? { missRate: flags.missRate } : {}),
    simProfile: flags.simProfile,
    maxOutputTokens: flags.maxOutputTokens,
  };
}

/** `bench --all`: every workload, both cache models, then the CI re-run; one report. */
async function all(flags: BenchFlags): Promise<void> {
  const [{ reportJson, reportText, verdicts }, { runAllWorkloads }, rerun, planning, settings] =
    await Promise.all([
      import('../../bench/cache/report'),
      import('../../bench/cache/suite'),
      import('../../bench/e2e/rerun'),
      import('../../bench/e2e/planning'),
      import('../../shared/pipeline/settings'),
    ]);
  // Planning first: it starts its own emulators in children, and fails early if it fails.
  if (!flags.json) progress(`planning ${flags.planJobs} jobs (bench/planner.ts, twice)`);
  const plan = await planning.runPlanning(
    flags.planJobs,
    Math.min(flags.planJobs, settings.DEFAULT_JOBS_PER_SHARD),
  );
  const reports = await runAllWorkloads(
    flags,
    {
      ...runOptions(flags),
      onRun: flags.json
        ? undefined
        : (name, r) => progress(`${name}: ${r.label} / ${r.cacheModel}: ${r.elapsedMs} ms`),
    },
    flags.strategies,
  );
  const reruns = await rerun.runRerun({
    ...rerunOptions(flags),
    onProgress: flags.json ? undefined : progress,
  });
  if (!flags.json) progress(`end to end: ${flags.scaleFiles} files through the local pipeline`);
  const scale = await runScale(flags, flags.scaleFiles);
  const met =
    reports.every((r) => verdicts(r).every((v) => v.costMet && v.wallMet)) &&
    reruns.every((r) => r.met) &&
    plan.fitsPlannerLimits &&
    scale.report.overhead.met;
  if (flags.json)
    process.stdout.write(
      `${JSON.stringify({ workloads: reports.map(reportJson), ciRerun: reruns, planning: plan, e2e: scale.json(), allBarsMet: met })}\n`,
    );
  else
    process.stdout.write(
      `${reports.map(reportText).join('\n')}\n${rerun.rerunText(reruns)}${planning.planningText(plan)}${scale.text()}all bars met: ${met ? 'yes' : 'NO'}\n`,
    );
}

function rerunOptions(flags: BenchFlags) {
  return {
    files: flags.e2e ?? flags.groups * flags.files,
    filesPerProject: flags.files,
    contextTokens: flags.prefixTokens,
    changed: flags.changed,
    seed: flags.seed,
    at: flags.at,
    cacheModels: flags.cacheModels,
  };
}

/** `bench --ci-rerun`: the CI re-run alone. */
async function ciRerun(flags: BenchFlags): Promise<void> {
  const { rerunText, runRerun } = await import('../../bench/e2e/rerun');
  const results = await runRerun({
    ...rerunOptions(flags),
    onProgress: flags.json ? undefined : progress,
  });
  process.stdout.write(
    flags.json ? `${JSON.stringify({ ciRerun: results })}\n` : rerunText(results),
  );
}

/** `bench --e2e <files>`: the end-to-end scale run. */
async function e2e(flags: BenchFlags): Promise<void> {
  const scale = await runScale(flags, flags.e2e as number);
  process.stdout.write(flags.json ? `${JSON.stringify(scale.json())}\n` : scale.text());
}

/** The end-to-end scale run at `files`, with its JSON object and its tables. */
async function runScale(flags: BenchFlags, files: number) {
  const [{ E2E_DEFAULTS, runE2e }, { e2eJson, e2eText }] = await Promise.all([
    import('../../bench/e2e/run'),
    import('../../bench/e2e/report'),
  ]);
  const report = await runE2e({
    files,
    filesPerProject: flags.filesPerProject,
    contextTokens: flags.prefixTokens,
    seed: flags.seed,
    at: flags.at,
    timeScale: E2E_DEFAULTS.timeScale,
    concurrency: { ...E2E_DEFAULTS.concurrency },
    providerConcurrency: E2E_DEFAULTS.providerConcurrency,
    ...(flags.awsLatency ? { awsLatencyMs: flags.awsLatency } : {}),
    onProgress: flags.json ? undefined : progress,
  });
  return { report, json: () => e2eJson(report), text: () => e2eText(report) };
}
