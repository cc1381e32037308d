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
import {
  PLAYBOOK_SELF_HOST_MONTHLY_USD,
  type SelfHostEstimate,
  selfHostBreakEven,
  selfHostName,
  selfHostToJson,
  usdToNano,
} from '../../shared/pricing/self-host';
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
  selfHost?: boolean;
  selfHostMonthlyUsd?: number[];
  selfHostCapacityTokens?: number;
  jobsPerMonth?: number;
  json?: boolean;
}

/** `--self-host-monthly-usd`: a USD amount (up to 9 decimals), as exact integer nano-USD. */
function usdAmount(value: string, previous?: number[]): number[] {
  let nano: number;
  try {
    nano = usdToNano(value);
  } catch {
    throw new InvalidArgumentError('expected a USD amount such as 25000 or 25000.50.');
  }
  if (nano <= 0) throw new InvalidArgumentError('expected an amount above 0.');
  return [...(previous ?? []), nano];
}

/** The self-hosting costs to weigh, or none when no self-hosting flag was given. */
function selfHostCosts(opts: EstimateOptions): number[] | undefined {
  if (opts.selfHostMonthlyUsd?.length) return opts.selfHostMonthlyUsd;
  const asked =
    opts.selfHost || opts.selfHostCapacityTokens !== undefined || opts.jobsPerMonth !== undefined;
  if (!asked) return undefined;
  return [PLAYBOOK_SELF_HOST_MONTHLY_USD.minimum, PLAYBOOK_SELF_HOST_MONTHLY_USD.recommended].map(
    (usd) => usd * 1_000_000_000,
  );
}

const thousands = (n: number) => n.toLocaleString('en-US');

/** The self-hosting section of the table output. */
function renderSelfHost(model: string, e: SelfHostEstimate): string {
  const capacity =
    e.capacityTokensPerMonth === null
      ? 'capacity not limited'
      : `${thousands(e.capacityTokensPerMonth)} tokens a month per deployment`;
  const table = new Table({
    head: [
      'deployment',
      'against',
      'API cost a job',
      'break-even jobs/month',
      'tokens/month',
      'API spend/month',
    ],
    colAligns: ['left', 'left', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  for (const o of e.options)
    for (const b of o.breakEven)
      table.push([
        selfHostName(o.monthlyCostNanoUsd),
        b.model,
        formatUsd(b.perJobNanoUsd),
        b.jobsPerMonth === null ? 'never' : thousands(b.jobsPerMonth),
        b.tokensPerMonth === null ? '' : thousands(b.tokensPerMonth),
        b.apiSpendNanoUsd === null ? (b.reason ?? '') : formatUsd(b.apiSpendNanoUsd),
      ]);
  let text = `Self-hosting ${model} (${thousands(e.tokensPerJob)} tokens a job, ${capacity}): self-hosting is cheaper from the break-even volume on\n${table.toString()}\n`;
  if (e.atVolume) {
    const v = e.atVolume;
    const at = new Table({
      head: ['option', 'cost a month'],
      colAligns: ['left', 'right'],
      style: { head: [], border: [] },
    });
    for (const o of v.options)
      at.push([
        o.deployments !== undefined && o.deployments > 1
          ? `${o.name} x ${o.deployments} deployments`
          : o.name,
        formatUsd(o.costNanoUsd),
      ]);
    text += `At ${thousands(v.jobsPerMonth)} jobs a month (${thousands(v.tokensPerMonth)} tokens), cheapest: ${v.cheapest}\n${at.toString()}\n`;
  }
  return text;
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
  const costs = selfHostCosts(opts);
  const selfHost =
    costs === undefined
      ? undefined
      : selfHostBreakEven(
          {
            at: result.at,
            models: [opts.model, ...(opts.compare ?? [])],
            inputTokens: opts.inputTokens,
            cachedTokens: opts.cachedTokens,
            outputTokens: opts.outputTokens,
            monthlyCostsNanoUsd: costs,
            ...(opts.selfHostCapacityTokens !== undefined
              ? { capacityTokensPerMonth: opts.selfHostCapacityTokens }
              : {}),
            ...(opts.jobsPerMonth !== undefined ? { jobsPerMonth: opts.jobsPerMonth } : {}),
          },
          catalog,
        );
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
      ? `${JSON.stringify({
          ...estimateToJson(result),
          aws,
          ...(selfHost ? { selfHost: selfHostToJson(selfHost) } : {}),
        })}\n`
      : `${renderTable(result)}${awsLine(result.model, aws)}${
          selfHost ? renderSelfHost(result.model, selfHost) : ''
        }`,
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
    .option(
      '--self-host',
      "weigh self-hosting the model's weights against the API: break-even at the playbook's $25,000 (minimum, 8x H100) and $50,000 (recommended, 16x H100) a month",
    )
    .option(
      '--self-host-monthly-usd <usd>',
      'monthly fixed cost of one self-hosted deployment, USD (repeat for several sizes; implies --self-host)',
      usdAmount,
    )
    .option(
      '--self-host-capacity-tokens <n>',
      'tokens (prompt + output) one deployment serves a month (default: not limited); more volume needs more deployments',
      integer(1),
    )
    .option(
      '--jobs-per-month <n>',
      'name the cheapest option (each API model, each deployment) at this monthly volume (implies --self-host)',
      nonNegativeInteger,
    )
    .option('--json', 'print one JSON object instead of a table')
    .addHelpText(
      'after',
      `
Self-hosting: a deployment costs its monthly amount whatever it serves; the API costs per job
(this workload's tokens, at --at's prices). For each deployment size and each API model (the
--model and every --compare), the break-even is the least number of jobs a month whose API
cost reaches the deployment's cost; the API spend at break-even is that cost. With a capacity,
a deployment that cannot serve its own break-even volume never pays off. JSON money is
{"usd": "<decimal>", "nanoUsd": <integer>}.
  warmbatch estimate --model deepseek-chat --at 2026-01-15T00:00:00Z --jobs 1000 \\
    --input-tokens 2000 --output-tokens 2000 --compare gpt-5.4 --self-host --jobs-per-month 1000000

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
