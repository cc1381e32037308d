/**
 * The quality loop end to end over the in-memory pipeline (test/support/fake-pipeline.ts), the
 * planner, workers and finalize it runs being the deployed ones: `submit --validate` on a small
 * JS project whose tests the simulator writes (a seeded share broken, repairs fixing a seeded
 * share), validated with Node's own test runner, repaired through the pipeline, quarantined,
 * recorded.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { esModuleProject } from '../../bench/quality-project';
import { runCli } from '../../cli/lib/run';
import { isBrokenAt, type SimQuality } from '../../local/sim/quality';
import { jobIdFor } from '../../shared/inputs';
import { newcombePaired } from '../../shared/quality/stats';
import { bufferIo, projectDir } from '../cli/support';
import { settlingCliDeps, useFakePipeline } from '../support/fake-pipeline';

const SEED = 4;
const MODEL = 'deepseek-flash';
const SHADOW = 'deepseek-v4-pro';
const QUALITY: SimQuality = { brokenTestRate: 0.3, repairSuccessRate: 0.7, byModel: {} };
const h = useFakePipeline({
  sim: { seed: SEED, quality: QUALITY },
  settings: {
    maxOutputTokens: { docs: 512, tests: 512 },
    executor: { settleMs: 5, stopMarginMs: 500, concurrency: 8 },
  },
});

const N = 12;

async function testFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.includes('.test.'))
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

async function warmbatch(cwd: string, ...args: string[]) {
  const io = bufferIo(cwd);
  const code = await runCli(args, settlingCliDeps(h, io));
  return { code, stdout: io.out(), stderr: io.err() };
}

describe('submit --validate', () => {
  it('reports pass rates before and after repair as the simulator dictates, leaves only passing tests, and repairs ride the cache', async () => {
    // Prepare
    h.sim.configure({ quality: QUALITY });
    const files = esModuleProject(N);
    const dir = await projectDir(files);
    const sources = Object.keys(files).filter((p) => p.endsWith('.mjs'));
    const broken = sources.filter((p) => isBrokenAt(QUALITY, SEED, MODEL, p, 0));
    const stillBroken = sources.filter((p) => isBrokenAt(QUALITY, SEED, MODEL, p, 1));
    // The seed's draws are within sampling error of the rates (3 standard deviations).
    const sd = (n: number, p: number) => 3 * Math.sqrt(n * p * (1 - p));
    expect(Math.abs(broken.length - N * 0.3)).toBeLessThanOrEqual(sd(N, 0.3));
    expect(Math.abs(stillBroken.length - broken.length * 0.3)).toBeLessThanOrEqual(
      sd(broken.length, 0.3),
    );
    expect(broken.length).toBeGreaterThan(stillBroken.length);
    expect(stillBroken.length).toBeGreaterThan(0);

    // Act
    const run = await warmbatch(
      dir,
      ...['submit', '--team', 'web', '--project', 'shop', '--kind', 'tests', 'src'],
      ...['--context', 'STYLE.md', '--out', '.', '--json'],
      ...['--validate', 'node --test {file}', '--validate-concurrency', '4'],
      ...['--quarantine', 'quarantine'],
    );

    // Assess: the figures are the simulator's.
    expect(run.stderr).not.toMatch(/warmbatch submit:/);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    const q = summary.quality;
    expect(q).toMatchObject({
      testsValidated: N,
      testsPassedFirst: N - broken.length,
      testsPassed: N - stillBroken.length,
      testsPassedAfterRepair: broken.length - stillBroken.length,
      repairRequests: broken.length,
      recorded: true,
    });
    expect(q.firstTryPassRate).toBeCloseTo((N - broken.length) / N, 10);
    expect(q.passRate).toBeCloseTo((N - stillBroken.length) / N, 10);
    expect(q.costPerPassingTestNanoUsd).toBe(
      Math.round(q.validatedCostNanoUsd / (N - stillBroken.length)),
    );
    // No failing test is left beside the sources; the failing ones are quarantined with output.
    const left = await testFilesUnder(join(dir, 'src'));
    expect(left).toHaveLength(N - stillBroken.length);
    const quarantined = await testFilesUnder(join(dir, 'quarantine'));
    expect(quarantined.filter((p) => !p.endsWith('.failure.txt'))).toEqual(
      stillBroken.map((p) => p.replace(/\.mjs$/, '.test.mjs')).sort(),
    );
    const rerun = await Promise.all(left.map((p) => warmbatchNodeTest(dir, join('src', p))));
    expect(rerun.every((ok) => ok)).toBe(true);
    const failure = await readFile(
      join(dir, 'quarantine', `${stillBroken[0]?.replace(/\.mjs$/, '.test.mjs')}.failure.txt`),
      'utf8',
    );
    expect(failure).toMatch(/^verdict: failed\n/);
    // Failure output reaches the user's files and the model, never stdout or stderr.
    expect(run.stdout + run.stderr).not.toContain('ERR_MODULE_NOT_FOUND');

    // The repairs hit the cache on at least 95% of their original prompt's tokens.
    expect(q.repairCacheHitOnOriginalPrompt).toBeGreaterThanOrEqual(0.95);
    const [repairId] = q.repairBatchIds as string[];
    const repairs = await h.deps.jobs.listJobs({ team: 'web', batchId: repairId as string });
    expect(repairs).toHaveLength(broken.length);
    for (const r of repairs) {
      const original = await h.deps.jobs.getJob(
        { team: 'web', batchId: summary.batchId },
        jobIdFor(summary.batchId, r.path),
      );
      const prompt =
        (original?.usage?.promptHitTokens ?? 0) + (original?.usage?.promptMissTokens ?? 0);
      expect(r.repairOf).toEqual({ batchId: summary.batchId, jobId: original?.jobId });
      expect(r.usage?.promptHitTokens ?? 0).toBeGreaterThanOrEqual(0.95 * prompt);
    }

    // Recorded: on the batch (status, summary.json) and in the ledger, which equals the bill.
    const status = await warmbatch(dir, 'status', summary.batchId, '--team', 'web', '--json');
    expect(JSON.parse(status.stdout).quality).toMatchObject({
      testsPassed: N - stillBroken.length,
    });
    const written = JSON.parse(
      (await h.deps.objects.getText(`results/web/${summary.batchId}/summary.json`)) ?? '{}',
    );
    expect(written.quality).toMatchObject({
      testsValidated: N,
      testsPassed: N - stillBroken.length,
      costPerPassingTestNanoUsd: q.costPerPassingTestNanoUsd,
    });
    const costs = await warmbatch(dir, 'costs', '--by', 'model,lane', '--format', 'json');
    const report = JSON.parse(costs.stdout);
    const billed = h.sim.usage().totals;
    expect(report.totals).toMatchObject({
      requests: billed.requests,
      hitTokens: billed.hitTokens,
      missTokens: billed.missTokens,
      outputTokens: billed.outputTokens,
      costNanoUsd: billed.costNanoUsd,
      testsPassed: N - stillBroken.length,
      costPerPassingTestNanoUsd: q.costPerPassingTestNanoUsd,
    });
    const repairRow = report.rows.find((r: { lane: string }) => r.lane === 'repair');
    expect(repairRow.costNanoUsd).toBe(q.repairCostNanoUsd);
  }, 180_000);
});

describe('shadow comparison', () => {
  /**
   * Files of the shadow run, each a pair of answers: enough for the two models' pass rates to
   * differ at this seed and far short of the playbook's 200; more would only add validations.
   */
  const PAIRS = 6;

  it('validates a shadow run the same way and compares two models with different pass rates', async () => {
    // Prepare: the shadow model writes broken tests far less often.
    const quality: SimQuality = {
      brokenTestRate: 0.4,
      repairSuccessRate: 0.7,
      byModel: { [SHADOW]: { brokenTestRate: 0.05 } },
    };
    h.sim.configure({ quality });
    const files = esModuleProject(PAIRS);
    const dir = await projectDir(files);
    const sources = Object.keys(files).filter((p) => p.endsWith('.mjs'));
    const passes = (model: string) =>
      sources.filter((p) => !isBrokenAt(quality, SEED, model, p, 0)).length;
    expect(passes(SHADOW)).toBeGreaterThan(passes(MODEL));

    // Act
    const run = await warmbatch(
      dir,
      ...['submit', '--team', 'web', '--project', 'shop', '--kind', 'tests', 'src'],
      ...['--context', 'STYLE.md', '--out', '.', '--json', '--repair-rounds', '0'],
      ...['--validate', 'node --test {file}', '--validate-concurrency', '4'],
      ...['--shadow', SHADOW, '--shadow-rate', '1'],
    );
    const summary = JSON.parse(run.stdout);
    const compared = await warmbatch(
      dir,
      ...['compare', summary.batchId, '--team', 'web', '--json', '--out', 'side-by-side'],
    );
    const table = await warmbatch(dir, 'compare', summary.batchId, '--team', 'web');
    const costs = await warmbatch(dir, 'costs', '--by', 'model', '--format', 'json');
    const chargeback = await warmbatch(
      dir,
      ...['costs', '--by', 'team', '--lanes', 'primary,repair', '--format', 'json'],
    );

    // Assess: both runs validated the same way, with the simulator's pass rates.
    expect(run.code).toBe(0);
    expect(summary.quality).toMatchObject({
      testsValidated: PAIRS,
      testsPassedFirst: passes(MODEL),
      shadow: { model: SHADOW, testsValidated: PAIRS, testsPassed: passes(SHADOW) },
    });
    // The shadow's tests were validated in place and taken away again: only the primary's stay.
    expect((await testFilesUnder(join(dir, 'src'))).length).toBe(passes(MODEL));
    expect(compared.code).toBe(0);
    const models = JSON.parse(compared.stdout).models;
    expect(models.map((m: { model: string }) => m.model)).toEqual([MODEL, SHADOW]);
    expect(models[0]).toMatchObject({
      files: PAIRS,
      validated: PAIRS,
      passedFirstTry: passes(MODEL),
    });
    expect(models[1]).toMatchObject({
      files: PAIRS,
      validated: PAIRS,
      passedFirstTry: passes(SHADOW),
    });
    expect(models[0].firstTryPassRate).not.toBe(models[1].firstTryPassRate);
    expect(models[1].costPerPassingTestNanoUsd).toBeGreaterThan(0);
    expect(table.stdout).toMatch(new RegExp(`${SHADOW}\\s.*shadow`));
    // The sample: every file a pair, short of the playbook's 200, and the delta's paired interval.
    const passedBy = (model: string) =>
      new Set(sources.filter((p) => !isBrokenAt(quality, SEED, model, p, 0)));
    const [shadowPass, primaryPass] = [passedBy(SHADOW), passedBy(MODEL)];
    const counts = {
      both: sources.filter((p) => shadowPass.has(p) && primaryPass.has(p)).length,
      firstOnly: sources.filter((p) => shadowPass.has(p) && !primaryPass.has(p)).length,
      secondOnly: sources.filter((p) => !shadowPass.has(p) && primaryPass.has(p)).length,
      neither: sources.filter((p) => !shadowPass.has(p) && !primaryPass.has(p)).length,
    };
    const ci = newcombePaired(counts);
    expect(JSON.parse(compared.stdout).sample).toEqual({
      pairs: PAIRS,
      required: 200,
      enough: false,
      kind: 'tests',
      counts,
      passRateDelta: {
        delta: (passes(SHADOW) - passes(MODEL)) / PAIRS,
        lower: ci?.lower,
        upper: ci?.upper,
        method: 'Newcombe paired score interval, 95%',
      },
    });
    expect(table.stdout).toContain(
      `the playbook asks for 200+ per task type: not reached (${200 - PAIRS} more)`,
    );
    expect(table.stdout).toMatch(
      /first-try pass rate, deepseek-v4-pro - deepseek-flash: \+\d+\.\d points \(95% CI/,
    );
    const sample = sources[0]?.replace(/\.mjs$/, '.test.mjs') as string;
    expect(await readFile(join(dir, 'side-by-side', MODEL, sample), 'utf8')).toContain('node:test');
    expect(await readFile(join(dir, 'side-by-side', SHADOW, sample), 'utf8')).toContain(
      'node:test',
    );
    // costs shows the cost per passing test by model; chargeback can leave the shadow out.
    const rows = JSON.parse(costs.stdout).rows as {
      model: string;
      testsPassed: number;
      passRate: number;
      costPerPassingTestNanoUsd: number;
      costNanoUsd: number;
    }[];
    const flash = rows.find((r) => r.model === MODEL);
    const pro = rows.find((r) => r.model === SHADOW);
    expect(flash?.testsPassed).toBe(passes(MODEL));
    expect(pro?.testsPassed).toBe(passes(SHADOW));
    expect(flash?.passRate).not.toBe(pro?.passRate);
    expect(pro?.costPerPassingTestNanoUsd).toBe(Math.round(models[1].costNanoUsd / passes(SHADOW)));
    expect(JSON.parse(chargeback.stdout).totals.costNanoUsd).toBe(
      JSON.parse(costs.stdout).totals.costNanoUsd - (pro?.costNanoUsd ?? 0),
    );
  }, 180_000);
});

