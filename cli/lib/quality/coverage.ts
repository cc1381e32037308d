/**
 * The third filter (after "builds" and "passes reliably"): with `--coverage '<command>'`, a
 * passing test is kept (with `--keep-if adds-coverage`) only if it raises the line coverage of
 * its own source file. The command runs the project's test suite with coverage and writes an
 * istanbul json-summary or an lcov file (`--coverage-report`). It runs once with none of the
 * generated tests in place (the baseline), then once per passing test with only that test in
 * place, so each test is measured against the same baseline, one after the other (they share
 * the report file).
 */
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type FileCoverage, parseCoverage } from '../../../shared/quality/coverage';
import type { LoopContext, QualityOptions, TestRecord } from './loop';
import { moveOut } from './loop';
import { runCommand } from './run';

async function measure(
  ctx: LoopContext,
  options: QualityOptions,
): Promise<Map<string, FileCoverage> | undefined> {
  const report = resolve(ctx.io.cwd, options.coverageReport);
  await rm(report, { force: true });
  const run = await runCommand(options.coverage as string, {
    cwd: ctx.io.cwd,
    timeoutMs: options.timeoutMs * 10,
  });
  if (run.timedOut) return undefined;
  try {
    return parseCoverage(await readFile(report, 'utf8'), ctx.io.cwd);
  } catch {
    return undefined;
  }
}

/**
 * Measures each kept (passing) test's coverage gain on its source file and, with
 * `keepIf: 'adds-coverage'`, moves out those that add none. Returns false when the baseline
 * could not be measured (then nothing is filtered).
 */
export async function filterByCoverage(
  ctx: LoopContext,
  tests: TestRecord[],
  outDir: string,
  options: QualityOptions,
): Promise<boolean> {
  if (options.coverage === undefined) return false;
  const passing = tests.filter((t) => t.kept && t.lane === 'primary');
  const aside = await mkdtemp(join(tmpdir(), 'warmbatch-coverage-'));
  const park = async (t: TestRecord) => {
    await mkdir(dirname(join(aside, t.testPath)), { recursive: true });
    await rename(join(outDir, t.testPath), join(aside, t.testPath));
  };
  const unpark = (t: TestRecord) => rename(join(aside, t.testPath), join(outDir, t.testPath));
  try {
    for (const t of passing) await park(t);
    const baseline = await measure(ctx, options);
    if (!baseline) {
      for (const t of passing) await unpark(t);
      ctx.io.stderr.write(
        `coverage: the baseline run wrote no readable report at ${options.coverageReport}: no test was filtered by coverage\n`,
      );
      return false;
    }
    for (const t of passing) {
      await unpark(t);
      const after = await measure(ctx, options);
      const before = baseline.get(t.path);
      const now = after?.get(t.path);
      const total = Math.max(now?.total ?? 0, before?.total ?? 0);
      t.coverage = { before: before?.covered ?? 0, after: now?.covered ?? 0, total };
      if (options.keepIf === 'adds-coverage' && !(t.coverage.after > t.coverage.before)) {
        t.output = `the test passes but adds no covered line to ${t.path} (${t.coverage.before} of ${total} before and after)`;
        t.kept = false;
        await moveOut(t, outDir, options.quarantine, 'no_coverage_gain');
        continue;
      }
      // Measured alone: park it again until every test was measured.
      await park(t);
    }
    for (const t of passing) if (t.kept) await unpark(t);
    return true;
  } finally {
    await rm(aside, { recursive: true, force: true });
  }
}
