/**
 * Every view of `warmbatch costs` either computes its quality columns or says why not; `--lanes`
 * applies to the HTML report's charts as to its table; cost per passing test without the repair
 * lane leaves the repairs' cost out.
 */
import { describe, expect, it } from 'vitest';
import { costsJson, renderCostsCsv, renderCostsTable } from '../../cli/lib/costs';
import { renderCostsHtml } from '../../cli/lib/costs-html';
import type { Fact } from '../../shared/chargeback/facts';
import { aggregate } from '../../shared/chargeback/report';
import { chartSeries } from '../../shared/chargeback/series';
import { zeroQuality } from '../../shared/quality/verdicts';
import { zeroTotals } from '../../shared/totals';
import { parseCsv } from './support';

function fact(over: Partial<Fact> = {}): Fact {
  return {
    ...zeroTotals(),
    ...zeroQuality(),
    month: '2026-11',
    day: '2026-11-30',
    team: 'payments',
    project: 'api',
    model: 'deepseek-flash',
    kind: 'tests',
    lane: 'primary',
    requests: 4,
    costNanoUsd: 4_000_000,
    ...over,
  };
}

describe('quality columns', () => {
  it('say why they are empty when the view cannot split verdicts', () => {
    // Prepare: verdicts are counted per month; a view by day cannot split them
    const facts = [fact({ testsValidated: 4, testsPassed: 3, validatedCostNanoUsd: 3_000_000 })];
    const report = aggregate(facts, {
      by: ['day'],
      months: ['2026-11'],
      qualityNote: 'quality columns are not split by day: verdicts are counted per month',
    });

    // Act
    const table = renderCostsTable(report);
    const [header, , total] = parseCsv(renderCostsCsv(report));

    // Assess
    expect(table).toContain('quality columns are not split by day');
    expect(total?.[header?.indexOf('tests_passed') as number]).toBe('');
    expect(JSON.parse(costsJson(report)).qualityNote).toContain('not split by day');
  });

  it('are two counts, passed and validated, not a 3/4 cell a spreadsheet reads as a date', () => {
    // Act
    const report = aggregate([fact({ testsValidated: 4, testsPassed: 3 })], {
      by: ['team'],
      months: ['2026-11'],
    });
    const [header, row] = parseCsv(renderCostsCsv(report));

    // Assess
    expect(row?.[header?.indexOf('tests_passed') as number]).toBe('3');
    expect(row?.[header?.indexOf('tests_validated') as number]).toBe('4');
    expect(renderCostsCsv(report)).not.toContain('3/4');
  });
});

describe('cost per passing test by lane', () => {
  it('leaves repairs out under --lanes primary: first answers over first-try passes', () => {
    // Prepare: 4 tests cost 4,000,000 first time and 1,000,000 in repairs; 2 passed first, 3 in the end
    const q = {
      testsValidated: 4,
      testsPassed: 3,
      testsPassedFirst: 2,
      validatedCostNanoUsd: 5_000_000,
      repairCostNanoUsd: 1_000_000,
    };
    const repairLane = fact({ lane: 'repair', costNanoUsd: 1_000_000 });

    // Act
    const all = aggregate([fact(q), repairLane], { by: ['team'], months: ['2026-11'] });
    const primary = aggregate([fact(q), repairLane], {
      by: ['team'],
      months: ['2026-11'],
      lanes: ['primary'],
    });

    // Assess
    expect(JSON.parse(costsJson(all)).totals.costPerPassingTestNanoUsd).toBe(1_666_667);
    expect(JSON.parse(costsJson(primary)).totals.costPerPassingTestNanoUsd).toBe(2_000_000);
    expect(JSON.parse(costsJson(all)).totals.repairLaneNanoUsd).toBe(1_000_000);
  });
});

describe('the HTML report', () => {
  it('draws only the lanes asked for', () => {
    // Prepare
    const facts = [fact(), fact({ lane: 'shadow', costNanoUsd: 9_000_000 })];

    // Act
    const data = chartSeries(facts, { lanes: ['primary'] });

    // Assess
    expect(data.totals.costNanoUsd).toBe(4_000_000);
  });
});

describe('the HTML report table', () => {
  it('shows ratios as percentages, as people read them', () => {
    // Prepare
    const report = aggregate([fact({ hitTokens: 2_983, missTokens: 7_017 })], {
      by: ['team'],
      months: ['2026-11'],
    });

    // Act
    const html = renderCostsHtml(report, chartSeries([], {}), {
      generatedAt: '2026-11-30T12:00:00Z',
    });

    // Assess
    expect(html).toContain('<td>29.8%</td>');
    expect(html).not.toContain('<td>0.2983</td>');
  });
});
