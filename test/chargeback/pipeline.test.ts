/**
 * Chargeback end to end over the in-memory pipeline (test/support/fake-pipeline.ts): two teams'
 * batches either side of a UTC midnight, one tagged with `submit --tag` over its project's
 * default tags. The export the ledger's stream drives writes line items to the bucket (that
 * the stream feeds it is export.test.ts's); `warmbatch costs` reports by day over the month
 * boundary; DuckDB runs every saved Athena query over the exported files and its totals equal
 * `costs`; the amortised view keeps each team's total.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../cli/config';
import { runCli } from '../../cli/lib/run';
import { launchChromium } from '../../packages/tools/chromium';
import { recordKey } from '../../shared/aws/ledger-store';
import { exportChanges } from '../../shared/chargeback/export';
import { DEFAULT_TAG_COLUMNS } from '../../shared/chargeback/line-items';
import { savedQueries } from '../../shared/chargeback/queries';
import { bufferIo, nanoOf, parseCsv, projectDir } from '../cli/support';
import { settlingCliDeps, useFakePipeline } from '../support/fake-pipeline';
import { type LineItemDb, lineItemDb } from './duckdb';

const TAGS = { 'cost-centre': 'cc-42', repository: 'shop-api', environment: 'prod' };
/** Where the clock stands once both batches have run: after midnight, in December. */
const AFTER = '2026-12-01T00:00:30Z';
const h = useFakePipeline({
  sim: { seed: 5 },
  settings: {
    maxOutputTokens: { docs: 256, tests: 256 },
    executor: { settleMs: 5, stopMarginMs: 500, concurrency: 8 },
    projectTags: { web: { shop: { environment: 'prod', 'cost-centre': 'cc-default' } } },
  },
});
/** The stores the two batches ran over; every test of the file reads them. */
let services: Services;
let db: LineItemDb;

/** Runs `warmbatch <args>` in-process against the local runtime. */
async function warmbatch(cwd: string, ...args: string[]) {
  const io = bufferIo(cwd);
  const code = await runCli(args, {
    ...settlingCliDeps(h, io),
    connect: async () => services,
  });
  return { code, stdout: io.out(), stderr: io.err() };
}

function sources(n: number, dir: string): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: n }, (_, i) => [
      `${dir}/m${i}.ts`,
      `export function ${dir}${i}(a: number): number {\n  return a * ${i + 2};\n}\n`,
    ]),
  );
}

/** `costs ... --format csv` as rows keyed by header, without the TOTAL and UNPRICED lines. */
async function costsCsv(...args: string[]) {
  const run = await warmbatch(await projectDir({}), 'costs', ...args, '--format', 'csv');
  expect(run.stderr).toBe('');
  const [header = [], ...rows] = parseCsv(run.stdout);
  const objects = rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
  return {
    rows: objects.filter(
      (r) => r[header[0] as string] !== 'TOTAL' && r[header[0] as string] !== 'UNPRICED',
    ),
    total: objects.find((r) => r[header[0] as string] === 'TOTAL') as Record<string, string>,
  };
}

/** Runs both teams' batches, then exports every team-day their cost records fall on. */
async function runBatches(): Promise<void> {
  h.setClock('2026-11-30T23:58:00Z');
  const dir = await projectDir({ ...sources(4, 'web'), ...sources(3, 'data') });
  // Before midnight: web's batch, tagged by submit over its project's defaults.
  const web = await warmbatch(
    dir,
    ...['submit', '--team', 'web', '--project', 'shop', '--kind', 'docs', 'web', '--wait'],
    ...['--tag', 'cost-centre=cc-42', '--tag', 'repository=shop-api'],
  );
  expect(web.code).toBe(0);
  // After midnight, in December: data's batch, untagged.
  h.setClock(AFTER);
  const data = await warmbatch(
    dir,
    ...['submit', '--team', 'data', '--project', 'etl', '--kind', 'tests', 'data', '--wait'],
  );
  expect(data.code).toBe(0);
  // What the ledger's change stream hands the export: the key of every cost record written.
  const records = [];
  for (const team of ['web', 'data'])
    for (const month of ['2026-11', '2026-12'])
      records.push(...(await services.ledger.records(team, month)));
  await exportChanges(records.map(recordKey), {
    ledger: services.ledger,
    objects: services.objects,
    tagKeys: h.deps.settings.chargeback.tagColumns,
  });
  db = await lineItemDb(services.objects);
}

