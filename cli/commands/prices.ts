import Table from 'cli-table3';
import type { Command } from 'commander';
import { type Catalog, isPeakRow, type PriceRow, ruleAt } from '../../shared/pricing/catalog';
import { PricingError, type ResolvedPrice, resolvePrice } from '../../shared/pricing/cost';
import type { TierPrices } from '../../shared/pricing/schema';
import { NO_CONFIG_MESSAGE, type Services } from '../config';
import { instant } from '../lib/args';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { EXIT, type ExitCode, UsageError } from '../lib/exit';
import { usdPerMillion } from '../lib/money';
import { cliCatalog, type PriceFlags, withPriceOptions } from '../lib/prices';

interface PricesFlags extends PriceFlags {
  at?: Date;
  model?: string;
  json?: boolean;
  config?: string;
}

/** One model in force, as printed. */
interface InForce {
  model: string;
  billedAs: string;
  /** Through which alias rows. */
  via: string[];
  tier: ResolvedPrice['tier'];
  /** The prices that apply at the instant, micro-USD per 1M. */
  now: TierPrices;
  row: {
    id: string;
    from: string;
    until: string | null;
    origin: string;
    source: string;
    flat?: TierPrices;
    offPeak?: TierPrices;
    peak?: TierPrices;
    peakRule?: string;
  };
  /** Why the tier is assumed (no holiday list for that year). */
  assumed?: string;
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);

function describeRow(row: PriceRow): InForce['row'] {
  return {
    id: row.id,
    from: iso(row.fromMs) as string,
    until: iso(row.untilMs),
    origin: row.origin,
    source: row.source,
    ...('flat' in row ? { flat: row.flat } : {}),
    ...(isPeakRow(row) ? { offPeak: row.offPeak, peak: row.peak, peakRule: row.peakRule } : {}),
  };
}

/** Every model (or `only`) priced at `at`, with the row that prices it and where it came from. */
export function pricesInForce(catalog: Catalog, at: Date, only?: string): InForce[] {
  const models = only === undefined ? [...catalog.byModel.keys()].sort() : [only];
  const out: InForce[] = [];
  for (const model of models) {
    let p: ResolvedPrice;
    try {
      p = resolvePrice(model, at, catalog, { holidaysUnknown: 'peak' });
    } catch (err) {
      if (err instanceof PricingError && only === undefined) continue;
      if (err instanceof PricingError) throw new UsageError(`${err.code}: ${err.message}`);
      throw err;
    }
    out.push({
      model,
      billedAs: p.billedAs,
      via: p.via.map((r) => `${r.id} (${r.origin})`),
      tier: p.tier,
      now: { hit: p.hit, miss: p.miss, output: p.output },
      row: describeRow(p.row),
      ...(p.assumed ? { assumed: p.assumed } : {}),
    });
  }
  return out;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The human-readable table of the prices in force, the peak rules and the holiday lists. */
export function renderPrices(at: Date, rows: InForce[], catalog: Catalog): string {
  const table = new Table({
    head: ['model', 'billed as', 'tier now', 'hit', 'miss', 'output', 'row', 'source'],
    style: { head: [], border: [] },
  });
  for (const r of rows)
    table.push([
      r.model,
      r.billedAs === r.model ? '' : r.billedAs,
      r.tier,
      // A row without a cache discount (the reference models) has no hit price to show.
      r.now.hit === r.now.miss ? 'n/a' : usdPerMillion(r.now.hit),
      usdPerMillion(r.now.miss),
      usdPerMillion(r.now.output),
      `${r.row.id}${r.row.until ? ` until ${r.row.until}` : ''}`,
      // Every alias hop, in order: deepseek-chat -> deepseek-v4-flash -> deepseek-flash.
      r.via.length > 0 ? `${r.row.origin} (alias: ${r.via.join(' -> ')})` : r.row.origin,
    ]);
  const rules = [...new Set(rows.map((r) => r.row.peakRule).filter((n) => n !== undefined))]
    .map((name) => ruleAt(catalog, name, at.getTime()))
    .filter((r) => r !== undefined)
    .map(
      (r) =>
        `peak rule ${r.rule} (${r.origin}): ${r.windowsUtc.map((w) => `${w.from}-${w.until}`).join(', ')} UTC` +
        (r.offPeakWeekdays.length > 0
          ? `; off-peak all day on ${r.offPeakWeekdays.map((d) => WEEKDAYS[d]).join(', ')} (UTC${r.utcOffsetMinutes >= 0 ? '+' : ''}${r.utcOffsetMinutes / 60})`
          : '') +
        (r.holidayCalendar ? `; ${r.holidayCalendar} holidays off-peak` : ''),
    );
  const holidays = [...catalog.holidays.values()].map(
    (h) => `holidays ${h.calendar} ${h.year}: ${h.dates.length} days (${h.origin})`,
  );
  const notes = rows.filter((r) => r.assumed).map((r) => `note: ${r.model}: ${r.assumed}`);
  return [
    `prices in force at ${at.toISOString()} (USD per 1M tokens), from: ${catalog.origins.join(', ')}`,
    table.toString(),
    ...rules,
    ...holidays,
    ...notes,
    '',
  ].join('\n');
}

/** The deployment, when the CLI finds one; prices work without it. */
async function deploymentIfAny(flags: PricesFlags, deps: CliDeps): Promise<Services | undefined> {
  try {
    return await deps.connect(flags);
  } catch (err) {
    if (err instanceof UsageError && err.message === NO_CONFIG_MESSAGE) return undefined;
    throw err;
  }
}

/** Prints the rows in force at `--at` (default now), each with the source it came from. */
export async function prices(flags: PricesFlags, deps: CliDeps): Promise<ExitCode> {
  const at = flags.at ?? deps.clock.now();
  const services = await deploymentIfAny(flags, deps);
  try {
    const catalog = await cliCatalog(flags, {
      cwd: deps.io.cwd,
      ...(services ? { deployment: services } : {}),
    });
    const rows = pricesInForce(catalog, at, flags.model);
    deps.io.stdout.write(
      flags.json
        ? `${JSON.stringify({ at: at.toISOString(), origins: catalog.origins, models: rows })}\n`
        : renderPrices(at, rows, catalog),
    );
    return EXIT.ok;
  } finally {
    services?.close();
  }
}

/** `warmbatch prices`: what the catalog bills at an instant, and where each row came from. */
export function pricesCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  return withPriceOptions(pipelineCommand('prices', deps))
    .description(
      'Show the prices in force at an instant: each model, the row that bills it, its tier and its source',
    )
    .option('--at <time>', 'ISO 8601 time with Z or an offset (default: now)', instant)
    .option('--model <id>', 'only this model (aliases show the model they are billed as)')
    .option('--json', 'print one JSON object (prices in integer micro-USD per 1M tokens)')
    .addHelpText(
      'after',
      `
Sources, each merged over the one before: the built-in rows, the deployment's
config/prices.json (when a deployment is found), then --prices.

Exit codes:
  0  prices printed
  2  usage error: bad time, bad price file, a model not priced at --at
  1  any other error`,
    )
    .action(async (flags: PricesFlags) => runAction('prices', deps, () => prices(flags, deps)));
}
