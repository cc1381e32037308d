import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/lib/run';
import { fixedClock } from '../../shared/clock';
import type { PipelineDeps } from '../../shared/pipeline/types';
import { emitQualityRates } from '../../shared/pipeline/verdicts';
import type { Metrics } from '../../shared/ports/metrics';
import {
  addDays,
  type DayQuality,
  monthsOfDays,
  qualityTrend,
  regressionRates,
  windowStart,
} from '../../shared/quality/trend';
import { METRICS } from '../../shared/resources';
import { bufferIo, projectDir } from '../cli/support';

/** A day's verdicts of one model: `passed` of `validated`. */
function aDay(day: string, passed: number, validated = 10, over: Partial<DayQuality> = {}) {
  return {
    day,
    team: 'web',
    project: 'shop',
    kind: 'tests' as const,
    model: 'deepseek-flash',
    lane: 'primary' as const,
    testsValidated: validated,
    testsPassed: passed,
    testsPassedFirst: passed,
    ...over,
  } satisfies DayQuality;
}

describe('qualityTrend', () => {
  it('gives each day its own rate and the trailing 7- and 28-day rates of its model', () => {
    // Prepare: 30 days at 9/10, then 3 days at 5/10.
    const rows: DayQuality[] = [];
    for (let i = 0; i < 30; i++) rows.push(aDay(addDays('2026-10-01', i), 9));
    for (let i = 30; i < 33; i++) rows.push(aDay(addDays('2026-10-01', i), 5));

    // Act
    const report = qualityTrend(rows, {
      from: '2026-10-31',
      to: '2026-11-02',
      by: ['day', 'model'],
    });

    // Assess
    expect(report.rows.map((r) => [r.group.day, r.passRate])).toEqual([
      ['2026-10-31', 0.5],
      ['2026-11-01', 0.5],
      ['2026-11-02', 0.5],
    ]);
    const last = report.rows[2];
    // 7 days ending 11-02: 4 days at 9, 3 at 5 -> 51/70; 28 days: 25 at 9, 3 at 5 -> 240/280.
    expect(last?.last7).toMatchObject({ from: '2026-10-27', validated: 70, passed: 51 });
    expect(last?.last28).toMatchObject({ from: '2026-10-06', validated: 280, passed: 240 });
    expect(report.total).toMatchObject({ validated: 30, passed: 15 });
  });

  it('keeps models apart and applies filters', () => {
    const rows = [
      aDay('2026-11-02', 8),
      aDay('2026-11-02', 6, 10, { model: 'deepseek-v4-pro', lane: 'shadow' }),
      aDay('2026-11-02', 1, 10, { team: 'other' }),
    ];

    const byModel = qualityTrend(rows, {
      from: '2026-11-01',
      to: '2026-11-03',
      by: ['model'],
      filter: { team: 'web' },
    });

    expect(byModel.rows.map((r) => [r.group.model, r.passed, r.last7.passed])).toEqual([
      ['deepseek-flash', 8, 8],
      ['deepseek-v4-pro', 6, 6],
    ]);
    expect(
      qualityTrend(rows, {
        from: '2026-11-01',
        to: '2026-11-03',
        by: [],
        filter: { lanes: ['shadow'] },
      }).total.passed,
    ).toBe(6);
  });

  it('leaves days without verdicts out, and says there is no rate rather than 0', () => {
    const report = qualityTrend([aDay('2026-11-02', 0, 0)], {
      from: '2026-11-01',
      to: '2026-11-03',
      by: ['day'],
    });

    expect(report.rows).toEqual([]);
    expect(report.total.passRate).toBeNull();
    expect(report.total.last7.passRate).toBeNull();
  });
});

describe('regressionRates', () => {
  it('measures how many points the 7-day rate is below the 28-day baseline, primary lane only', () => {
    const rows: DayQuality[] = [];
    for (let i = 0; i < 21; i++) rows.push(aDay(addDays('2026-11-01', i), 9));
    for (let i = 21; i < 28; i++) rows.push(aDay(addDays('2026-11-01', i), 6));
    rows.push(aDay('2026-11-28', 0, 100, { lane: 'shadow' }));

    const r = regressionRates(rows, '2026-11-28');

    expect(r.last7.passRate).toBeCloseTo(0.6, 12);
    expect(r.last28.passRate).toBeCloseTo((21 * 9 + 7 * 6) / 280, 12);
    expect(r.dropPoints).toBeCloseTo(((21 * 9 + 7 * 6) / 280 - 0.6) * 100, 9);
  });
});

