import { describe, expect, it } from 'vitest';
import { monthsOf } from '../../cli/commands/costs';
import { costsJson, renderCostsCsv, renderCostsTable } from '../../cli/lib/costs';
import { usdFixed } from '../../cli/lib/money';
import { parseDimensions } from '../../shared/chargeback/dimensions';
import { monthRange } from '../../shared/chargeback/period';
import { aggregate } from '../../shared/chargeback/report';
import type { Rollup } from '../../shared/ports/ledger';
import { zeroQuality } from '../../shared/quality/verdicts';
import { nanoOf, parseCsv } from './support';

function rollup(overrides: Partial<Rollup> = {}): Rollup {
  return {
    month: '2026-11',
    team: 'payments',
    project: 'api',
    model: 'deepseek-v4-flash',
    kind: 'docs',
    requests: 10,
    hitTokens: 9_000,
    missTokens: 1_000,
    outputTokens: 2_000,
    reasoningTokens: 0,
    costNanoUsd: 725_200,
    counterfactualNanoUsd: 55_000_000,
    warmupRequests: 0,
    warmupCostNanoUsd: 0,
    estimatedRequests: 0,
    estimatedCostNanoUsd: 0,
    awsCostNanoUsd: 0,
    lane: 'primary',
    ...zeroQuality(),
    ...overrides,
  };
}

