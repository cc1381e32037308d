/**
 * `warmbatch costs --format html`: one self-contained page to look at. Chart.js (its UMD build)
 * is inlined, the figures are embedded as JSON, and a Content Security
 * Policy forbids every request, so the file works offline, attached to a mail or a ticket. The
 * table is the CSV's rows and TOTAL, to the nano-dollar.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { periodOf } from '../../shared/chargeback/period';
import { type CostReport, figuresOf } from '../../shared/chargeback/report';
import type { ChartSeries } from '../../shared/chargeback/series';
import { type CostCells, costCells } from './costs';

/**
 * Chart.js's browser build: the installed command carries the one file next to its bundle
 * (packages/cli/build.mjs copies it); from the sources, the file in the chart.js package.
 */
function chartJsSource(): string {
  const bundled = new URL('./chart.umd.min.js', import.meta.url);
  if (existsSync(bundled)) return readFileSync(bundled, 'utf8');
  const require = createRequire(import.meta.url);
  return readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON safe inside a <script> element. */
const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028|\u2029/g, ' ');

/** The CSV's cells as an HTML table: same rows, same nano-dollar figures. */
function reportTable(cells: CostCells): string {
  const cell = (tag: string, v: string | number) => `<${tag}>${escapeHtml(String(v))}</${tag}>`;
  // Ratios are decimals in the CSV (for machines) and percentages here (for people).
  const shown = (v: string | number, i: number) =>
    cells.ratio[i] && v !== '' && Number.isFinite(Number(v))
      ? `${(Number(v) * 100).toFixed(1)}%`
      : v;
  return `<table id="report-table"><thead><tr>${cells.header.map((h) => cell('th', h)).join('')}</tr></thead><tbody>${cells.rows
    .map(
      (r) =>
        `<tr${r.label ? ` class="${r.label.toLowerCase()}"` : ''}>${r.cells.map((v, i) => cell('td', shown(v, i))).join('')}</tr>`,
    )
    .join('')}</tbody></table>`;
}

const PAGE_SCRIPT = `
const data = JSON.parse(document.getElementById('report-data').textContent);
const usd = (nano) => nano / 1e9;
const palette = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
const charts = {};
const common = { animation: false, responsive: true, maintainAspectRatio: false };
charts.spendByDay = new Chart(document.getElementById('spend-by-day'), {
  type: 'bar',
  data: { labels: data.days, datasets: data.teams.map((team, i) => ({ label: team, data: data.spendByTeam[team].map(usd), backgroundColor: palette[i % palette.length] })) },
  options: { ...common, scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'USD' } } } },
});
charts.savings = new Chart(document.getElementById('savings'), {
  type: 'line',
  data: { labels: data.days, datasets: [
    { label: 'cost', data: data.cost.map(usd), borderColor: palette[0], backgroundColor: palette[0] },
    { label: 'reference model (counterfactual)', data: data.counterfactual.map(usd), borderColor: palette[2], backgroundColor: palette[2] },
  ] },
  options: { ...common, scales: { y: { title: { display: true, text: 'USD' } } } },
});
charts.cacheHitRatio = new Chart(document.getElementById('cache-hit-ratio'), {
  type: 'line',
  data: { labels: data.days, datasets: [{ label: 'cache hit ratio', data: data.cacheHitRatio, borderColor: palette[1], backgroundColor: palette[1], spanGaps: true }] },
  options: { ...common, scales: { y: { min: 0, max: 1 } } },
});
const tiers = Object.keys(data.tiers).sort();
charts.tiers = new Chart(document.getElementById('tiers'), {
  type: 'doughnut',
  data: { labels: tiers, datasets: [{ label: 'cost by tier', data: tiers.map((t) => usd(data.tiers[t])), backgroundColor: tiers.map((t, i) => palette[i]) }] },
  options: common,
});
charts.warmup = new Chart(document.getElementById('warmup'), {
  type: 'bar',
  data: { labels: data.days, datasets: [
    { label: 'jobs', data: data.cost.map((c, i) => usd(c - data.warmup[i])), backgroundColor: palette[0] },
    { label: 'warm-up', data: data.warmup.map(usd), backgroundColor: palette[4] },
  ] },
  options: { ...common, scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'USD' } } } },
});
charts.topProjects = new Chart(document.getElementById('top-projects'), {
  type: 'bar',
  data: { labels: data.topProjects.map((p) => p.project), datasets: [{ label: 'cost', data: data.topProjects.map((p) => usd(p.costNanoUsd)), backgroundColor: palette[3] }] },
  options: { ...common, indexAxis: 'y' },
});
window.__charts = charts;
document.body.dataset.ready = 'true';
`;

