import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/lib/run';
import { settlingCliDeps, useFakePipeline } from '../support/fake-pipeline';
import { bufferIo, filesUnder, nanoOf, parseCsv, projectDir, source, sources } from './support';

const h = useFakePipeline({
  settings: {
    maxFileBytes: 20_000,
    maxOutputTokens: { docs: 256, tests: 256 },
    executor: { settleMs: 5, stopMarginMs: 500, concurrency: 8 },
  },
});

/** Runs `warmbatch <args>` in-process in `cwd` over the in-memory pipeline. */
async function warmbatch(cwd: string, ...args: string[]) {
  const io = bufferIo(cwd);
  const code = await runCli(args, settlingCliDeps(h, io));
  return { code, stdout: io.out(), stderr: io.err(), io };
}

const SUBMIT = ['submit', '--team', 'web', '--project', 'shop', '--kind', 'docs'];

describe('warmbatch over the pipeline', () => {
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
    const billed = h.sim.usage().totals;

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
    // Prepare: the provider holds every request until the cancel has landed, so most jobs are
    // still pending when we cancel.
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    h.scriptLlm(async (_request, real) => {
      await held;
      return real();
    });
    const dir = await projectDir(sources(12));
    const io = bufferIo(dir);
    const submitted = runCli([...SUBMIT, 'src', '--wait', '--json'], settlingCliDeps(h, io));
    const batchId = () => /submitted batch (\S+):/.exec(io.err())?.[1] ?? '';
    await expect.poll(batchId, { timeout: 60_000 }).not.toBe('');
    await expect
      .poll(
        async () => (await h.deps.jobs.getBatch({ team: 'web', batchId: batchId() }))?.total ?? 0,
        { timeout: 60_000 },
      )
      .toBe(12);

    // Act
    const cancel = await warmbatch(dir, 'cancel', batchId(), '--team', 'web', '--json');
    // The held answers come back a while later, as the emulated provider's stall lets them:
    // late enough that the worker has looked at its batch again before starting another job.
    h.advanceClock(4_000);
    release();
    const exitCode = await submitted;

    // Assess
    expect(cancel.code).toBe(0);
    // Pending jobs end at once; jobs a worker holds but has not sent end when it next checks.
    const outcome = JSON.parse(cancel.stdout);
    expect(outcome.cancelledJobs + outcome.stillRunning).toBe(12);
    expect(exitCode).toBe(4);
    const jobs = await h.deps.jobs.listJobs({ team: 'web', batchId: batchId() });
    expect(jobs.filter((j) => j.state === 'pending' || j.state === 'running')).toEqual([]);
    const cancelled = new Set(jobs.filter((j) => j.state === 'cancelled').map((j) => j.jobId));
    expect(cancelled.size).toBeGreaterThan(0);
    const records = (
      await h.deps.ledger.records('web', h.deps.clock.now().toISOString().slice(0, 7))
    ).filter((r) => r.purpose !== 'aws');
    expect(records.filter((r) => cancelled.has(r.jobId))).toEqual([]);
    const summary = JSON.parse(io.out());
    expect(summary).toMatchObject({ cancelled: true, exitCode: 4 });
    expect(summary.counters.cancelled).toBe(cancelled.size);
  });
});
