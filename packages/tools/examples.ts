/**
 * `npm start` closes the loop on the bundled example: the generated TS/JS tests are validated
 * with this repository's own test runner (vitest), failures are repaired through the pipeline,
 * and the verdicts are recorded. The example is copied into `.local/quality/<batchId>/`, inside
 * this repository, so the tests resolve `vitest` from its node_modules; other languages are not
 * run (no runner of theirs is assumed on the machine).
 */
import { cp, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Services } from '../../cli/config';
import { downloadOutputs } from '../../cli/lib/batch';
import { QUALITY_DEFAULTS, runQuality } from '../../cli/lib/quality/index';
import type { QualitySection } from '../../cli/lib/quality/report';
import type { Clock } from '../../shared/clock';
import type { BatchItem } from '../../shared/ports/jobs';

const TS_JS = /\.(?:[cm]?[jt]sx?)$/i;

/** Validates a finished tests batch of the examples; undefined when there is nothing to run. */
export async function validateExamples(input: {
  services: Services;
  clock: Clock;
  batch: BatchItem;
  examples: string;
  /** This repository's root: its node_modules hold vitest, its .local/ the workspace. */
  root: string;
  /**
   * Where each batch gets its folder instead of `<root>/.local/quality` (the tests give a
   * temporary folder, so that a run leaves nothing in the checkout).
   */
  workspaces?: string;
  write: (text: string) => void;
}): Promise<QualitySection | undefined> {
  const { services, batch } = input;
  const jobs = (await services.jobs.listJobs(batch)).filter((j) => TS_JS.test(j.path));
  if (jobs.length === 0) return undefined;
  const workspaces = input.workspaces ?? join(input.root, '.local', 'quality');
  const workspace = join(workspaces, batch.batchId);
  const vitest = join(input.root, 'node_modules', 'vitest', 'vitest.mjs');
  await mkdir(workspace, { recursive: true });
  // Outside the repository the generated tests' `import ... from 'vitest'` finds vitest through
  // a link to the repository's node_modules.
  if (relative(input.root, workspaces).startsWith('..'))
    await symlink(join(input.root, 'node_modules'), join(workspaces, 'node_modules'), 'dir').catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      },
    );
  await cp(input.examples, workspace, { recursive: true });
  // Its own vitest config, so that vitest does not find this repository's (a parent folder's).
  await writeFile(
    join(workspace, 'vitest.config.mjs'),
    "export default { test: { include: ['**/*.test.?(c|m)[jt]s?(x)'] } };\n",
  );
  const got = await downloadOutputs({ objects: services.objects, batch, jobs, outDir: workspace });
  input.write(
    `validating ${got.written.length} generated TS/JS test(s) with vitest in ${workspace}...\n`,
  );
  return runQuality(
    {
      services,
      io: {
        cwd: workspace,
        env: process.env,
        stdout: { write: () => true },
        stderr: { write: (s: string) => input.write(s) },
      },
      clock: input.clock,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      pollMs: 250,
      waitMs: 5 * 60_000,
    },
    batch,
    workspace,
    got.written,
    {
      validate: `node ${vitest} run --config vitest.config.mjs {file}`,
      runs: 1,
      timeoutMs: 60_000,
      concurrency: QUALITY_DEFAULTS.concurrency,
      repairRounds: 1,
      quarantine: join(workspace, '.quarantine'),
      coverageReport: QUALITY_DEFAULTS.coverageReport,
      keepIf: 'passes',
    },
    (path) => TS_JS.test(path),
  );
}
