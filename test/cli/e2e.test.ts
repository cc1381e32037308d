import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/lib/run';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline';
import { recreateTables } from '../../local/runtime/resources';
import type { SimHandle } from '../../local/sim/server';
import { runningClock } from '../../shared/clock';
import { sharedAws } from '../support/shared-aws';
import { bufferIo, depsOver, filesUnder, projectDir, sources } from './support';

// Pinned, so what the run prices does not depend on the machine's date (Monday, off-peak).
const clock = runningClock('2026-11-30T12:00:00Z');
let pipeline: LocalPipeline;
let sim: SimHandle;

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

/** Runs `warmbatch <args>` in-process in `cwd` against the local runtime. */
async function warmbatch(cwd: string, ...args: string[]) {
  const io = bufferIo(cwd);
  const code = await runCli(args, depsOver(pipeline.runtime, io, { clock }));
  return { code, stdout: io.out(), stderr: io.err(), io };
}

const SUBMIT = ['submit', '--team', 'web', '--project', 'shop', '--kind', 'docs'];

// The rules of exit codes, downloads, cost totals and cancelling run over the in-memory pipeline
// (batch-commands.test.ts); this one whole run proves the CLI against the emulated S3, SQS and
// DynamoDB.
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
});
