import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { projectDir } from './support';

const BIN = fileURLToPath(new URL('../../cli/bin.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `warmbatch` as CI would, in `cwd`, with no configuration to find. */
function warmbatch(cwd: string, ...args: string[]): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  delete env.WARMBATCH_CONFIG;
  env.WARMBATCH_LOCAL_CONFIG = join(cwd, 'no-local-runtime.json');
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

const CONNECTION = [
  '--config <file>',
  '--region <region>',
  '--profile <name>',
  '--endpoint-url <url>',
];

const HELP: Record<string, string[]> = {
  submit: [
    '<globs...>',
    '--team <name>',
    '--project <name>',
    '--kind <kind>',
    '--context <files...>',
    '--model <id>',
    '--sensitivity <level>',
    '--budget-usd <usd>',
    '--deadline <time>',
    '--prefer-off-peak',
    '--wait',
    '--timeout <minutes>',
    '--out <dir>',
    '--json',
    '3  some jobs failed or were skipped',
    '4  the batch was cancelled',
    '5  timed out waiting',
  ],
  status: ['<batchId>', '--json', 'Exit codes:'],
  results: ['<batchId>', '--out <dir>', '--json', '3  some jobs failed'],
  cancel: ['<batchId>', '--json', 'Exit codes:'],
  costs: [
    '--month <YYYY-MM>',
    '--from <YYYY-MM>',
    '--to <YYYY-MM>',
    '--team <name>',
    '--project <name>',
    '--by <dims>',
    '--format <format>',
    '--detail',
    'Exit codes:',
  ],
};

describe('warmbatch binary', () => {
  it.each(Object.entries(HELP))(
    'documents every flag and exit code of %s in --help',
    async (name, expected) => {
      const dir = await projectDir({});

      const run = await warmbatch(dir, name, '--help');

      expect(run.code).toBe(0);
      for (const text of [...expected, ...CONNECTION]) expect(run.stdout).toContain(text);
    },
  );

  it.each([
    ['submit', '--team', 't', '--project', 'p', '--kind', 'docs', '--bogus', 'a.ts'],
    ['costs', '--format', 'xml'],
    ['status'],
    ['cancel', 'b1', '--colour'],
  ])('fails a wrong flag or argument with one line and exit 2: %s', async (...args) => {
    const dir = await projectDir({ 'a.ts': 'export const a = 1;\n' });

    const run = await warmbatch(dir, ...args);

    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^error: /);
  });

  it.each([
    ['submit', '--team', 't', '--project', 'p', '--kind', 'docs', 'a.ts'],
    ['status', 'b1'],
    ['results', 'b1', '--out', 'out'],
    ['cancel', 'b1'],
    ['costs', '--month', '2026-11'],
  ])('fails without configuration in one line saying what to do: %s', async (...args) => {
    const dir = await projectDir({ 'a.ts': 'export const a = 1;\n' });

    const run = await warmbatch(dir, ...args);

    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(
      'no warmbatch configuration found: start `npm start`, pass --config',
    );
    expect(run.stdout).toBe('');
  });
});
