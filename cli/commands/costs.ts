import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { parseDimensions, WARMUP_VIEWS, type WarmupView } from '../../shared/chargeback/dimensions';
import { focusRows } from '../../shared/chargeback/focus';
import { dayRange, monthRange } from '../../shared/chargeback/period';
import { queryChargeback, queryDetail, queryRecords } from '../../shared/chargeback/query';
import { repriceMonth, rerecordQuality } from '../../shared/pipeline/reprice';
import { parseTag } from '../../shared/tags';
import { LANES, type Lane } from '../../shared/types';
import { list } from '../lib/args';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { costsJson, renderCostsCsv, renderCostsTable } from '../lib/costs';
import { renderDetail, renderFocusCsv } from '../lib/costs-detail';
import { renderCostsHtml } from '../lib/costs-html';
import { EXIT, type ExitCode, UsageError } from '../lib/exit';
import { cliCatalog, type PriceFlags, stackPricing, withPriceOptions } from '../lib/prices';

export interface CostsFlags {
  month?: string;
  from?: string;
  to?: string;
  team?: string;
  project?: string;
  model?: string;
  /** Only these lanes; default all. */
  lanes?: Lane[];
  /** `key=value`, repeatable: only spend carrying every such tag. */
  tag?: string[];
  by: string;
  format: 'table' | 'csv' | 'json' | 'html' | 'focus';
  /** Write the report to this file instead of stdout (required with --format html). */
  out?: string;
  warmup: WarmupView;
  detail?: boolean;
  config?: string;
}

/** The months a report covers: `--month`, `--from`/`--to`, or the current UTC month. */
export function monthsOf(flags: Partial<CostsFlags>, now: Date): string[] {
  return dayRange(flags, now).months;
}