/** The whole page. */
export function renderCostsHtml(
  report: CostReport,
  data: ChartSeries,
  meta: { generatedAt: string },
): string {
  const t = report.totals;
  const cells = costCells(report, 'csv');
  const totalCells = cells.rows.find((r) => r.label === 'TOTAL')?.cells;
  const total = (column: string) => String(totalCells?.[cells.header.indexOf(column)] ?? '');
  const figures = figuresOf(t, report.withRepairs ?? true);
  const ratio = figures.cacheHitRatio;
  const peakShare =
    t.costNanoUsd === 0
      ? 0
      : Math.round(((data.tiers.peak ?? 0) / data.totals.costNanoUsd || 0) * 10_000) / 100;
  const figure = (id: string, label: string, value: string) =>
    `<div class="figure"><div class="label">${label}</div><div class="value" id="${id}">${escapeHtml(value)}</div></div>`;
  const chart = (id: string, title: string) =>
    `<section><h2>${title}</h2><div class="chart"><canvas id="${id}"></canvas></div></section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>warmbatch chargeback ${escapeHtml(periodOf(report))}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #111827; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 0 0 8px; }
.meta { color: #6b7280; margin-bottom: 16px; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 20px; }
.figure { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 12px; min-width: 140px; }
.figure .label { color: #6b7280; font-size: 12px; } .figure .value { font-size: 16px; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 20px; }
.chart { position: relative; height: 260px; }
table { border-collapse: collapse; margin-top: 24px; font-variant-numeric: tabular-nums; font-size: 12px; }
th, td { border: 1px solid #e5e7eb; padding: 3px 6px; text-align: right; } th { background: #f9fafb; }
td:first-child, th:first-child { text-align: left; } tr.total td { font-weight: 600; }
</style>
</head>
<body>
<h1>Chargeback ${escapeHtml(periodOf(report))}</h1>
<div class="meta">UTC days; warm-up ${report.warmup === 'amortised' ? 'amortised onto jobs' : 'shown apart'}; generated ${escapeHtml(meta.generatedAt)} by warmbatch costs. Dollars have 9 decimals (nano-USD), as in the CSV.</div>
<div class="figures">
${figure('total-cost', 'total: model + AWS (USD)', total('total_usd'))}
${figure('model-cost', 'model cost (USD)', total('model_cost_usd'))}
${figure('aws-cost', 'AWS, estimated (USD)', total('aws_usd'))}
${figure('total-counterfactual', 'reference model (USD)', total('counterfactual_usd'))}
${figure('total-savings', 'savings (USD)', total('savings_usd'))}
${figure('total-warmup', 'warm-up (USD)', total('warmup_usd'))}
${figure('total-requests', 'requests', String(t.requests))}
${figure('total-cache-hit-ratio', 'cache hit ratio', ratio === null ? '' : `${(ratio * 100).toFixed(1)}%`)}
${figure('peak-share', 'peak share of cost', `${peakShare}%`)}
</div>
<div class="grid">
${chart('spend-by-day', 'Spend per day, by team')}
${chart('savings', 'Cost against the reference model')}
${chart('cache-hit-ratio', 'Cache hit ratio per day')}
${chart('tiers', 'Peak, off-peak and flat-priced cost')}
${chart('warmup', 'Warm-up overhead per day')}
${chart('top-projects', 'Top projects')}
</div>
<h2 style="margin-top:24px">Report (as <code>--format csv</code>)</h2>
${reportTable(cells)}
<p class="meta">Savings ${escapeHtml(total('savings_usd'))} USD = reference model minus model cost (warm-ups included); warm-up share of model cost ${((figures.warmupShare ?? 0) * 100).toFixed(1)}%; savings nano-USD ${figures.savingsNanoUsd}. AWS is an estimate of the pipeline's own AWS requests and functions per batch at list prices, not AWS's bill (docs/chargeback.md).</p>
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${chartJsSource()}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
