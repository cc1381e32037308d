import Table from 'cli-table3';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MAX_JOBS_PER_MESSAGE } from '../../shared/grouping/plan';
import type { AwsCost } from '../../shared/pricing/aws';
import { PricingError } from '../../shared/pricing/cost';
import {
  estimateToJson,
  estimateWorkload,
  formatUsd,
  type PricedWorkload,
  type WorkloadEstimate,
} from '../../shared/pricing/estimate';
import { pipelineAwsCost } from '../../shared/pricing/overhead';
import { FUNCTIONS } from '../../shared/resources';
import { instant, integer } from '../lib/args';
import { offlineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { EXIT, type ExitCode, UsageError } from '../lib/exit';
import { cliCatalog, type PriceFlags, withPriceOptions } from '../lib/prices';

interface EstimateOptions extends PriceFlags {
  model: string;
  at?: Date;
  jobs: number;
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  compare?: string[];
  providerConcurrency: number;
  json?: boolean;
}

/** The pipeline's own AWS bill beside the model's, as `--json` and the table show it. */
interface AwsOverhead {
  totalNanoUsd: number;
  per1000JobsNanoUsd: number;
  /** AWS / the estimated model cost; null when the model costs nothing. */
  shareOfModelCost: number | null;
  byServiceNanoUsd: Record<string, number>;
  basis: string;
}

function awsOverhead(aws: AwsCost, jobs: number, modelNanoUsd: number): AwsOverhead {
  return {
    totalNanoUsd: aws.totalNanoUsd,
    per1000JobsNanoUsd: jobs === 0 ? 0 : Math.round((aws.totalNanoUsd * 1000) / jobs),
    shareOfModelCost:
      modelNanoUsd === 0 ? null : Number((aws.totalNanoUsd / modelNanoUsd).toPrecision(4)),
    byServiceNanoUsd: aws.byService,
    basis:
      "the pipeline's measured AWS requests per job (npm run bench -- --e2e) and the worker's modelled duration, at us-east-1 list prices",
  };
}

function awsLine(model: string, o: AwsOverhead): string {
  const share =
    o.shareOfModelCost === null
      ? ''
      : ` (${(o.shareOfModelCost * 100).toFixed(1)}% of the ${model} cost)`;
  const services = Object.entries(o.byServiceNanoUsd)
    .map(([name, nano]) => `${name} ${formatUsd(nano)}`)
    .join(', ');
  return `AWS overhead: ${formatUsd(o.totalNanoUsd)}, ${formatUsd(o.per1000JobsNanoUsd)} per 1,000 jobs${share}: ${services}; ${o.basis}\n`;
}

function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('expected a non-negative integer.');
  }
  return n;
}

function row(label: string, priced: PricedWorkload, ratio: string): string[] {
  const c = priced.costNanoUsd;
  const alias = priced.billedAs === priced.model ? '' : ` as ${priced.billedAs}`;
  const name = `${label}${alias}${priced.tier === 'flat' ? '' : ` (${priced.tier})`}`;
  return [
    name,
    formatUsd(c.input),
    formatUsd(c.cached),
    formatUsd(c.output),
    formatUsd(c.total),
    ratio,
  ];
}