// The fake pipeline gives each test fresh stores; the tests of this file all read the two
// batches run before the first of them, so they keep that test's stores and clock.
beforeEach(async () => {
  if (!services) {
    const { objects, jobs, ledger } = h.deps;
    services = { objects, jobs, ledger, close() {} };
    await runBatches();
  }
  h.setClock(AFTER);
}, 120_000);

afterAll(() => {
  db?.close();
});

describe('tags', () => {
  it('go from submit, over the project defaults, onto every cost record and line item', async () => {
    // Act
    const records = await services.ledger.records('web', '2026-11');
    const items = await db.rows(
      "SELECT tag_cost_centre, tag_repository, tag_environment, tags FROM line_items WHERE team = 'web'",
    );

    // Assess
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) expect(r.tags).toEqual(TAGS);
    expect(items).toHaveLength(records.length);
    for (const item of items)
      expect(item).toMatchObject({
        tag_cost_centre: 'cc-42',
        tag_repository: 'shop-api',
        tag_environment: 'prod',
      });
    const untagged = await db.rows("SELECT tag_cost_centre FROM line_items WHERE team = 'data'");
    expect(untagged.every((r) => r.tag_cost_centre === null)).toBe(true);
  });

  it('filter and group a costs report', async () => {
    // Act
    const tagged = await costsCsv(
      '--from',
      '2026-11-30',
      '--to',
      '2026-12-01',
      '--tag',
      'cost-centre=cc-42',
      '--by',
      'team',
    );
    const byTag = await costsCsv(
      '--from',
      '2026-11-30',
      '--to',
      '2026-12-01',
      '--by',
      'tag:cost-centre',
    );

    // Assess
    expect(tagged.rows.map((r) => r.team)).toEqual(['web']);
    expect(byTag.rows.map((r) => r['tag:cost-centre'])).toEqual(['(untagged)', 'cc-42']);
    expect(byTag.rows.find((r) => r['tag:cost-centre'] === 'cc-42')?.total_usd).toBe(
      tagged.total.total_usd,
    );
  });
});

describe('costs --by day', () => {
  it('splits a range over the month boundary by UTC day, rows summing to the total', async () => {
    // Act
    const report = await costsCsv('--from', '2026-11-30', '--to', '2026-12-01', '--by', 'day,team');
    const november = await costsCsv('--month', '2026-11', '--by', 'team');
    const december = await costsCsv('--from', '2026-12-01', '--to', '2026-12-31', '--by', 'team');

    // Assess
    expect(report.rows.map((r) => [r.day, r.team])).toEqual([
      ['2026-11-30', 'web'],
      ['2026-12-01', 'data'],
    ]);
    const sum = report.rows.reduce((s, r) => s + nanoOf(r.total_usd as string), 0);
    expect(sum).toBe(nanoOf(report.total.total_usd as string));
    expect(report.rows[0]?.total_usd).toBe(november.total.total_usd);
    expect(report.rows[1]?.total_usd).toBe(december.total.total_usd);
  });
});