describe('days and months', () => {
  it('crosses month and year ends in UTC', () => {
    expect(addDays('2026-12-30', 3)).toBe('2027-01-02');
    expect(windowStart('2026-03-01')).toBe('2026-02-02');
    expect(monthsOfDays('2026-11-20', '2027-01-05')).toEqual(['2026-11', '2026-12', '2027-01']);
    expect(() => addDays('2026-1-1', 1)).toThrow(RangeError);
  });
});

describe('warmbatch quality input checks', () => {
  async function quality(...args: string[]) {
    const io = bufferIo(await projectDir({}));
    const code = await runCli(['quality', ...args], {
      io,
      clock: fixedClock('2026-11-30T12:00:00Z'),
      connect: () => Promise.reject(new Error('bad input is refused before connecting')),
      sleep: async () => {},
      pollMs: 1,
    });
    return { code, stderr: io.err() };
  }

  it.each([
    [['--from', '2026-13-01'], '--from 2026-13-01 is not a date'],
    [['--from', '2026-11-20', '--to', '2026-11-10'], 'is after --to'],
    [['--from', '2024-01-01', '--to', '2026-11-10'], 'more than 366 days'],
    [['--format', 'html'], 'add --out'],
    [['--by', 'week'], '"week" is not one of day, team, project, kind, model, lane'],
  ])('refuses %j with exit 2 and a reason', async (args, reason) => {
    const run = await quality(...args);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(reason);
  });
});

describe('emitQualityRates', () => {
  /** A metrics port that keeps what was published, and a ledger of daily roll-ups. */
  function depsWith(rows: DayQuality[]) {
    const published: { dimensionsCleared: boolean; metrics: [string, string, number][] }[] = [];
    const metrics: Metrics = {
      addMetric: () => {},
      publishStoredMetrics: () => {},
      singleMetric: () => {
        const single = { dimensionsCleared: false, metrics: [] as [string, string, number][] };
        published.push(single);
        return {
          clearDefaultDimensions: () => {
            single.dimensionsCleared = true;
          },
          addDimension: () => {
            throw new Error('the quality rates have no dimension');
          },
          addMetric: (name, unit, value) => single.metrics.push([name, unit, value]),
        };
      },
    };
    const ledger = {
      dailyRollups: async (month: string) =>
        rows.filter((r) => r.day.startsWith(month)).map((r) => ({ ...r, month })),
    };
    const deps = { clock: fixedClock('2026-12-03T08:00:00Z'), ledger, metrics };
    return { deps: deps as unknown as PipelineDeps, published };
  }

  it("publishes the primary lane's 7- and 28-day pass rates ending today, across months", async () => {
    // Prepare: 9/10 a day in November, 4/10 a day in December so far.
    const rows: DayQuality[] = [];
    for (let d = addDays('2026-12-03', -40); d <= '2026-12-03'; d = addDays(d, 1))
      rows.push(aDay(d, d >= '2026-12-01' ? 4 : 9));
    rows.push(aDay('2026-12-03', 0, 50, { lane: 'shadow' }));
    const { deps, published } = depsWith(rows);

    // Act
    await emitQualityRates(deps);

    // Assess: 7 days = 4 at 9 + 3 at 4 = 48/70; 28 days = 25 at 9 + 3 at 4 = 237/280.
    expect(published).toHaveLength(1);
    expect(published[0]?.dimensionsCleared).toBe(true);
    const byName = Object.fromEntries(published[0]?.metrics.map(([n, , v]) => [n, v]) ?? []);
    expect(byName[METRICS.testPassRate7d]).toBeCloseTo((48 / 70) * 100, 9);
    expect(byName[METRICS.testPassRate28d]).toBeCloseTo((237 / 280) * 100, 9);
    expect(byName[METRICS.testsValidated7d]).toBe(70);
  });

  it('publishes nothing while no test was validated in the window', async () => {
    const { deps, published } = depsWith([aDay('2026-10-01', 5)]);

    await emitQualityRates(deps);

    expect(published).toEqual([]);
  });
});
