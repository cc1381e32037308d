import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { Command } from 'commander';
import { glob } from 'tinyglobby';
import type { Services } from '../../cli/config';
import { instant, integer, list, number, positive } from '../../cli/lib/args';
import { colourEnabled, header, TABLE_STYLE } from '../../cli/lib/colour';
import { DEFAULT_CONFIG_PATH } from '../../local/runtime/config-file';
import type { Clock } from '../../shared/clock';
import { runningClock } from '../../shared/clock';
import type { ResultsSummary } from '../../shared/pipeline/finalize';
import { resultsPrefixFor } from '../../shared/pipeline/keys';
import type { ObjectStore } from '../../shared/ports/objects';
import type { Catalog } from '../../shared/pricing/catalog';
import { resolvePrice } from '../../shared/pricing/cost';
import { formatUsd } from '../../shared/pricing/estimate';
import { PREFIXES } from '../../shared/resources';
import { KINDS, type Kind } from '../../shared/types';

export const EXAMPLES_DIR = resolve(fileURLToPath(import.meta.url), '../../../examples/acme-shop');
/** This repository (two folders up, from packages/tools/ and from dist/tools/ alike). */
const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
/** The example's shared context: uploaded under intake/<team>/<project>/context/. */
const CONTEXT_FILES = new Set(['STYLE.md']);

interface LocalFlags {
  once: boolean;
  at?: Date;
  examples: string;
  team: string;
  project: string;
  kinds: Kind[];
  timeScale: number;
  simTimeScale: number;
  timeoutS: number;
  s3SqsPort: number;
  dynamodbPort: number;
  configFile: string;
  validate: boolean;
  qualityDir?: string;
  seed: number;
  brokenTestRate: number;
  repairSuccessRate: number;
}

/** Drops the example project into the intake prefix, context first, as a user would with `aws s3 cp`. */
export async function dropExamples(
  objects: ObjectStore,
  flags: Pick<LocalFlags, 'examples' | 'team' | 'project' | 'kinds'>,
): Promise<number> {
  // Every file, dot files included, as forward-slash paths relative to the examples folder.
  const files = (await glob('**', { cwd: flags.examples, onlyFiles: true, dot: true })).sort();
  const base = `intake/${flags.team}/${flags.project}`;
  const sources = files.filter((f) => !CONTEXT_FILES.has(f));
  for (const f of files.filter((f) => CONTEXT_FILES.has(f))) {
    await objects.put(`${base}/context/${f}`, await readFile(join(flags.examples, f)));
  }
  for (const kind of flags.kinds) {
    for (const f of sources)
      await objects.put(`${base}/${kind}/${f}`, await readFile(join(flags.examples, f)));
  }
  return sources.length * flags.kinds.length;
}

/**
 * Returns a reader of the batch summaries finalized since its previous call: each poll lists
 * the results, but reads only the summary.json files it has not read yet.
 */
export function newSummaries(objects: ObjectStore): () => Promise<ResultsSummary[]> {
  const read = new Set<string>();
  return async () => {
    const keys = (await objects.list(PREFIXES.results)).filter(
      (k) => k.endsWith('/summary.json') && !read.has(k),
    );
    const fresh: ResultsSummary[] = [];
    for (const key of keys) {
      const text = await objects.getText(key);
      if (!text) continue;
      read.add(key);
      fresh.push(JSON.parse(text) as ResultsSummary);
    }
    return fresh;
  };
}

/** The sums the closing line reports, in integer nano-USD. */
export function sumSummaries(list: readonly ResultsSummary[]) {
  const sum = (f: (s: ResultsSummary) => number) => list.reduce((n, s) => n + f(s), 0);
  return {
    jobs: sum((s) => s.jobs),
    hit: sum((s) => s.tokens.hit),
    miss: sum((s) => s.tokens.miss),
    cost: sum((s) => s.costNanoUsd),
    warmupCost: sum((s) => s.warmupCostNanoUsd),
    counterfactual: sum((s) => s.counterfactualNanoUsd),
    unpriced: sum((s) => s.unpricedRequests),
    // Summaries written before the AWS overhead existed have none.
    aws: sum((s) => s.awsOverhead?.estimatedNanoUsd ?? 0),
  };
}