describe('the local SQL engine on the exported line items', () => {
  const queries = savedQueries([...DEFAULT_TAG_COLUMNS]);
  const byId = (id: string) => {
    const q = queries.find((x) => x.id === id);
    if (!q) throw new Error(`no saved query ${id}`);
    return q.sql;
  };
  const RANGE = ['--from', '2026-11-30', '--to', '2026-12-01'];

  it.each(queries.map((q) => [q.id, q.sql]))('answers the saved query %s', async (_id, sql) => {
    // Act
    const rows = await db.rows(sql);

    // Assess
    expect(rows.length).toBeGreaterThan(0);
  });

  it('sums spend by team and day to what costs reports', async () => {
    // Act
    const sql = await db.rows(byId('spend-by-team-per-day'));
    const costs = await costsCsv(...RANGE, '--by', 'day,team');

    // Assess
    expect(sql.map((r) => [r.usage_date, r.team, Number(r.cost_nano_usd)])).toEqual(
      costs.rows.map((r) => [r.day, r.team, nanoOf(r.total_usd as string)]),
    );
    // Model and AWS apart, as costs shows them.
    expect(sql.map((r) => [Number(r.model_nano_usd), Number(r.aws_nano_usd)])).toEqual(
      costs.rows.map((r) => [nanoOf(r.model_cost_usd as string), nanoOf(r.aws_usd as string)]),
    );
  });

  it('gives the savings and top projects costs reports', async () => {
    // Act
    const savings = await db.rows(byId('savings'));
    const top = await db.rows(byId('top-projects'));
    const byTeam = await costsCsv(...RANGE, '--by', 'team');
    const byProject = await costsCsv(...RANGE, '--by', 'team,project');

    // Assess
    expect(savings.map((r) => [r.team, Number(r.savings_nano_usd)])).toEqual(
      byTeam.rows.map((r) => [r.team, nanoOf(r.savings_usd as string)]),
    );
    const total = top.reduce((s, r) => s + Number(r.cost_nano_usd), 0);
    expect(total).toBe(nanoOf(byProject.total.total_usd as string));
    expect(top.map((r) => `${r.team}/${r.project}`).sort()).toEqual(
      byProject.rows.map((r) => `${r.team}/${r.project}`).sort(),
    );
  });

  it('gives the spend per model and endpoint that costs reports', async () => {
    // Act
    const sql = await db.rows(byId('spend-by-model-endpoint'));
    const costs = await costsCsv(...RANGE, '--by', 'model,endpoint');

    // Assess
    expect(
      sql.map((r) => [r.model, r.endpoint, Number(r.requests), Number(r.cost_nano_usd)]),
    ).toEqual(
      costs.rows.map((r) => [
        r.model,
        r.endpoint,
        Number(r.requests),
        nanoOf(r.total_usd as string),
      ]),
    );
  });

  it('gives the cache hit ratio per day and the spend by tag that costs reports', async () => {
    // Act
    const ratio = await db.rows(byId('cache-hit-ratio'));
    const byTag = await db.rows(byId('spend-by-tag'));
    const costsByDay = await costsCsv(...RANGE, '--by', 'day');
    const costsByTag = await costsCsv(...RANGE, '--by', 'tag:repository');

    // Assess
    expect(ratio.map((r) => [r.usage_date, Number(r.cache_hit_ratio).toFixed(4)])).toEqual(
      costsByDay.rows.map((r) => [r.day, r.cache_hit_ratio]),
    );
    expect(
      byTag
        .filter((r) => r.tag_key === 'repository')
        .map((r) => [r.tag_value, Number(r.cost_nano_usd)]),
    ).toEqual(costsByTag.rows.map((r) => [r['tag:repository'], nanoOf(r.total_usd as string)]));
  });

  it('adds up to the costs total, amortised or not', async () => {
    // Act
    const [sums] = await db.rows(
      'SELECT SUM(cost_nano_usd) AS cost, SUM(amortised_cost_nano_usd) AS amortised, SUM(warmup_share_nano_usd) AS moved FROM line_items WHERE NOT unpriced',
    );
    const costs = await costsCsv(...RANGE, '--by', 'team');

    // Assess
    expect(Number(sums?.cost)).toBe(nanoOf(costs.total.total_usd as string));
    expect(Number(sums?.amortised)).toBe(nanoOf(costs.total.total_usd as string));
    expect(Number(sums?.moved)).toBe(0);
  });
});