describe('the other checks', () => {
  it('keeps a passing test only if it adds coverage to its source (--keep-if adds-coverage)', async () => {
    // Prepare: every answer passes; module 0 already has a test covering every line.
    h.sim.configure({ quality: { brokenTestRate: 0, repairSuccessRate: 1, byModel: {} } });
    const files = esModuleProject(4);
    files['src/m0/existing.test.mjs'] = [
      "import assert from 'node:assert/strict';",
      "import { it } from 'node:test';",
      "import { LIMIT_0, scale0 } from './calc0.mjs';",
      "it('scales', () => { assert.equal(scale0(2, 0), 0); assert.equal(scale0(2, 3), 6); assert.equal(LIMIT_0, 0); });",
      '',
    ].join('\n');
    const dir = await projectDir(files);

    // Act
    const run = await warmbatch(
      dir,
      ...['submit', '--team', 'web', '--project', 'shop', '--kind', 'tests', 'src/**/calc*.mjs'],
      ...['--context', 'STYLE.md', '--out', '.', '--json', '--validate', 'node --test {file}'],
      '--coverage',
      'mkdir -p coverage && node --test --experimental-test-coverage --test-reporter=lcov --test-reporter-destination=coverage/lcov.info',
      ...['--coverage-report', 'coverage/lcov.info', '--keep-if', 'adds-coverage'],
    );

    // Assess
    expect(run.code).toBe(0);
    const q = JSON.parse(run.stdout).quality;
    expect(q).toMatchObject({ testsValidated: 4, testsPassed: 4, testsKept: 3 });
    expect(q.coveredLinesGained).toBeGreaterThan(0);
    expect(q.costPerCoveredLineNanoUsd).toBe(
      Math.round(q.validatedCostNanoUsd / q.coveredLinesGained),
    );
    const dropped = q.tests.filter((t: { kept: boolean }) => !t.kept);
    expect(dropped.map((t: { path: string }) => t.path)).toEqual(['src/m0/calc0.mjs']);
    expect(dropped[0].coverage.after).toBe(dropped[0].coverage.before);
    expect(await testFilesUnder(join(dir, 'src'))).toEqual([
      'm0/existing.test.mjs',
      'm1/calc1.test.mjs',
      'm2/calc2.test.mjs',
      'm3/calc3.test.mjs',
    ]);
  }, 120_000);

  it('checks generated docs against their sources with the TypeScript compiler', async () => {
    // Prepare
    const dir = await projectDir({
      'src/cart.ts':
        'export interface Line { sku: string }\nexport function total(lines: Line[]): number {\n  return lines.length;\n}\n',
      'src/format.js':
        'export function money(cents) {\n  return String(cents);\n}\nexport const ZERO = 0;\n',
    });

    // Act
    const run = await warmbatch(
      dir,
      ...[
        'submit',
        '--team',
        'web',
        '--project',
        'shop',
        '--kind',
        'docs',
        'src',
        '--out',
        'docs',
        '--json',
      ],
    );

    // Assess: the simulator documents every export it finds, and invents nothing.
    expect(run.code).toBe(0);
    const q = JSON.parse(run.stdout).quality;
    expect(q.docFiles).toEqual([
      {
        path: 'src/cart.ts',
        exports: 2,
        mentioned: 2,
        missing: [],
        inventedNames: [],
        invented: 0,
        method: 'typescript',
      },
      {
        path: 'src/format.js',
        exports: 2,
        mentioned: 2,
        missing: [],
        inventedNames: [],
        invented: 0,
        method: 'typescript',
      },
    ]);
    expect(q.docs).toMatchObject({ checked: 2, exports: 4, mentioned: 4, score: 1 });
    expect(q.recorded).toBe(true);
  }, 120_000);
});

/** Runs one test file with Node's test runner in `cwd`: true when it passes. */
async function warmbatchNodeTest(cwd: string, file: string): Promise<boolean> {
  const { runCommand } = await import('../../cli/lib/quality/run');
  const r = await runCommand(`node --test '${file}'`, { cwd, timeoutMs: 30_000 });
  return r.exitCode === 0;
}