/**
 * The summary printed after the examples: a row per batch and a closing line. Warm-up cost
 * (warm-ups, probes, discarded attempts) is shown apart; the GPT-5.4 figure prices the jobs
 * alone, and the savings pay for the warm-ups.
 */
export function summaryText(
  list: readonly ResultsSummary[],
  bucket: string,
  colour = false,
): string {
  const table = new Table({
    style: TABLE_STYLE,
    head: [
      'batch',
      'kind',
      'jobs',
      'ok',
      'failed',
      'cache hit',
      'cost',
      'warm-up',
      'on GPT-5.4',
      'saved',
    ].map((h) => header(h, colour)),
  });
  for (const s of list)
    table.push([
      s.batchId,
      s.kind,
      s.jobs,
      s.states.succeeded + s.states.reused,
      s.states.failed + s.states.skipped_budget + s.states.expired,
      `${(s.cacheHitRatio * 100).toFixed(1)}%`,
      // An unpriced response's cost is unknown, not $0: the cells say so.
      s.unpricedRequests > 0
        ? `${formatUsd(s.costNanoUsd)} + ${s.unpricedRequests} unpriced`
        : formatUsd(s.costNanoUsd),
      formatUsd(s.warmupCostNanoUsd),
      formatUsd(s.counterfactualNanoUsd),
      s.unpricedRequests > 0 ? 'unknown' : formatUsd(s.savingsNanoUsd),
    ]);
  const t = sumSummaries(list);
  const ratio = t.hit + t.miss > 0 ? (t.hit / (t.hit + t.miss)) * 100 : 0;
  const share = t.cost > 0 ? (t.warmupCost / t.cost) * 100 : 0;
  const lines = [
    table.toString(),
    `total: ${t.jobs} jobs, cache hit ratio ${ratio.toFixed(1)}%, cost ${formatUsd(t.cost)}${t.unpriced > 0 ? ` plus ${t.unpriced} unpriced response(s) of unknown cost` : ''} ` +
      `(warm-up ${formatUsd(t.warmupCost)}, ${share.toFixed(1)}% of it) against ` +
      `${formatUsd(t.counterfactual)} for the jobs on GPT-5.4 (saved ${t.unpriced > 0 ? 'unknown until they are priced' : formatUsd(t.counterfactual - t.cost)})`,
    `AWS overhead on top, estimated at list prices: ${formatUsd(t.aws)}${t.cost > 0 ? ` (${((t.aws / t.cost) * 100).toFixed(1)}% of the model cost)` : ''}, ${formatUsd(t.jobs > 0 ? Math.round((t.aws * 1000) / t.jobs) : 0)} per 1,000 jobs`,
    ...(t.unpriced > 0
      ? [
          `${t.unpriced} billed response(s) have no price row yet and are not in the cost: see \`warmbatch costs\``,
        ]
      : []),
    ...list.map(
      (s) =>
        `outputs: s3://${bucket}/${s.outputPrefix}  results: s3://${bucket}/${resultsPrefixFor(s)}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Which price the batches' models had at `at` (the run's clock when their summaries came in; a
 * run that crosses a peak boundary has requests on both sides): DeepSeek bills twice as much in
 * its peak hours, so the same examples cost twice as much then.
 */
export function priceLine(models: readonly string[], at: Date, catalog: Catalog): string {
  const tiers = [...new Set(models)].sort().map((model) => {
    try {
      const { tier } = resolvePrice(model, at, catalog);
      return `${model} ${tier}${tier === 'peak' ? ' (twice the off-peak price: `npm start -- --at <an off-peak instant>` shows the difference)' : ''}`;
    } catch (err) {
      return `${model} not priced (${err instanceof Error ? err.message : String(err)})`;
    }
  });
  return `priced as at ${at.toISOString()}: ${tiers.join('; ')}\n`;
}

function printSummaries(
  list: readonly ResultsSummary[],
  bucket: string,
  prices: { at: Date; catalog: Catalog },
): void {
  const models = list.map((s) => s.model);
  const price = models.length > 0 ? priceLine(models, prices.at, prices.catalog) : '';
  process.stdout.write(
    summaryText(list, bucket, colourEnabled(process.stdout, process.env)) + price,
  );
}

/**
 * Validates the example's generated TS/JS tests with this repository's test runner, repairs
 * what fails through the pipeline, and prints the pass rate and the cost per passing test.
 */
async function validateTests(
  pipeline: { deps: Pick<Services, 'objects' | 'jobs' | 'ledger'> & { clock: Clock } },
  done: readonly ResultsSummary[],
  examples: string,
  workspaces: string | undefined,
): Promise<void> {
  const { validateExamples } = await import('./examples');
  const { renderQuality } = await import('../../cli/lib/quality/report');
  const { deps } = pipeline;
  for (const s of done.filter((d) => d.kind === 'tests' && d.lane === 'primary')) {
    const batch = await deps.jobs.getBatch(s);
    if (!batch) continue;
    const section = await validateExamples({
      services: { objects: deps.objects, jobs: deps.jobs, ledger: deps.ledger, close() {} },
      clock: deps.clock,
      batch,
      examples,
      root: REPO_ROOT,
      ...(workspaces ? { workspaces } : {}),
      write: (text) => process.stdout.write(text),
    });
    if (section)
      process.stdout.write(
        `quality of batch ${batch.batchId} (tests, ${batch.model}):\n${renderQuality(section).join('\n')}\n`,
      );
  }
}

const port = integer(0, 65_535);

async function runLocal(flags: LocalFlags): Promise<void> {
  const examples = resolve(flags.examples);
  if (!(await stat(examples).catch(() => undefined))?.isDirectory())
    throw new Error(`examples folder not found: ${examples}`);
  const deepseekApiKey = process.env.DEEPSEEK_API_KEY || undefined;
  process.stdout.write(
    `starting local AWS emulators (S3+SQS :${flags.s3SqsPort}, DynamoDB :${flags.dynamodbPort}) and ${
      deepseekApiKey ? 'the real DeepSeek API (DEEPSEEK_API_KEY is set)' : 'the DeepSeek simulator'
    }...\n`,
  );
  // Loaded here, not at the top: only this command needs the emulators and the handlers.
  const { startLocalPipeline } = await import('../../local/pipeline');
  // --at runs the pipeline's one clock from a stated instant: prices and peak hours follow it.
  const pipeline = await startLocalPipeline({
    ...(flags.at ? { clock: runningClock(flags.at) } : {}),
    deepseekApiKey,
    timeScale: flags.timeScale,
    ports: { s3Sqs: flags.s3SqsPort, dynamodb: flags.dynamodbPort },
    sim: {
      timeScale: flags.simTimeScale,
      seed: flags.seed,
      quality: {
        brokenTestRate: flags.brokenTestRate,
        repairSuccessRate: flags.repairSuccessRate,
      },
    },
    configPath: flags.configFile,
  });
  const { cleaned } = pipeline.runtime;
  if (cleaned.config)
    process.stdout.write(
      `cleaned up after a run that was killed: removed ${cleaned.config.path} (its pid ${cleaned.config.pid} is gone)${
        cleaned.dynamodbPid === undefined
          ? ''
          : ` and stopped its DynamoDB Local (pid ${cleaned.dynamodbPid})`
      }\n`,
    );
  const { objects } = pipeline.deps;
  const bucket = pipeline.runtime.resources.bucket;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await pipeline.stop();
  };
  process.once('SIGINT', () => {
    process.stdout.write('\nstopping...\n');
    void stop().then(() => process.exit(0));
  });
  try {
    const dropped = await dropExamples(objects, { ...flags, examples });
    process.stdout.write(
      `dropped ${dropped} example files into s3://${bucket}/intake/${flags.team}/${flags.project}/\n`,
    );
    const deadline = Date.now() + flags.timeoutS * 1000;
    const poll = newSummaries(objects);
    const done: ResultsSummary[] = [];
    let last = -1;
    for (;;) {
      done.push(...(await poll()));
      const settled = done.reduce((n, s) => n + s.jobs + s.rejectedInputs, 0);
      if (settled !== last) {
        process.stdout.write(`  ${settled}/${dropped} jobs settled\n`);
        last = settled;
      }
      if (settled >= dropped) break;
      if (Date.now() > deadline)
        throw new Error(`the example batch did not finish within ${flags.timeoutS}s`);
      await sleep(500);
    }
    const pricesNow = async () => ({
      at: pipeline.deps.clock.now(),
      catalog: await pipeline.deps.prices.catalog(),
    });
    printSummaries(done, bucket, await pricesNow());
    if (flags.validate)
      await validateTests(
        pipeline,
        done,
        examples,
        flags.qualityDir ? resolve(flags.qualityDir) : undefined,
      );
    const { s3Sqs } = pipeline.runtime.endpoints;
    process.stdout.write(
      `\nDrop more files (any AWS CLI; credentials: any, region us-east-1):\n` +
        `  aws --endpoint-url ${s3Sqs} s3 cp src/ s3://${bucket}/intake/<team>/<project>/docs/ --recursive\n` +
        `Read outputs:\n  aws --endpoint-url ${s3Sqs} s3 ls s3://${bucket}/outputs/ --recursive\n`,
    );
    if (flags.once) return;
    process.stdout.write('\nserving until Ctrl-C; new batches are summarised as they finish\n');
    for (;;) {
      await sleep(2000);
      const fresh = await poll();
      if (fresh.length > 0) printSummaries(fresh, bucket, await pricesNow());
    }
  } finally {
    await stop();
  }
}

