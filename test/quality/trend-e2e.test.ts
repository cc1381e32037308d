/**
 * Quality over time over the in-memory pipeline (test/support/fake-pipeline.ts): batches
 * validated on several simulated days (the pipeline's one clock moved as `npm start -- --at`
 * moves it), the simulator's model getting worse from day to day, and
 * `warmbatch quality --by day,model` showing the trend.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { esModuleProject } from '../../bench/quality-project';
import { runCli } from '../../cli/lib/run';
import { isBrokenAt, type SimQuality } from '../../local/sim/quality';
import { bufferIo, parseCsv, projectDir } from '../cli/support';
import { settlingCliDeps, useFakePipeline } from '../support/fake-pipeline';

const SEED = 11;
const MODEL = 'deepseek-flash';
const N = 6;
/** The simulated model breaks more of its tests each day. */
const DAYS = [
  { day: '2026-11-24', brokenTestRate: 0.1 },
  { day: '2026-11-26', brokenTestRate: 0.45 },
  { day: '2026-11-28', brokenTestRate: 0.8 },
];
const h = useFakePipeline({
  sim: { seed: SEED },
  settings: {
    maxOutputTokens: { docs: 512, tests: 512 },
    executor: { settleMs: 5, stopMarginMs: 500, concurrency: 8 },
  },
});

async function warmbatch(cwd: string, ...args: string[]) {
  const io = bufferIo(cwd);
  const code = await runCli(args, settlingCliDeps(h, io));
  return { code, stdout: io.out(), stderr: io.err() };
}

describe('warmbatch quality over simulated days', () => {
  it('shows the pass rate falling day by day, with the 7- and 28-day rates of the model', async () => {
    // Prepare: what the simulator will pass each day (its decisions are seeded hashes).
    const files = esModuleProject(N);
    const sources = Object.keys(files).filter((p) => p.endsWith('.mjs'));
    const passing = DAYS.map(
      ({ brokenTestRate }) =>
        sources.filter(
          (p) =>
            !isBrokenAt({ brokenTestRate, repairSuccessRate: 0, byModel: {} }, SEED, MODEL, p, 0),
        ).length,
    );
    // The seed makes the days differ, or the test would show no trend.
    expect(passing[0]).toBeGreaterThan(passing[1] as number);
    expect(passing[1]).toBeGreaterThan(passing[2] as number);

    // Act: one validated batch a day, each day's context new (so no answer is reused).
    for (const [i, { day, brokenTestRate }] of DAYS.entries()) {
      h.setClock(`${day}T12:00:00Z`);
      const quality: SimQuality = { brokenTestRate, repairSuccessRate: 0, byModel: {} };
      h.sim.configure({ quality });
      const dir = await projectDir({ ...files, 'STYLE.md': `${files['STYLE.md']}Day ${i}.\n` });
      const run = await warmbatch(
        dir,
        ...['submit', '--team', 'web', '--project', 'shop', '--kind', 'tests', 'src'],
        ...['--context', 'STYLE.md', '--out', '.', '--json', '--repair-rounds', '0'],
        ...['--validate', 'node --test {file}', '--validate-concurrency', '4'],
      );
      expect(run.stderr).not.toMatch(/warmbatch submit:/);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).quality).toMatchObject({
        testsValidated: N,
        testsPassed: passing[i],
      });
    }
    h.setClock('2026-11-29T09:00:00Z');
    const json = await warmbatch(
      '.',
      ...[
        'quality',
        '--from',
        '2026-11-23',
        '--to',
        '2026-11-29',
        '--by',
        'day,model',
        '--format',
        'json',
      ],
    );
    const table = await warmbatch('.', 'quality', '--from', '2026-11-23', '--by', 'day,model');
    const csv = await warmbatch('.', 'quality', '--from', '2026-11-23', '--format', 'csv');
    const pageDir = await projectDir({});
    const html = await warmbatch(
      pageDir,
      ...['quality', '--from', '2026-11-23', '--format', 'html', '--out', 'quality.html'],
    );

    // Assess: one row per day that had verdicts, at the simulator's rates, falling.
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(
      report.rows.map(
        (r: { group: { day: string; model: string }; validated: number; passed: number }) => [
          r.group.day,
          r.group.model,
          r.validated,
          r.passed,
        ],
      ),
    ).toEqual(DAYS.map(({ day }, i) => [day, MODEL, N, passing[i]]));
    const rates = report.rows.map((r: { passRate: number }) => r.passRate);
    expect(rates[0]).toBeGreaterThan(rates[1]);
    expect(rates[1]).toBeGreaterThan(rates[2]);
    // The 7-day rate on the last day covers all three days, and is above that day's own rate.
    const last = report.rows[2];
    const all = (passing as number[]).reduce((a, b) => a + b, 0);
    expect(last.last7).toMatchObject({ validated: 3 * N, passed: all });
    expect(last.last7.passRate).toBeGreaterThan(last.passRate);
    expect(report.rows[0].last7).toMatchObject({ validated: N, passed: passing[0] });
    expect(report.total).toMatchObject({ validated: 3 * N, passed: all });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      new RegExp(`2026-11-28\\s*│\\s*${MODEL}\\s*│\\s*${N}\\s*│\\s*${passing[2]}`),
    );
    const rows = parseCsv(csv.stdout);
    expect(rows[0]?.slice(0, 4)).toEqual(['day', 'model', 'validated', 'passed']);
    expect(rows.at(-1)?.slice(0, 4)).toEqual(['TOTAL', '', String(3 * N), String(all)]);
    expect(html.code).toBe(0);
    const page = await readFile(join(pageDir, 'quality.html'), 'utf8');
    // One line of the model's three days, and a table row per day.
    expect(page.match(/<polyline [^>]*points="([^"]+)"/)?.[1]?.split(' ')).toHaveLength(3);
    for (const { day } of DAYS) expect(page).toContain(`<td>${day}</td>`);
  }, 240_000);
});