describe('the whole bill: model, AWS and total, in CSV and FOCUS', () => {
  const RANGE = ['--from', '2026-11-30', '--to', '2026-12-01'];

  it("shows each team's model cost, estimated AWS cost and total, the AWS total equal to the batch summaries' estimates", async () => {
    // Act
    const byTeam = await costsCsv(...RANGE, '--by', 'team');
    const summaries = await Promise.all(
      (await services.objects.list('results/'))
        .filter((k) => k.endsWith('/summary.json'))
        .map(async (k) => JSON.parse((await services.objects.getText(k)) ?? '{}')),
    );

    // Assess
    const awsOfSummaries = summaries.reduce((n, s) => n + s.awsOverhead.estimatedNanoUsd, 0);
    const total = byTeam.total;
    expect(summaries.length).toBe(2);
    expect(awsOfSummaries).toBeGreaterThan(0);
    expect(nanoOf(total.aws_usd as string)).toBe(awsOfSummaries);
    expect(nanoOf(total.total_usd as string)).toBe(
      nanoOf(total.model_cost_usd as string) + nanoOf(total.aws_usd as string),
    );
    for (const row of byTeam.rows) {
      expect(nanoOf(row.aws_usd as string)).toBeGreaterThan(0);
      expect(nanoOf(row.total_usd as string)).toBe(
        nanoOf(row.model_cost_usd as string) + nanoOf(row.aws_usd as string),
      );
    }
    console.log(
      `whole bill: model ${total.model_cost_usd} + AWS ${total.aws_usd} = total ${total.total_usd} USD; summaries' AWS estimates ${awsOfSummaries} nano-USD`,
    );
  });

  it('writes FOCUS 1.2 CSV that DuckDB reads back to the same total in BilledCost', async () => {
    // Prepare
    const dir = await projectDir({});
    const byTeam = await costsCsv(...RANGE, '--by', 'team');

    // Act
    const run = await warmbatch(dir, 'costs', ...RANGE, '--format', 'focus', '--out', 'focus.csv');
    const file = join(dir, 'focus.csv').replaceAll("'", "''");
    const [sums] = await db.rows(
      `SELECT SUM(BilledCost) AS billed, SUM(EffectiveCost) AS effective, COUNT(*) AS n,
         SUM(CASE WHEN x_Charge = 'aws' THEN BilledCost ELSE 0 END) AS aws,
         COUNT(DISTINCT ConsumedUnit) AS units
       FROM read_csv('${file}', header = true, types = {'BilledCost': 'DECIMAL(18,9)', 'EffectiveCost': 'DECIMAL(18,9)', 'ChargeClass': 'VARCHAR'})`,
    );
    const columns = await db.rows(`DESCRIBE SELECT * FROM read_csv('${file}', header = true)`);

    // Assess
    expect(run.code).toBe(0);
    expect(String(sums?.billed)).toBe(byTeam.total.total_usd);
    expect(String(sums?.effective)).toBe(byTeam.total.total_usd);
    expect(String(sums?.aws)).toBe(byTeam.total.aws_usd);
    const names = columns.map((c) => c.column_name);
    for (const c of [
      'BilledCost',
      'EffectiveCost',
      'ListCost',
      'ChargePeriodStart',
      'ChargePeriodEnd',
      'ChargeCategory',
      'ServiceName',
      'ProviderName',
      'ConsumedQuantity',
      'ConsumedUnit',
      'PricingUnit',
      'SkuId',
      'Tags',
      'x_Team',
      'x_Project',
      'x_Lane',
    ])
      expect(names).toContain(c);
    console.log(
      `FOCUS: ${sums?.n} rows, SUM(BilledCost) ${sums?.billed} = costs total ${byTeam.total.total_usd}`,
    );
  });
});

describe('costs --warmup amortised', () => {
  it("moves warm-ups onto jobs and leaves every team's total as it was", async () => {
    // Act
    const separate = await costsCsv('--from', '2026-11-30', '--to', '2026-12-01', '--by', 'team');
    const amortised = await costsCsv(
      ...[
        '--from',
        '2026-11-30',
        '--to',
        '2026-12-01',
        '--by',
        'team,batch',
        '--warmup',
        'amortised',
      ],
    );
    const jobsOnly = await db.rows(
      "SELECT team, SUM(amortised_cost_nano_usd) AS cost, SUM(warmup_share_nano_usd) AS share FROM line_items WHERE purpose = 'job' GROUP BY team ORDER BY team",
    );

    // Assess
    const perTeam = (rows: Record<string, string>[]) => {
      const by = new Map<string, number>();
      for (const r of rows)
        by.set(
          r.team as string,
          (by.get(r.team as string) ?? 0) + nanoOf(r.model_cost_usd as string),
        );
      return [...by.entries()].sort();
    };
    expect(perTeam(amortised.rows)).toEqual(perTeam(separate.rows));
    expect(jobsOnly.some((r) => Number(r.share) > 0)).toBe(true);
    expect(jobsOnly.map((r) => [r.team, Number(r.cost)])).toEqual(perTeam(separate.rows));
  });
});