/** `warmbatch local`: the whole pipeline on this machine, run on the bundled examples. */
export function localCommand(): Command {
  return new Command('local')
    .description(
      'run the whole pipeline on this machine (AWS emulators, DeepSeek simulator unless DEEPSEEK_API_KEY is set) on the bundled examples, print the summary, then keep serving',
    )
    .option('--once', 'exit after the example batch instead of serving', false)
    .option(
      '--at <time>',
      'run as if it were this ISO 8601 time (Z or an offset): prices and peak hours follow it (default: now)',
      instant,
    )
    .option('--examples <dir>', 'folder of source files to run first', EXAMPLES_DIR)
    .option('--team <name>', 'team the examples are dropped for', 'acme')
    .option('--project <name>', 'project the examples are dropped for', 'shop')
    .option('--kinds <list>', 'kinds to generate, comma-separated', list(KINDS), [...KINDS])
    .option(
      '--time-scale <n>',
      'scale of Lambda timeouts and batching windows (1 = deployed values)',
      positive,
      0.2,
    )
    .option(
      '--sim-time-scale <n>',
      "scale of the simulator's latencies (1 = DeepSeek's)",
      positive,
      0.05,
    )
    .option(
      '--timeout-s <n>',
      'give up waiting for the example batch after this many seconds',
      positive,
      300,
    )
    .option('--s3-sqs-port <port>', 'port of the S3+SQS emulator (0 picks a free one)', port, 4566)
    .option(
      '--dynamodb-port <port>',
      'port of the DynamoDB emulator (0 picks a free one)',
      port,
      8000,
    )
    .option('--no-validate', "don't run the generated TS/JS tests with vitest (nor repair them)")
    .option(
      '--quality-dir <dir>',
      'folder the generated TS/JS tests are validated in, a folder per batch (default .local/quality in this repository)',
    )
    .option('--seed <n>', "seed of the simulator's draws (faults, broken tests)", integer(0), 2)
    .option(
      '--broken-test-rate <p>',
      "share of the simulator's TS/JS test answers that are broken",
      number(0, 1),
      0.3,
    )
    .option(
      '--repair-success-rate <p>',
      "probability that the simulator's repair of a broken test fixes it",
      number(0, 1),
      0.7,
    )
    .option(
      '--config-file <path>',
      'where to write the config the other commands find (env WARMBATCH_LOCAL_CONFIG)',
      process.env.WARMBATCH_LOCAL_CONFIG || DEFAULT_CONFIG_PATH,
    )
    .action(async (flags: LocalFlags) => {
      await runLocal(flags);
    });
}