/** `--tag k=v` flags as a tag filter. */
function tagFilter(tags: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) {
    try {
      const [k, v] = parseTag(t);
      out[k] = v;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return out;
}

/** The flags' usage problems the query cannot see: output formats that do not go together. */
function checkFormat(flags: CostsFlags): void {
  if (flags.format === 'html' && flags.out === undefined)
    throw new UsageError('--format html writes a file: add --out report.html');
  if (flags.format === 'focus' && (flags.detail || flags.warmup === 'amortised'))
    throw new UsageError(
      '--format focus writes one FOCUS row per priced cost record: leave out --detail and --warmup amortised',
    );
  if (flags.format === 'html' && flags.detail)
    throw new UsageError('--detail lists records as table, csv or json, not html');
}

/**
 * Prints the chargeback report: the query (shared/chargeback/query.ts) reads roll-ups where
 * they answer and cost records otherwise; this renders its result. With `--detail` the cost
 * records themselves; with `--format focus` FOCUS rows; with `--format html` a page to look at.
 */
export async function costs(flags: CostsFlags, deps: CliDeps): Promise<ExitCode> {
  const range = dayRange(flags, deps.clock.now());
  const by = parseDimensions(flags.by);
  checkFormat(flags);
  const filters = {
    ...(flags.team !== undefined ? { team: flags.team } : {}),
    ...(flags.project !== undefined ? { project: flags.project } : {}),
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    ...(flags.lanes !== undefined ? { lanes: flags.lanes } : {}),
    tags: tagFilter(flags.tag),
  };
  const services = await deps.connect(flags);
  try {
    const emit = async (text: string) => {
      if (flags.out === undefined) deps.io.stdout.write(text);
      else await writeFile(resolve(deps.io.cwd, flags.out), text);
    };
    if (flags.format === 'focus') {
      const records = await queryRecords(services.ledger, range, filters);
      const { rows, unpriced } = focusRows(records, services.bucket ?? 'warmbatch');
      await emit(renderFocusCsv(rows));
      if (unpriced > 0)
        deps.io.stderr.write(
          `UNPRICED: ${unpriced} billed response(s) have no cost yet (unknown, not zero) and are not in the FOCUS rows; price them, then run \`warmbatch costs reprice\`\n`,
        );
      return EXIT.ok;
    }
    if (flags.detail) {
      const shares = await queryDetail(services.ledger, range, filters);
      await emit(renderDetail(shares, flags.format as 'table' | 'csv' | 'json'));
      return EXIT.ok;
    }
    const html = flags.format === 'html';
    const { report, series } = await queryChargeback(services.ledger, {
      range,
      by,
      warmup: flags.warmup,
      ...filters,
      series: html,
    });
    if (html && series) {
      await emit(renderCostsHtml(report, series, { generatedAt: deps.clock.now().toISOString() }));
      deps.io.stdout.write(`wrote ${flags.out}\n`);
      return EXIT.ok;
    }
    const render = { table: renderCostsTable, csv: renderCostsCsv, json: costsJson }[
      flags.format as 'table' | 'csv' | 'json'
    ];
    await emit(render(report));
    return EXIT.ok;
  } finally {
    services.close();
  }
}

export interface RepriceFlags extends PriceFlags {
  month: string;
  json?: boolean;
  config?: string;
  /** The stack's cdk.json, whose `context.warmbatch.pricing` the functions price with. */
  stackConfig?: string;
}

/**
 * Prices the month's unpriced records with the catalog as it is now (built-in rows, the
 * deployment's config/prices.json, `--prices`), each at the instant it was to be priced at.
 * Running it again changes nothing.
 */
export async function reprice(flags: RepriceFlags, deps: CliDeps): Promise<ExitCode> {
  const [month] = monthRange(flags.month, flags.month);
  const services = await deps.connect(flags);
  try {
    // Priced exactly as the worker would: the stack's own V4.1 switch instant and price rows.
    const stack = await stackPricing(deps.io.cwd, flags.stackConfig);
    const catalog = await cliCatalog(flags, {
      cwd: deps.io.cwd,
      deployment: services,
      ...(stack ? { stack } : {}),
    });
    const result = await repriceMonth(services.ledger, catalog, month as string);
    // Job costs changed: the batches' quality figures are recorded again from them.
    const rerecorded = await rerecordQuality(services.objects, result.batches, async (b) => {
      const item = await services.jobs.getBatch(b);
      const origin = item?.repairOf?.origin ?? item?.shadowOf;
      return origin ? { team: b.team, batchId: origin } : undefined;
    });
    if (flags.json)
      deps.io.stdout.write(
        `${JSON.stringify({ month, ...result, verdictsRecordedAgain: rerecorded.length })}\n`,
      );
    else {
      const reasons = [...new Set(result.stillUnpriced.map((r) => `${r.model} (${r.reason})`))];
      deps.io.stdout.write(
        `${month}: repriced ${result.repriced} record(s)` +
          (result.alreadyPriced > 0 ? `, ${result.alreadyPriced} priced by another run` : '') +
          `; ${result.stillUnpriced.length} still unpriced${reasons.length > 0 ? `: ${reasons.join(', ')}` : ''}` +
          (rerecorded.length > 0
            ? `; quality of ${rerecorded.length} batch(es) recorded again from the priced jobs`
            : '') +
          '\n',
      );
    }
    return EXIT.ok;
  } finally {
    services.close();
  }
}

/** `warmbatch costs reprice`: prices records no row covered when they were billed. */
function repriceCommand(deps: CliDeps): Command {
  return withPriceOptions(pipelineCommand('reprice', deps))
    .description(
      'Price the unpriced records of a month once a price row covers them (idempotent: roll-ups change once)',
    )
    .requiredOption('--month <YYYY-MM>', 'the UTC month whose unpriced records to price')
    .option(
      '--stack-config <cdk.json>',
      "the stack's cdk.json, whose context.warmbatch.pricing (v41SwitchAt, prices) the functions price with (default: ./cdk.json when present)",
    )
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `
Prices as the worker does: the built-in rows (at the stack's pricing.v41SwitchAt), the stack's
pricing.prices (from --stack-config, or ./cdk.json when present), the deployment's
config/prices.json and --prices, merged in that order; --v41-switch-at overrides the stack's. Records still not covered stay unpriced and are listed.

Exit codes:
  0  done (records still unpriced are listed, not an error)
  2  usage or configuration error, or a bad price file
  1  any other error`,
    )
    .action(async (flags: RepriceFlags) =>
      runAction('costs reprice', deps, () => reprice(flags, deps)),
    );
}

