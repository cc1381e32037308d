import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import Table from 'cli-table3';
import { type Command, Option } from 'commander';
import { dayBound } from '../../shared/chargeback/period';
import {
  addDays,
  type DayQuality,
  monthsOfDays,
  qualityTrend,
  TREND_DIMENSIONS,
  type TrendDimension,
  type TrendReport,
  type TrendRow,
  windowStart,
} from '../../shared/quality/trend';
import { KINDS, type Kind, LANES, type Lane } from '../../shared/types';
import { list } from '../lib/args';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { EXIT, type ExitCode, UsageError } from '../lib/exit';
import { formatRatio, toCsv } from '../lib/money';

export interface QualityFlags {
  from?: string;
  to?: string;
  by: TrendDimension[];
  team?: string;
  project?: string;
  kind?: Kind;
  model?: string;
  lanes?: Lane[];
  format: 'table' | 'csv' | 'json' | 'html';
  out?: string;
  config?: string;
}

/** The longest report: a year of days (each month is one Query). */
const MAX_DAYS = 366;

/** `--from`/`--to` as UTC days: default the 28 days ending today. */
export function qualityRange(flags: Pick<QualityFlags, 'from' | 'to'>, now: Date) {
  const to =
    flags.to === undefined ? now.toISOString().slice(0, 10) : dayBound(flags.to, 'to', '--to');
  const from = flags.from === undefined ? addDays(to, -27) : dayBound(flags.from, 'from', '--from');
  if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
  if (addDays(from, MAX_DAYS - 1) < to)
    throw new UsageError(`--from ${from} to --to ${to} is more than ${MAX_DAYS} days`);
  return { from, to };
}

const label = (g: TrendRow['group'], by: readonly TrendDimension[]) => by.map((d) => g[d] ?? '');
const percent = (r: number | null) => formatRatio(r);
const windowText = (w: TrendRow['last7']) =>
  w.validated === 0 ? 'n/a' : `${percent(w.passRate)} (${w.passed}/${w.validated})`;

const HEAD = ['validated', 'passed', 'pass rate', 'first try', '7-day rate', '28-day rate'];

function renderTable(r: TrendReport): string {
  const table = new Table({
    head: [...r.by, ...HEAD],
    colAligns: [...r.by.map(() => 'left' as const), ...HEAD.map(() => 'right' as const)],
    style: { head: [], border: [] },
  });
  for (const row of [...r.rows, r.total])
    table.push([
      ...(row === r.total ? ['TOTAL', ...r.by.slice(1).map(() => '')] : label(row.group, r.by)),
      row.validated,
      row.passed,
      percent(row.passRate),
      percent(row.firstTryPassRate),
      windowText(row.last7),
      windowText(row.last28),
    ]);
  return `Tests validated ${r.from} to ${r.to} (UTC days the batches ran), by ${r.by.join(', ') || 'nothing'}; 7-day and 28-day rates end on the row's day (TOTAL: on ${r.to})\n${table.toString()}\n`;
}

const csvRate = (x: number | null) => (x === null ? '' : x.toFixed(6));

function renderCsv(r: TrendReport): string {
  const header = [
    ...r.by,
    'validated',
    'passed',
    'passed_first_try',
    'pass_rate',
    'first_try_pass_rate',
    'rate_7d',
    'validated_7d',
    'rate_28d',
    'validated_28d',
  ];
  const line = (row: TrendRow, total: boolean) => [
    ...(total ? ['TOTAL', ...r.by.slice(1).map(() => '')] : label(row.group, r.by)),
    row.validated,
    row.passed,
    row.passedFirst,
    csvRate(row.passRate),
    csvRate(row.firstTryPassRate),
    csvRate(row.last7.passRate),
    row.last7.validated,
    csvRate(row.last28.passRate),
    row.last28.validated,
  ];
  return toCsv(header, [...r.rows.map((row) => line(row, false)), line(r.total, true)]);
}

const escapeHtml = (s: string) =>
  s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');