function renderTable(estimate: WorkloadEstimate): string {
  const t = estimate.tokens;
  const table = new Table({
    head: ['model', 'uncached input', 'cached input', 'output', 'total', 'x this'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right'],
    // No colours: the table is often piped into files and CI logs.
    style: { head: [], border: [] },
  });
  table.push(row(estimate.model, estimate, '1'));
  for (const c of estimate.compare) {
    table.push(row(c.model, c, c.ratio === null ? 'n/a' : String(c.ratio)));
  }
  const header =
    `${estimate.jobs} jobs at ${estimate.at.toISOString()}: ` +
    `${t.input} uncached input, ${t.cached} cached input, ${t.output} output tokens`;
  const notes = [estimate, ...estimate.compare]
    .filter((p) => p.assumed)
    .map((p) => `note: ${p.model} priced at peak: ${p.assumed}\n`);
  return `${header}\n${table.toString()}\n${notes.join('')}`;
}

/** The JSON error `--json` prints for a model that cannot be priced. */
function errorJson(err: PricingError): string {
  const fields: Record<string, unknown> = { code: err.code, message: err.message };
  for (const key of ['model', 'retiredAt', 'modelsInForce', 'knownModels'] as const)
    if (key in err) fields[key] = (err as unknown as Record<string, unknown>)[key];
  return `${JSON.stringify({ error: fields })}\n`;
}

/** Prices the workload and prints it; a model that cannot be priced is a usage error (exit 2). */
export async function estimate(opts: EstimateOptions, deps: CliDeps): Promise<ExitCode> {
  if (opts.cachedTokens > opts.inputTokens)
    throw new UsageError(
      `--cached-tokens (${opts.cachedTokens}) cannot exceed --input-tokens (${opts.inputTokens})`,
    );
  const catalog = await cliCatalog(opts, { cwd: deps.io.cwd });
  let result: WorkloadEstimate;
  try {
    result = estimateWorkload(
      {
        model: opts.model,
        at: opts.at ?? deps.clock.now(),
        jobs: opts.jobs,
        inputTokens: opts.inputTokens,
        cachedTokens: opts.cachedTokens,
        outputTokens: opts.outputTokens,
        compare: opts.compare ?? [],
      },
      catalog,
    );
  } catch (err) {
    if (!(err instanceof PricingError)) throw err;
    if (opts.json) deps.io.stdout.write(errorJson(err));
    throw new UsageError(`${err.code}: ${err.message}`, { cause: err });
  }
  const aws = awsOverhead(
    pipelineAwsCost(
      {
        jobs: opts.jobs,
        promptTokens: opts.inputTokens,
        cachedTokens: opts.cachedTokens,
        outputTokens: opts.outputTokens,
        providerConcurrency: opts.providerConcurrency,
        jobsPerMessage: DEFAULT_MAX_JOBS_PER_MESSAGE,
        workerMemoryMb: FUNCTIONS.worker.memoryMb,
      },
      result.at,
    ),
    opts.jobs,
    result.costNanoUsd.total,
  );
  deps.io.stdout.write(
    opts.json
      ? `${JSON.stringify({ ...estimateToJson(result), aws })}\n`
      : `${renderTable(result)}${awsLine(result.model, aws)}`,
  );
  return EXIT.ok;
}

/** `warmbatch estimate`: prices a workload on a catalog model before running it. */
export function estimateCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  return withPriceOptions(offlineCommand('estimate', deps))
    .description(
      'Price a workload on a catalog model (and compare it with others) before running it',
    )
    .requiredOption('--model <id>', 'model to price the workload on')
    .option(
      '--at <time>',
      'ISO 8601 time with Z or an offset whose prices apply (default: now)',
      instant,
    )
    .requiredOption('--jobs <n>', 'number of requests', nonNegativeInteger)
    .requiredOption(
      '--input-tokens <n>',
      'prompt tokens per job, cached part included',
      nonNegativeInteger,
    )
    .addOption(
      new Option('--cached-tokens <n>', 'prompt tokens per job served from the cache')
        .argParser(nonNegativeInteger)
        .default(0),
    )
    .requiredOption('--output-tokens <n>', 'completion tokens per job', nonNegativeInteger)
    .option('--compare <id...>', 'other models to price the same tokens on')
    .option(
      '--provider-concurrency <n>',
      "requests a worker keeps in flight, for the AWS overhead's Lambda duration (the stack's providerConcurrency)",
      integer(1),
      50,
    )
    .option('--json', 'print one JSON object instead of a table')
    .addHelpText(
      'after',
      `
Errors name their code: unknown_model (no row names it), model_retired (with the instant it
retired and the models in force), model_not_in_force (not yet priced at --at).

Exit codes:
  0  estimate printed
  2  usage error: bad flag, bad time, a model that cannot be priced at --at
  1  any other error`,
    )
    .action(async (opts: EstimateOptions) =>
      runAction('estimate', deps, () => estimate(opts, deps)),
    );
}