/** `warmbatch costs`: chargeback by team, project, model and kind. */
export function costsCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  return (
    pipelineCommand('costs', deps)
      // `costs reprice --month M`: options after `reprice` are reprice's, not the report's.
      .enablePositionalOptions()
      .description(
        'Chargeback report from the cost ledger: requests, tokens, cache hit ratio, cost, counterfactual cost and savings',
      )
      .option('--month <YYYY-MM>', 'one UTC month (default: the current month)')
      .option('--from <YYYY-MM-DD>', 'first UTC day of a range, or a month (with --to)')
      .option('--to <YYYY-MM-DD>', 'last UTC day of a range, inclusive, or a month (with --from)')
      .option('--team <name>', 'only this team')
      .option('--project <name>', 'only this project')
      .option('--model <id>', 'only this model (as the responses named it)')
      .option(
        '--tag <key=value>',
        'only spend carrying this cost-allocation tag (repeatable: all must match)',
        (value: string, previous: string[] = []) => [...previous, value],
      )
      .option(
        '--lanes <list>',
        'only these lanes: primary (the batches as submitted), repair, shadow (comparison runs chargeback may leave out); default all',
        list(LANES),
      )
      .option(
        '--by <dims>',
        'group by a comma list of month, day, team, project, model, kind, lane, batch, endpoint, tier, tag:<key>',
        'team,project',
      )
      .addOption(
        new Option('--format <format>', 'output format')
          .choices(['table', 'csv', 'json', 'html', 'focus'])
          .default('table'),
      )
      .option('--out <file>', 'write the report to a file (required with --format html)')
      .addOption(
        new Option('--warmup <view>', 'warm-up cost apart, or amortised onto each job')
          .choices([...WARMUP_VIEWS])
          .default('separate'),
      )
      .option('--detail', 'list the cost records themselves (every team, or --team)')
      .addHelpText(
        'after',
        `
Money is exact: CSV dollars have 9 decimals (nano-USD) so rows sum to the TOTAL row; JSON also
carries integer nano-USD fields. Days are UTC days of the request's sending. Reads roll-ups
(monthly, or daily for dates and --by day) with Query only; batch, endpoint, tier, tag:<key>,
--tag and --warmup amortised read the cost records of each team's month (Query, never Scan).
--warmup amortised moves each prefix group's warm-ups onto its jobs, pro rata by prompt
tokens; totals per team are unchanged. --format focus writes FOCUS 1.2 CSV (FinOps Open Cost and
Usage Specification): one row per priced cost record and per batch AWS line, BilledCost exact to
the nano-dollar, team/project/lane as x_ columns (docs/chargeback.md). --format html --out report.html writes one
self-contained page (charts included, works offline); see docs/chargeback.md.
Warm-up is the overhead within the cost (warm-ups, probes, discarded attempts); the
counterfactual counts job answers only. Tests passed, pass rate and cost per passing test come
from recorded verdicts (submit --validate, warmbatch validate) in the monthly roll-ups: the
validated tests' answers (first answers and repairs) over the tests that pass; repairs and
shadow runs are lanes. Billed responses no price row covers yet are one
UNPRICED line, never $0: add a row, then run \`warmbatch costs reprice --month <YYYY-MM>\`.

Exit codes:
  0  report printed
  2  usage or configuration error
  1  any other error`,
      )
      .addCommand(repriceCommand(deps))
      .action(async (flags: CostsFlags) => runAction('costs', deps, () => costs(flags, deps)))
  );
}
