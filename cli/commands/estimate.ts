import Table from 'cli-table3';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { PricingError } from '../../shared/pricing/cost';
import {
  estimateToJson,
  estimateWorkload,
  formatUsd,
  type PricedWorkload,
  type WorkloadEstimate,
} from '../../shared/pricing/estimate';
import { instant } from '../lib/args';
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
  json?: boolean;
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
  deps.io.stdout.write(
    opts.json ? `${JSON.stringify(estimateToJson(result))}\n` : renderTable(result),
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
