import { Command, InvalidArgumentError, Option } from 'commander';
import { CACHE_MODELS, STRATEGIES, type Strategy } from '../../bench/cache/strategies';
import type { CacheModel } from '../../local/sim/cache';
import { KINDS, type Kind } from '../../shared/types';
import { instant, integer, list, positive } from '../lib/args';

/** A Sunday noon UTC: off-peak for every model with peak windows, so figures are reproducible. */
export const DEFAULT_BENCH_AT = '2026-11-01T12:00:00Z';

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
  maxOutputTokens: number;
  json?: boolean;
}

/** `warmbatch bench`: the cache benchmark against the in-process DeepSeek simulator. */
export function benchCommand(): Command {
  return new Command('bench')
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
    .option('--corpus <dir>', 'use the source files of this directory instead')
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
      'multiplies every simulated delay and the settle time',
      positive,
      0.05,
    )
    .option(
      '--construction-delay-ms <ms>',
      'simulated cache construction delay (before scaling)',
      integer(0),
      2000,
    )
    .option('--max-output-tokens <n>', 'max_tokens of each job', integer(1), 4096)
    .option('--json', 'print one JSON object instead of a table')
    .action(async (flags: BenchFlags) => {
      if (!flags.strategies.includes('naive'))
        throw new InvalidArgumentError('--strategies must include naive: ratios are to naive');
      // Loaded here, not at the top: `warmbatch --help` need not load the simulator and client.
      const [{ reportJson, reportText }, { runCacheBench }, { corpusWorkload, syntheticWorkload }] =
        await Promise.all([
          import('../../bench/cache/report'),
          import('../../bench/cache/run'),
          import('../../bench/cache/workload'),
        ]);
      const workload = flags.corpus
        ? await corpusWorkload({
            dir: flags.corpus,
            model: flags.model,
            groupBy: flags.groupBy,
            kind: flags.kind,
          })
        : syntheticWorkload({
            groups: flags.groups,
            filesPerGroup: flags.files,
            prefixTokens: flags.prefixTokens,
            seed: flags.seed,
            model: flags.model,
          });
      const report = await runCacheBench({
        workload,
        strategies: flags.strategies,
        cacheModels: flags.cacheModels,
        concurrency: flags.concurrency,
        timeScale: flags.timeScale,
        at: flags.at,
        seed: flags.seed,
        constructionDelayMs: flags.constructionDelayMs,
        maxOutputTokens: flags.maxOutputTokens,
        onRun: flags.json
          ? undefined
          : (r) =>
              process.stderr.write(
                `  ${r.label} / ${r.cacheModel}: ${r.elapsedMs} ms, ${r.jobsSucceeded} jobs\n`,
              ),
      });
      process.stdout.write(
        flags.json ? `${JSON.stringify(reportJson(report))}\n` : reportText(report),
      );
      if (report.results.some((r) => r.jobsFailed > 0)) process.exitCode = 1;
    });
}
