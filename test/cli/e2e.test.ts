import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../cli/config';
import { runCli } from '../../cli/lib/run';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline';
import { recreateTables } from '../../local/runtime/resources';
import type { SimHandle } from '../../local/sim/server';
import { runningClock } from '../../shared/clock';
import { sharedAws } from '../support/shared-aws';
import { bufferIo, depsOver, nanoOf, parseCsv, projectDir, servicesOver } from './support';

// Pinned, so what the run prices does not depend on the machine's date (Monday, off-peak).
const clock = runningClock('2026-11-30T12:00:00Z');
let pipeline: LocalPipeline;
let sim: SimHandle;
let services: Services;

beforeAll(async () => {
  pipeline = await startLocalPipeline({
    clock,
    ports: { s3Sqs: 0 },
    ...sharedAws(),
    sim: { timeScale: 0, seed: 11 },
    timeScale: 0.05,
    configPath: false,
    // Line items are tested in test/chargeback; the stream reader would only add load here.
    exportLineItems: false,
    concurrency: { planner: 1, worker: 2, finalize: 1 },
    settings: {
      maxFileBytes: 20_000,
      maxOutputTokens: { docs: 256, tests: 256 },
      executor: { settleMs: 5, stopMarginMs: 500, concurrency: 8 },
    },
  });
  if (!pipeline.sim) throw new Error('the local pipeline started without its simulator');
  sim = pipeline.sim;
  services = servicesOver(pipeline.runtime);
});

afterAll(async () => {
  await pipeline?.stop();
});

beforeEach(async () => {
  clock.set('2026-11-30T12:00:00Z');
  await pipeline.runtime.drain();
  await recreateTables(pipeline.runtime.clients, pipeline.runtime.resources.tables);
  sim.reset();
  sim.configure({ faults: { stallMs: 0 } });
});

function source(i: number): string {
  return `export function add${i}(a: number, b: number): number {\n  return a + b + ${i};\n}\n`;
}

function sources(n: number, dir = 'src'): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`${dir}/m${i}/file${i}.ts`, source(i)]),
  );
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

/** Runs `warmbatch <args>` in-process in `cwd` against the local runtime. */
async function warmbatch(cwd: string, ...args: string[]) {
  const io = bufferIo(cwd);
  const code = await runCli(args, depsOver(pipeline.runtime, io, { clock }));
  return { code, stdout: io.out(), stderr: io.err(), io };
}

const SUBMIT = ['submit', '--team', 'web', '--project', 'shop', '--kind', 'docs'];

