import Table from 'cli-table3';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  estimateToJson,
  estimateWorkload,
  formatUsd,
  type PricedWorkload,
  type WorkloadEstimate,
} from '../../shared/pricing/estimate';
import { instant } from '../lib/args';

interface EstimateOptions {
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
  const name = priced.peak ? `${label} (peak)` : label;
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
  return `${header}\n${table.toString()}\n`;
}

/** `warmbatch estimate`: prices a workload on a catalog model before running it. */
export function estimateCommand(): Command {
  return new Command('estimate')
    .description(
      'Price a workload on a catalog model (and compare it with others) before running it',
    )
    .requiredOption('--model <id>', 'model to price the workload on')
    .option('--at <time>', 'ISO 8601 time whose prices apply (default: now)', instant)
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
    .action(function (this: Command, opts: EstimateOptions) {
      if (opts.cachedTokens > opts.inputTokens) {
        this.error(
          `error: --cached-tokens (${opts.cachedTokens}) cannot exceed --input-tokens (${opts.inputTokens})`,
        );
      }
      const estimate = estimateWorkload({
        model: opts.model,
        at: opts.at ?? new Date(),
        jobs: opts.jobs,
        inputTokens: opts.inputTokens,
        cachedTokens: opts.cachedTokens,
        outputTokens: opts.outputTokens,
        compare: opts.compare ?? [],
      });
      process.stdout.write(
        opts.json ? `${JSON.stringify(estimateToJson(estimate))}\n` : renderTable(estimate),
      );
    });
}