/** One self-contained page: a line of the daily pass rate per series, and the table. */
function renderHtml(r: TrendReport, generatedAt: string): string {
  const series = new Map<string, { day: string; rate: number }[]>();
  if (r.by.includes('day'))
    for (const row of r.rows) {
      if (row.passRate === null || row.group.day === undefined) continue;
      const name =
        r.by
          .filter((d) => d !== 'day')
          .map((d) => row.group[d])
          .join(' / ') || 'all';
      const points = series.get(name) ?? [];
      points.push({ day: row.group.day, rate: row.passRate });
      series.set(name, points);
    }
  const days: string[] = [];
  for (let d = r.from; d <= r.to; d = addDays(d, 1)) days.push(d);
  const [w, h, pad] = [720, 240, 30];
  const x = (day: string) =>
    pad + (days.indexOf(day) / Math.max(1, days.length - 1)) * (w - 2 * pad);
  const y = (rate: number) => h - pad - rate * (h - 2 * pad);
  const colours = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  const lines = [...series.entries()]
    .map(([name, pts], i) => {
      const colour = colours[i % colours.length];
      const path = pts.map((p) => `${x(p.day).toFixed(1)},${y(p.rate).toFixed(1)}`).join(' ');
      return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${path}"><title>${escapeHtml(name)}</title></polyline><text x="${w - pad}" y="${14 + 14 * i}" text-anchor="end" fill="${colour}">${escapeHtml(name)}</text>`;
    })
    .join('');
  const axes = `<line x1="${pad}" y1="${y(0)}" x2="${w - pad}" y2="${y(0)}" stroke="#999"/><line x1="${pad}" y1="${y(1)}" x2="${w - pad}" y2="${y(1)}" stroke="#ddd"/><text x="2" y="${y(1) + 4}">100%</text><text x="2" y="${y(0) + 4}">0%</text><text x="${pad}" y="${h - 8}">${r.from}</text><text x="${w - pad}" y="${h - 8}" text-anchor="end">${r.to}</text>`;
  const chart =
    series.size === 0
      ? ''
      : `<svg width="${w}" height="${h}" role="img" aria-label="pass rate per day">${axes}${lines}</svg>`;
  const head = [...r.by, ...HEAD].map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = [...r.rows, r.total]
    .map((row) => {
      const cells = [
        ...(row === r.total ? ['TOTAL', ...r.by.slice(1).map(() => '')] : label(row.group, r.by)),
        String(row.validated),
        String(row.passed),
        percent(row.passRate),
        percent(row.firstTryPassRate),
        windowText(row.last7),
        windowText(row.last28),
      ];
      return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>warmbatch quality ${r.from} to ${r.to}</title><style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}td{text-align:right}svg text{font-size:11px}</style></head><body><h1>Pass rate of validated tests, ${r.from} to ${r.to}</h1><p>Generated ${escapeHtml(generatedAt)}. 7-day and 28-day rates end on each row's day.</p>${chart}<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></body></html>\n`;
}

function reportJson(r: TrendReport) {
  return {
    from: r.from,
    to: r.to,
    by: r.by,
    rows: r.rows,
    total: r.total,
  };
}

/**
 * Prints pass rates per day (and model, team, ...) with their 7- and 28-day rates, from the
 * ledger's daily roll-ups: one Query per month, never a Scan.
 */
export async function quality(flags: QualityFlags, deps: CliDeps): Promise<ExitCode> {
  const { from, to } = qualityRange(flags, deps.clock.now());
  if (flags.format === 'html' && flags.out === undefined)
    throw new UsageError('--format html writes a file: add --out quality.html');
  const services = await deps.connect(flags);
  try {
    const rows: DayQuality[] = [];
    for (const month of monthsOfDays(windowStart(from), to))
      for (const r of await services.ledger.dailyRollups(month))
        if (r.day !== undefined && r.testsValidated > 0 && !r.unpriced)
          rows.push({
            day: r.day,
            team: r.team,
            project: r.project,
            kind: r.kind,
            model: r.model,
            lane: r.lane,
            testsValidated: r.testsValidated,
            testsPassed: r.testsPassed,
            testsPassedFirst: r.testsPassedFirst,
          });
    const report = qualityTrend(rows, {
      from,
      to,
      by: flags.by,
      filter: {
        ...(flags.team !== undefined ? { team: flags.team.toLowerCase() } : {}),
        ...(flags.project !== undefined ? { project: flags.project.toLowerCase() } : {}),
        ...(flags.kind !== undefined ? { kind: flags.kind } : {}),
        ...(flags.model !== undefined ? { model: flags.model } : {}),
        ...(flags.lanes !== undefined ? { lanes: flags.lanes } : {}),
      },
    });
    const text =
      flags.format === 'json'
        ? `${JSON.stringify(reportJson(report))}\n`
        : flags.format === 'csv'
          ? renderCsv(report)
          : flags.format === 'html'
            ? renderHtml(report, deps.clock.now().toISOString())
            : renderTable(report);
    if (flags.out === undefined) deps.io.stdout.write(text);
    else {
      await writeFile(resolve(deps.io.cwd, flags.out), text);
      deps.io.stdout.write(`wrote ${flags.out}\n`);
    }
    return EXIT.ok;
  } finally {
    services.close();
  }
}

/** `warmbatch quality`: pass rate of validated tests over time. */
export function qualityCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  return pipelineCommand('quality', deps)
    .description(
      'Pass rate of validated tests per day and model, with the trailing 7-day and 28-day rates, to watch quality over weeks',
    )
    .option('--from <YYYY-MM-DD>', 'first UTC day (default: 27 days before --to)')
    .option('--to <YYYY-MM-DD>', 'last UTC day, inclusive (default: today)')
    .addOption(
      new Option('--by <dims>', `group by a comma list of ${TREND_DIMENSIONS.join(', ')}`)
        .argParser(list(TREND_DIMENSIONS))
        .default(['day', 'model'] as TrendDimension[], 'day,model'),
    )
    .option('--team <name>', 'only this team')
    .option('--project <name>', 'only this project')
    .addOption(new Option('--kind <kind>', 'only this kind').choices([...KINDS]))
    .option('--model <id>', "only this model (the batch's model)")
    .option(
      '--lanes <list>',
      'only these lanes: primary (the batches, after their repairs), shadow (comparison runs, first try); default both',
      list(LANES),
    )
    .addOption(
      new Option('--format <format>', 'output format')
        .choices(['table', 'csv', 'json', 'html'])
        .default('table'),
    )
    .option('--out <file>', 'write the report to a file (required with --format html)')
    .addHelpText(
      'after',
      `
Reads the verdicts recorded from submit --validate and warmbatch validate, booked on the UTC
day each batch was created, from the ledger's daily roll-ups (one Query per month, never a
Scan). Pass rate is tests passing in the end (after repairs) over tests validated; first try
is before repairs. The 7-day and 28-day rates are over the days ending on each row's day
(without --by day: on --to), for the row's other dimensions; the 28-day rate is the baseline
the stack's regression alarm compares the 7-day rate with (docs/quality.md). CSV rates are
fractions with 6 decimals.

  warmbatch quality --from 2026-11-01 --to 2026-11-30 --by day,model
  warmbatch quality --by model --team web --format json

Exit codes:
  0  report printed
  2  usage or configuration error (bad date or dimension, html without --out)
  1  any other error`,
    )
    .action(async (flags: QualityFlags) => runAction('quality', deps, () => quality(flags, deps)));
}