describe('warmbatch against the local runtime', () => {
  it('submits a directory, waits, downloads one output per input and exits 0', async () => {
    // Prepare
    const files = { ...sources(6), 'STYLE.md': '# Style\nUse JSDoc.\n' };
    const dir = await projectDir(files);

    // Act
    const run = await warmbatch(
      dir,
      ...SUBMIT,
      'src',
      '--context',
      'STYLE.md',
      '--wait',
      '--out',
      'generated',
      '--json',
    );

    // Assess
    expect(run.stderr).not.toMatch(/warmbatch submit:/);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ total: 6, exitCode: 0, failures: [] });
    expect(await filesUnder(join(dir, 'generated'))).toEqual(
      Object.keys(sources(6))
        .map((p) => `${p}.md`)
        .sort(),
    );
  });

  it('exits 3 and names the poison file with its reason, keeping the other outputs', async () => {
    const dir = await projectDir({
      ...sources(2),
      'src/blob.ts': new Uint8Array([0, 1, 2, 3, 0, 255]),
    });

    const run = await warmbatch(dir, ...SUBMIT, 'src/**/*.ts', '--wait', '--out', 'out');

    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/src\/blob\.ts: .*binary/);
    expect(await filesUnder(join(dir, 'out'))).toEqual(
      Object.keys(sources(2))
        .map((p) => `${p}.md`)
        .sort(),
    );
  });

  it("downloads outputs of names that only contain '..' ('..foo/x.ts', 'a..b.ts') and exits 0", async () => {
    const dir = await projectDir({ '..foo/x.ts': source(1), 'a..b.ts': source(2) });

    const run = await warmbatch(dir, ...SUBMIT, '..foo/x.ts', 'a..b.ts', '--wait', '--out', 'out');

    expect(run.stdout).not.toMatch(/not written/);
    expect(run.code).toBe(0);
    expect(await filesUnder(join(dir, 'out'))).toEqual(['..foo/x.ts.md', 'a..b.ts.md']);
  });

  it('reports JSON cost totals equal to what the provider billed, and CSV rows that sum to the total', async () => {
    // Prepare: two teams with different files (identical requests would be served by reuse).
    const dir = await projectDir({ ...sources(3, 'web'), ...sources(2, 'data') });
    for (const team of ['web', 'data']) {
      const run = await warmbatch(
        dir,
        ...['submit', '--team', team, '--project', 'shop', '--kind', 'tests', team, '--wait'],
      );
      expect(run.code).toBe(0);
    }
    const billed = sim.usage().totals;

    // Act
    const json = await warmbatch(
      dir,
      'costs',
      '--by',
      'team,project,model,kind',
      '--format',
      'json',
    );
    const csv = await warmbatch(dir, 'costs', '--by', 'team', '--format', 'csv');

    // Assess
    expect(json.code).toBe(0);
    const totals = JSON.parse(json.stdout).totals;
    expect(totals).toMatchObject({
      requests: billed.requests,
      hitTokens: billed.hitTokens,
      missTokens: billed.missTokens,
      outputTokens: billed.outputTokens,
      costNanoUsd: billed.costNanoUsd,
    });
    const [header, ...rest] = parseCsv(csv.stdout);
    const cost = header?.indexOf('model_cost_usd') as number;
    const rows = rest.slice(0, -1);
    expect(rows).toHaveLength(2);
    expect(rest.at(-1)?.[0]).toBe('TOTAL');
    expect(rows.reduce((s, r) => s + nanoOf(r[cost] as string), 0)).toBe(
      nanoOf(rest.at(-1)?.[cost] as string),
    );
    expect(nanoOf(rest.at(-1)?.[cost] as string)).toBe(billed.costNanoUsd);
  });

  it('cancels a running batch: no job stays pending and cancelled jobs cost nothing', async () => {
    // Prepare: the provider holds every request, so most jobs are still pending when we cancel.
    // Long enough that, even on a loaded machine, no job answers before the cancel lands.
    sim.configure({ faults: { stallMs: 4_000 } });
    const dir = await projectDir(sources(12));
    const io = bufferIo(dir);
    const submitted = runCli(
      [...SUBMIT, 'src', '--wait', '--json'],
      depsOver(pipeline.runtime, io, { clock }),
    );
    const batchId = () => /submitted batch (\S+):/.exec(io.err())?.[1] ?? '';
    await expect.poll(batchId, { timeout: 60_000 }).not.toBe('');
    await expect
      .poll(
        async () => (await services.jobs.getBatch({ team: 'web', batchId: batchId() }))?.total ?? 0,
        { timeout: 60_000 },
      )
      .toBe(12);

    // Act
    const cancel = await warmbatch(dir, 'cancel', batchId(), '--team', 'web', '--json');
    const exitCode = await submitted;

    // Assess
    expect(cancel.code).toBe(0);
    // Pending jobs end at once; jobs a worker holds but has not sent end when it next checks.
    const outcome = JSON.parse(cancel.stdout);
    expect(outcome.cancelledJobs + outcome.stillRunning).toBe(12);
    expect(exitCode).toBe(4);
    const jobs = await services.jobs.listJobs({ team: 'web', batchId: batchId() });
    expect(jobs.filter((j) => j.state === 'pending' || j.state === 'running')).toEqual([]);
    const cancelled = new Set(jobs.filter((j) => j.state === 'cancelled').map((j) => j.jobId));
    expect(cancelled.size).toBeGreaterThan(0);
    const records = (
      await services.ledger.records('web', clock.now().toISOString().slice(0, 7))
    ).filter((r) => r.purpose !== 'aws');
    expect(records.filter((r) => cancelled.has(r.jobId))).toEqual([]);
    const summary = JSON.parse(io.out());
    expect(summary).toMatchObject({ cancelled: true, exitCode: 4 });
    expect(summary.counters.cancelled).toBe(cancelled.size);
  });
});
