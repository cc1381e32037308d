import { type Command, Option } from 'commander';
import { repriceMonth } from '../../shared/pipeline/reprice';
import type { Rollup } from '../../shared/ports/ledger';
import { LANES, type Lane } from '../../shared/types';
import { list } from '../lib/args';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import {
  aggregate,
  costsJson,
  monthRange,
  parseDimensions,
  renderCostsCsv,
  renderCostsTable,
  renderDetail,
} from '../lib/costs';
import { EXIT, type ExitCode, UsageError } from '../lib/exit';
import { cliCatalog, type PriceFlags, withPriceOptions } from '../lib/prices';

export interface CostsFlags {
  month?: string;
  from?: string;
  to?: string;
  team?: string;
  project?: string;
  by: string;
  format: 'table' | 'csv' | 'json';
  detail?: boolean;
  lanes?: Lane[];
  config?: string;
}

/** The months a report covers: `--month`, `--from`/`--to`, or the current UTC month. */
export function monthsOf(flags: CostsFlags, now: Date): string[] {
  if (flags.month !== undefined && (flags.from !== undefined || flags.to !== undefined))
    throw new UsageError('use either --month or --from/--to, not both');
  if (flags.month !== undefined) return monthRange(flags.month, flags.month);
  if ((flags.from === undefined) !== (flags.to === undefined))
    throw new UsageError('--from and --to go together: give both');
  if (flags.from !== undefined && flags.to !== undefined) return monthRange(flags.from, flags.to);
  const current = now.toISOString().slice(0, 7);
  return [current];
}

/**
 * Prints the chargeback report from the ledger's monthly roll-ups (one Query per month, never a
 * Scan), or with `--detail` the cost records of one team's month.
 */
export async function costs(flags: CostsFlags, deps: CliDeps): Promise<ExitCode> {
  const months = monthsOf(flags, deps.clock.now());
  const by = parseDimensions(flags.by);
  if (flags.detail && (flags.team === undefined || months.length !== 1))
    throw new UsageError('--detail lists one team and one month: add --team and --month');
  const services = await deps.connect(flags);
  try {
    if (flags.detail && flags.team !== undefined) {
      const month = months[0] as string;
      const records = (await services.ledger.records(flags.team.toLowerCase(), month)).filter(
        (r) => flags.project === undefined || r.project === flags.project.toLowerCase(),
      );
      deps.io.stdout.write(renderDetail(records, flags.format));
      return EXIT.ok;
    }
    const rollups: Rollup[] = [];
    for (const month of months) rollups.push(...(await services.ledger.rollups(month)));
    const report = aggregate(rollups, {
      by,
      months,
      ...(flags.team !== undefined ? { team: flags.team } : {}),
      ...(flags.project !== undefined ? { project: flags.project } : {}),
      ...(flags.lanes !== undefined ? { lanes: flags.lanes } : {}),
    });
    const render = { table: renderCostsTable, csv: renderCostsCsv, json: costsJson }[flags.format];
    deps.io.stdout.write(render(report));
    return EXIT.ok;
  } finally {
    services.close();
  }
}

export interface RepriceFlags extends PriceFlags {
  month: string;
  json?: boolean;
  config?: string;
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
    const catalog = await cliCatalog(flags, { cwd: deps.io.cwd, deployment: services });
    const result = await repriceMonth(services.ledger, catalog, month as string);
    if (flags.json) deps.io.stdout.write(`${JSON.stringify({ month, ...result })}\n`);
    else {
      const reasons = [...new Set(result.stillUnpriced.map((r) => `${r.model} (${r.reason})`))];
      deps.io.stdout.write(
        `${month}: repriced ${result.repriced} record(s)` +
          (result.alreadyPriced > 0 ? `, ${result.alreadyPriced} priced by another run` : '') +
          `; ${result.stillUnpriced.length} still unpriced${reasons.length > 0 ? `: ${reasons.join(', ')}` : ''}\n`,
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
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `
Prices with the built-in rows, the deployment's config/prices.json and --prices, merged in
that order. Records still not covered stay unpriced and are listed.

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
      .option('--from <YYYY-MM>', 'first month of a range (with --to)')
      .option('--to <YYYY-MM>', 'last month of a range, inclusive (with --from)')
      .option('--team <name>', 'only this team')
      .option('--project <name>', 'only this project')
      .option(
        '--by <dims>',
        'group by a comma list of month, team, project, model, kind, lane',
        'team,project',
      )
      .option(
        '--lanes <list>',
        'only these lanes: primary (the batches as submitted), repair, shadow (comparison runs chargeback may leave out); default all',
        list(LANES),
      )
      .addOption(
        new Option('--format <format>', 'output format')
          .choices(['table', 'csv', 'json'])
          .default('table'),
      )
      .option('--detail', 'list the cost records of one team (--team) and month (--month)')
      .addHelpText(
        'after',
        `
Money is exact: CSV dollars have 9 decimals (nano-USD) so rows sum to the TOTAL row; JSON also
carries integer nano-USD fields. Reads roll-ups with Query only (the chargeback reader policy).
Warm-up is the overhead within the cost (warm-ups, probes, discarded attempts); the
counterfactual counts job answers only. Tests passed, pass rate and cost per passing test come
from recorded verdicts (submit --validate, warmbatch validate): the validated tests' answers
(first answers and repairs) over the tests that pass; repairs and shadow runs are lanes. Billed responses no price row covers yet are one
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
