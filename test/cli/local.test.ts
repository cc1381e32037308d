import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { priceLine } from '../../packages/tools/local';
import { defaultCatalog } from '../../shared/pricing/catalog';

const BIN = fileURLToPath(new URL('../../packages/tools/bin.js', import.meta.url));

/** The config file and the validated tests of the runs: removed after the file. */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'warmbatch-local-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs `warmbatch local` as `npm start` does, on free ports, and collects its output. */
function local(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  delete env.DEEPSEEK_API_KEY;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'local', '--once', '--s3-sqs-port', '0', '--dynamodb-port', '0', ...args],
      { env, timeout: 150_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('warmbatch local (npm start)', () => {
  it('runs the bundled examples through the pipeline, prints the summary and cleans up', async () => {
    const configFile = join(work, 'warmbatch.json');

    // Pinned: prices and the models in force do not depend on the machine's date.
    const run = await local(
      '--config-file',
      configFile,
      // Not shorter: the quiet period (3 s) must outlast the planner's lag behind the examples'
      // uploads on a busy machine, or they are planned as two batches.
      '--time-scale',
      '0.1',
      '--at',
      '2026-11-30T12:00:00Z',
      // Not the default .local/quality: a test writes nothing into the checkout.
      '--quality-dir',
      join(work, 'quality'),
    );

    expect(run.stderr).not.toMatch(/MaxListenersExceeded/);
    expect(run.code).toBe(0);
    // 10 example sources, each as docs and as tests.
    expect(run.stdout).toMatch(/20\/20 jobs settled/);
    expect(run.stdout).toMatch(
      /total: 20 jobs, cache hit ratio \d+\.\d%, cost \$0\.\d+ \(warm-up \$0\.\d+, \d+\.\d% of it\) against \$0\.\d+ for the jobs on GPT-5\.4 \(saved \$0\.\d+\)/,
    );
    expect(run.stdout).toMatch(/cache hit.*cost.*warm-up.*on GPT-5\.4.*saved/);
    // A Monday at 12:00 UTC is outside DeepSeek's peak hours.
    expect(run.stdout).toMatch(
      /priced as at 2026-11-30T12:0\d:\d\d\.\d{3}Z: deepseek-flash off-peak\n/,
    );
    expect(run.stdout).toMatch(/outputs: s3:\/\/warmbatch-local\/outputs\/acme\/shop\//);
    expect(run.stdout).toMatch(/aws --endpoint-url http:\/\/127\.0\.0\.1:\d+ s3 cp/);
    // The 4 TS/JS tests are run with vitest; the simulator (seed 2, broken rate 0.3, repair
    // success 0.7) breaks 2 of them and its repair fixes 1.
    expect(run.stdout).toMatch(/validating 4 generated TS\/JS test\(s\) with vitest/);
    expect(run.stdout).toContain(`with vitest in ${join(work, 'quality')}`);
    expect(run.stdout).toMatch(
      /tests \(deepseek-flash\): 4 validated, 2 passed first try \(50\.0%\), 3 after repair \(pass rate 75\.0%\)/,
    );
    expect(run.stdout).toMatch(/cost per passing test: \$0\.\d+/);
    expect(run.stdout).toMatch(/cache hit on the original prompt 100\.0%/);
    expect(existsSync(configFile)).toBe(false);
  }, 160_000);

  it('fails in one clear line when the examples folder does not exist', async () => {
    const run = await local('--examples', '/nonexistent/examples');

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/examples folder not found: \/nonexistent\/examples/);
  });
});

describe('priceLine', () => {
  it('says when the run was priced at peak, and how to see the off-peak price', () => {
    // A Tuesday at 02:30 UTC, inside the 01:00-04:00 peak window.
    const line = priceLine(
      ['deepseek-flash', 'deepseek-flash'],
      new Date('2026-12-01T02:30:00Z'),
      defaultCatalog(),
    );
    expect(line).toBe(
      'priced as at 2026-12-01T02:30:00.000Z: deepseek-flash peak (twice the off-peak price: `npm start -- --at <an off-peak instant>` shows the difference)\n',
    );
  });

  it('names a model the catalog cannot price instead of calling it free', () => {
    const line = priceLine(['no-such-model'], new Date('2026-12-01T12:00:00Z'), defaultCatalog());
    expect(line).toMatch(
      /^priced as at 2026-12-01T12:00:00\.000Z: no-such-model not priced \(.+\)\n$/,
    );
  });
});