describe('costs report', () => {
  it('groups roll-ups by the chosen dimensions and totals every row', () => {
    // Prepare
    const rollups = [
      rollup(),
      rollup({ kind: 'tests', costNanoUsd: 1, requests: 1 }),
      rollup({ team: 'search', project: 'web', costNanoUsd: 333_333_333 }),
    ];

    // Act
    const report = aggregate(rollups, { by: ['team'], months: ['2026-11'] });

    // Assess
    expect(report.rows.map((r) => [r.group.team, r.requests, r.costNanoUsd])).toEqual([
      ['payments', 11, 725_201],
      ['search', 10, 333_333_333],
    ]);
    expect(report.totals.costNanoUsd).toBe(725_201 + 333_333_333);
    expect(report.totals.requests).toBe(21);
  });

  it('filters by team and project case-insensitively', () => {
    const rollups = [rollup(), rollup({ project: 'batch' }), rollup({ team: 'search' })];

    const report = aggregate(rollups, {
      by: ['team', 'project'],
      months: ['2026-11'],
      team: 'Payments',
      project: 'API',
    });

    expect(report.rows).toHaveLength(1);
    expect(report.rows[0]?.group).toEqual({ team: 'payments', project: 'api' });
  });

  it('writes CSV whose rows sum exactly to its TOTAL row, with quoting where needed', () => {
    // Prepare: amounts whose float sum would drift, and a project name that needs quoting.
    const rollups = [
      rollup({ project: 'a,"b"', costNanoUsd: 100_000_001 }),
      rollup({ project: 'c', costNanoUsd: 200_000_002 }),
      rollup({ project: 'd', costNanoUsd: 300_000_003 }),
    ];
    const report = aggregate(rollups, { by: ['team', 'project'], months: ['2026-11'] });

    // Act
    const csv = renderCostsCsv(report);
    const [header, ...rest] = parseCsv(csv);

    // Assess
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(header).toEqual([
      'team',
      'project',
      'requests',
      'hit_tokens',
      'miss_tokens',
      'output_tokens',
      'cache_hit_ratio',
      'model_cost_usd',
      'aws_usd',
      'total_usd',
      'warmup_usd',
      'warmup_share',
      'estimated_usd',
      'repair_lane_usd',
      'shadow_lane_usd',
      'counterfactual_usd',
      'savings_usd',
      'tests_passed',
      'tests_validated',
      'pass_rate',
      'per_passing_test_usd',
    ]);
    const total = rest.at(-1) as string[];
    const rows = rest.slice(0, -1);
    expect(total[0]).toBe('TOTAL');
    expect(rows.map((r) => r[1])).toEqual(['a,"b"', 'c', 'd']);
    const cost = header?.indexOf('model_cost_usd') as number;
    const sum = rows.reduce((s, r) => s + nanoOf(r[cost] as string), 0);
    expect(sum).toBe(nanoOf(total[cost] as string));
    expect(total[cost]).toBe('0.600000006');
  });

  it('reports savings against the counterfactual and the cache hit ratio in JSON', () => {
    const report = aggregate([rollup()], { by: ['model'], months: ['2026-11'] });

    const json = JSON.parse(costsJson(report));

    expect(json.totals).toMatchObject({
      costNanoUsd: 725_200,
      counterfactualNanoUsd: 55_000_000,
      savingsNanoUsd: 55_000_000 - 725_200,
      cacheHitRatio: 0.9,
      costUsd: '0.000725200',
    });
    expect(json.rows[0].model).toBe('deepseek-v4-flash');
  });

  it('reports warm-up cost and its share apart, and savings that pay for it', () => {
    // Prepare: a tenth of the cost was warm-ups; the counterfactual counts job answers only.
    const report = aggregate([rollup({ warmupRequests: 2, warmupCostNanoUsd: 72_520 })], {
      by: ['team'],
      months: ['2026-11'],
    });

    // Act
    const json = JSON.parse(costsJson(report));
    const table = renderCostsTable(report);

    // Assess
    expect(json.totals).toMatchObject({
      warmupCostNanoUsd: 72_520,
      warmupShare: 0.1,
      savingsNanoUsd: 55_000_000 - 725_200,
      warmupCostUsd: '0.000072520',
    });
    expect(table).toMatch(/warm-up \(USD\)/);
    expect(table).toMatch(/\$0\.00007252\s*│\s*10\.0%/);
  });

  it('shows unpriced records as their own line, outside TOTAL, never as $0', () => {
    // Prepare
    const rollups = [
      rollup(),
      rollup({
        model: 'deepseek-flash-1017',
        unpriced: true,
        requests: 3,
        hitTokens: 300,
        missTokens: 30,
        outputTokens: 90,
        costNanoUsd: 0,
        counterfactualNanoUsd: 0,
      }),
      // A fully repriced unpriced roll-up is empty and left out.
      rollup({ model: 'old', unpriced: true, requests: 0, hitTokens: 0, costNanoUsd: 0 }),
    ];

    // Act
    const report = aggregate(rollups, { by: ['team', 'project'], months: ['2026-11'] });
    const table = renderCostsTable(report);
    const [header, ...rest] = parseCsv(renderCostsCsv(report));
    const json = JSON.parse(costsJson(report));

    // Assess
    expect(report.totals.requests).toBe(10);
    expect(report.unpriced).toEqual({
      requests: 3,
      hitTokens: 300,
      missTokens: 30,
      outputTokens: 90,
      reasoningTokens: 0,
      models: ['deepseek-flash-1017'],
    });
    expect(table).toMatch(/UNPRICED\s*│[^\n]*│\s*3\s*│\s*300\s*│\s*30\s*│\s*90\s*│\s*unpriced/);
    expect(table).not.toMatch(/UNPRICED[^\n]*\$0/);
    expect(table).toMatch(/warmbatch costs reprice --month/);
    const unpricedRow = rest.at(-1) as string[];
    expect(unpricedRow[0]).toBe('UNPRICED');
    expect(unpricedRow[header?.indexOf('model_cost_usd') as number]).toBe('');
    expect(unpricedRow[header?.indexOf('total_usd') as number]).toBe('');
    expect(json.unpriced).toMatchObject({ requests: 3, models: ['deepseek-flash-1017'] });
  });

  it('spans month ranges across a year end and refuses reversed or malformed ones', () => {
    expect(monthRange('2026-11', '2027-02')).toEqual(['2026-11', '2026-12', '2027-01', '2027-02']);
    expect(() => monthRange('2027-02', '2026-11')).toThrow(/after/);
    expect(() => monthRange('2026-13', '2026-13')).toThrow(/YYYY-MM/);
  });

  it('defaults to the current UTC month and rejects --month with --from', () => {
    const now = new Date('2026-11-30T23:59:59Z');

    expect(monthsOf({ by: 'team', format: 'table' }, now)).toEqual(['2026-11']);
    expect(() =>
      monthsOf({ by: 'team', format: 'table', month: '2026-11', from: '2026-10' }, now),
    ).toThrow(/either --month or --from/);
    expect(() => monthsOf({ by: 'team', format: 'table', from: '2026-10' }, now)).toThrow(
      /go together/,
    );
  });

  it('accepts only known, distinct dimensions', () => {
    expect(parseDimensions('team, project,model')).toEqual(['team', 'project', 'model']);
    expect(() => parseDimensions('team,colour')).toThrow(/colour is not a dimension/);
    expect(() => parseDimensions('team,team')).toThrow(/twice/);
  });

  it('formats nano-USD with fixed decimals and rounds half up only when asked to', () => {
    expect(usdFixed(1_234_567)).toBe('0.001234567');
    expect(usdFixed(-5)).toBe('-0.000000005');
    expect(usdFixed(1_234_567, 6)).toBe('0.001235');
    expect(usdFixed(2_000_000_000, 2)).toBe('2.00');
  });
});
