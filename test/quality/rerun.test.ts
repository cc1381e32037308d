/**
 * A CI re-run: the same project checked out afresh with one file changed, submitted again with
 * `--validate`. Every unchanged file reuses its earlier answer (the same broken tests as the
 * first run's, before their repairs), so the reused failing tests must be repaired from the
 * request and answer their reuse entry names; and what cannot be repaired is said, per file.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { esModuleProject } from '../../bench/quality-project';
import { runCli } from '../../cli/lib/run';
import { isBrokenAt, type SimQuality } from '../../local/sim/quality';
import { bufferIo, projectDir } from '../cli/support';
import { settlingCliDeps, useFakePipeline } from '../support/fake-pipeline';

const SEED = 4;
const MODEL = 'deepseek-flash';
const N = 6;
/** Every repair fixes its test: whatever is left failing was not repaired at all. */
const QUALITY: SimQuality = { brokenTestRate: 0.4, repairSuccessRate: 1, byModel: {} };
const h = useFakePipeline({
  sim: { seed: SEED, quality: QUALITY },
  settings: {
    maxOutputTokens: { docs: 512, tests: 512 },
    executor: { settleMs: 5, stopMarginMs: 500, concurrency: 8 },
  },
});
/** The checkouts of the runs, removed after the tests. */
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'warmbatch-rerun-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

beforeEach(() => {
  h.sim.configure({ quality: QUALITY });
});

async function warmbatch(cwd: string, ...args: string[]) {
  const io = bufferIo(cwd);
  const code = await runCli(args, settlingCliDeps(h, io));
  return { code, stdout: io.out(), stderr: io.err() };
}

async function testsUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.includes('.test.'))
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

const SUBMIT = [
  ...['submit', '--team', 'web', '--project', 'shop', '--kind', 'tests', 'src'],
  ...['--context', 'STYLE.md', '--out', '.', '--json'],
  ...['--validate', 'node --test {file}', '--validate-concurrency', '4'],
  '--fail-on-failing-tests',
];

interface Summary {
  exitCode: number;
  counters: Record<string, number>;
  quality: {
    testsValidated: number;
    testsPassed: number;
    testsPassedFirst: number;
    repairRequests: number;
    tests: { path: string; verdicts: string[]; notRepaired?: { code: string; reason: string } }[];
    repairBatchIds?: string[];
  };
}

describe('a CI re-run with --validate', () => {
  it('repairs the failing tests of reused files, leaving none failing and none refused', async () => {
    // Prepare: the first run, on a fresh checkout.
    const files = esModuleProject(N);
    const sources = Object.keys(files).filter((p) => p.endsWith('.mjs'));
    const broken = sources.filter((p) => isBrokenAt(QUALITY, SEED, MODEL, p, 0));
    expect(broken.length).toBeGreaterThan(1);
    const first = await warmbatch(await projectDir(files, work), ...SUBMIT);
    expect(first.code).toBe(0);
    expect((JSON.parse(first.stdout) as Summary).quality.testsPassed).toBe(N);

    // Act: a fresh checkout again (generated tests are not committed), one file changed.
    const changed = sources.find((p) => !broken.includes(p)) as string;
    const again = await projectDir(
      { ...files, [changed]: `${files[changed]}export const CHANGED = true;\n` },
      work,
    );
    const rerun = await warmbatch(again, ...SUBMIT);

    // Assess: the unchanged files reused their answers, broken ones included ...
    const summary = JSON.parse(rerun.stdout) as Summary;
    expect(summary.counters.reused).toBe(N - 1);
    expect(summary.quality.testsPassedFirst).toBe(N - broken.length);
    // ... and every broken one was repaired: none refused, none left failing.
    expect(rerun.stderr).not.toContain('not repaired');
    expect(summary.quality.tests.filter((t) => t.notRepaired)).toEqual([]);
    expect(summary.quality.repairRequests).toBe(broken.length);
    expect(summary.quality.testsPassed).toBe(N);
    expect(rerun.code).toBe(0);
    expect(await testsUnder(join(again, 'src'))).toHaveLength(N);
  }, 180_000);

  it('says which file could not be repaired and why, and fails the step when asked', async () => {
    // Prepare: a first run, then the reuse entries lose where their requests are (as entries
    // written before they recorded it).
    const files = esModuleProject(N);
    const sources = Object.keys(files).filter((p) => p.endsWith('.mjs'));
    const broken = sources.filter((p) => isBrokenAt(QUALITY, SEED, MODEL, p, 0));
    const first = await warmbatch(await projectDir(files, work), ...SUBMIT);
    expect(first.code).toBe(0);
    const ran = JSON.parse(first.stdout) as Summary & { batchId: string };
    const { jobs } = h.deps;
    const entries = [];
    for (const batchId of [ran.batchId, ...(ran.quality.repairBatchIds ?? [])])
      for (const job of await jobs.listJobs({ team: 'web', batchId })) {
        const entry = job.requestHash
          ? await jobs.getReuse(job.requestHash, h.deps.clock.now())
          : undefined;
        if (entry) entries.push(entry);
      }
    expect(entries.length).toBeGreaterThanOrEqual(N);
    for (const { origin: _o, ...rest } of entries) await jobs.putReuse(rest);

    // Act
    const checkout = await projectDir(files, work);
    const rerun = await warmbatch(checkout, ...SUBMIT, '--junit', 'warmbatch-junit.xml');

    // Assess
    const summary = JSON.parse(rerun.stdout) as Summary;
    const refused = summary.quality.tests.filter((t) => t.notRepaired).map((t) => t.path);
    expect(refused.sort()).toEqual([...broken].sort());
    for (const path of broken)
      expect(rerun.stderr).toContain(`not repaired: ${path}: it reused an earlier answer`);
    expect(summary.quality.testsPassed).toBe(N - broken.length);
    expect(rerun.code).toBe(7);
    // The CI's test tab gets the same: each unrepaired test a failure saying why.
    const junit = await readFile(join(checkout, 'warmbatch-junit.xml'), 'utf8');
    for (const path of broken)
      expect(junit).toContain(
        `name="${path.replace(/\.mjs$/, '.test.mjs')}">\n      <failure type="failed" message="failed; not repaired: it reused an earlier answer`,
      );
  }, 180_000);
});