describe('the HTML report, in headless Chromium', () => {
  it('loads offline without console errors, draws the expected series and shows the CSV totals', async () => {
    // Prepare
    const dir = await projectDir({});
    const range = ['--from', '2026-11-30', '--to', '2026-12-01', '--by', 'team,project'];
    const html = await warmbatch(
      dir,
      'costs',
      ...range,
      '--format',
      'html',
      '--out',
      'report.html',
    );
    expect(html.stderr).toBe('');
    const csv = await costsCsv(...range);
    const byDay = await costsCsv('--from', '2026-11-30', '--to', '2026-12-01', '--by', 'day,team');
    const browser = await launchChromium();

    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning')
          problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) problems.push(`request: ${r.url()}`);
      });

      // Act
      await page.goto(pathToFileURL(join(dir, 'report.html')).href);
      await page.waitForSelector('body[data-ready="true"]');
      const charts = await page.evaluate(() => {
        const all = (
          globalThis as unknown as {
            __charts: Record<
              string,
              { data: { labels: unknown[]; datasets: { label: string; data: unknown[] }[] } }
            >;
          }
        ).__charts;
        return Object.fromEntries(
          Object.entries(all).map(([id, c]) => [
            id,
            {
              labels: c.data.labels,
              datasets: c.data.datasets.map((d) => ({ label: d.label, data: d.data })),
            },
          ]),
        );
      });
      const table = await page.$$eval('#report-table tr', (rows) =>
        rows.map((r) => [...r.querySelectorAll('th,td')].map((c) => c.textContent ?? '')),
      );
      const totalCost = await page.textContent('#total-cost');
      await page.screenshot({ path: join(dir, 'report.png'), fullPage: true });
      if (process.env.REPORT_SHOT)
        await page.screenshot({ path: process.env.REPORT_SHOT, fullPage: true });

      // Assess
      expect(problems).toEqual([]);
      expect(totalCost).toBe(csv.total.total_usd);
      expect(table.slice(1).map((r) => r.slice(0, 2))).toEqual([
        ...csv.rows.map((r) => [r.team, r.project]),
        ['TOTAL', ''],
      ]);
      expect(table.at(-1)).toContain(csv.total.total_usd);
      expect(await page.textContent('#aws-cost')).toBe(csv.total.aws_usd);
      const spend = charts.spendByDay;
      expect(spend?.labels).toEqual(['2026-11-30', '2026-12-01']);
      expect(spend?.datasets.map((d) => d.label)).toEqual(['data', 'web']);
      for (const row of byDay.rows) {
        const series = spend?.datasets.find((d) => d.label === row.team);
        const value = series?.data[(spend?.labels ?? []).indexOf(row.day)];
        expect(value).toBeCloseTo(nanoOf(row.model_cost_usd as string) / 1e9, 12);
      }
      expect(charts.cacheHitRatio?.datasets[0]?.data).toHaveLength(2);
      expect(charts.savings?.datasets.map((d) => d.label)).toEqual([
        'cost',
        'reference model (counterfactual)',
      ]);
      expect(charts.topProjects?.labels).toEqual(
        [...csv.rows]
          .sort((a, b) => nanoOf(b.model_cost_usd as string) - nanoOf(a.model_cost_usd as string))
          .map((r) => `${r.team}/${r.project}`),
      );
      expect(charts.tiers?.labels?.length).toBeGreaterThan(0);
      expect(charts.warmup?.datasets.map((d) => d.label)).toEqual(['jobs', 'warm-up']);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
