import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { processDeps } from '../../cli/lib/context';
import { runCli } from '../../cli/lib/run';
import { bufferIo, projectDir } from './support';

const BIN = fileURLToPath(new URL('../../packages/cli/bin.js', import.meta.url));
const TOOLS = fileURLToPath(new URL('../../packages/tools/bin.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** An environment with no configuration to find. */
function bareEnv(cwd: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  delete env.WARMBATCH_CONFIG;
  env.WARMBATCH_LOCAL_CONFIG = join(cwd, 'no-local-runtime.json');
  return env;
}

/** Runs `warmbatch <args>` in-process in `cwd`, with no configuration to find. */
async function warmbatch(cwd: string, ...args: string[]): Promise<Run> {
  const io = bufferIo(cwd, bareEnv(cwd));
  const code = await runCli(args, processDeps(io));
  return { code, stdout: io.out(), stderr: io.err() };
}

/** Runs the real `packages/cli/bin.js` as CI would: the one check that the binary itself starts. */
function binary(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: bareEnv(cwd) },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const CONNECTION = [
  '--config <file>',
  '--region <region>',
  '--profile <name>',
  '--endpoint-url <url>',
];

const HELP: Record<string, string[]> = {
  quality: [
    '--from <YYYY-MM-DD>',
    '--to <YYYY-MM-DD>',
    '--by <dims>',
    '--team <name>',
    '--project <name>',
    '--kind <kind>',
    '--model <id>',
    '--lanes <list>',
    '--format <format>',
    '--out <file>',
    'Exit codes:',
  ],
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
    '--tag <key=value>',
    '--wait',
    '--timeout <minutes>',
    '--out <dir>',
    '--json',
    '3  some jobs failed or were skipped',
    '4  the batch was cancelled',
    '5  timed out waiting',
  ],
  status: ['<batchId>', '--team <name>', '--latest', '--project <name>', '--json', 'Exit codes:'],
  results: ['<batchId>', '--team <name>', '--out <dir>', '--json', '3  some jobs failed'],
  cancel: ['<batchId>', '--team <name>', '--json', 'Exit codes:'],
  costs: [
    '--month <YYYY-MM>',
    '--from <YYYY-MM-DD>',
    '--to <YYYY-MM-DD>',
    '--team <name>',
    '--project <name>',
    '--model <id>',
    '--tag <key=value>',
    '--by <dims>',
    '--format <format>',
    '--out <file>',
    '--warmup <view>',
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
    ['quality', '--by', 'week'],
    ['status'],
    // Batch ids are unique per team: a batch is named with its team.
    ['status', 'b1'],
    ['results', 'b1', '--out', 'out'],
    ['cancel', 'b1'],
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
    ['status', 'b1', '--team', 't'],
    ['results', 'b1', '--team', 't', '--out', 'out'],
    ['cancel', 'b1', '--team', 't'],
    ['costs', '--month', '2026-11'],
  ])('fails without configuration in one line saying what to do: %s', async (...args) => {
    const dir = await projectDir({ 'a.ts': 'export const a = 1;\n' });

    const run = await warmbatch(dir, ...args);

    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(
      'no warmbatch configuration found: pass --config <file> or set WARMBATCH_CONFIG',
    );
    expect(run.stdout).toBe('');
  });

  it('starts as a process: a usage error is one line and exit 2, help is exit 0', async () => {
    const dir = await projectDir({});

    const bad = await binary(dir, 'cancel', 'b1', '--colour');
    const help = await binary(dir, '--help');

    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(help.code).toBe(0);
    for (const name of ['estimate', 'submit', 'status', 'costs'])
      expect(help.stdout).toContain(name);
    // The repository's tools are not commands of the installed CLI.
    for (const name of ['local', 'sim', 'bench'])
      expect(help.stdout).not.toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('leaves local, sim and bench to the repository tools that npm start, npm run sim and npm run bench run', async () => {
    const dir = await projectDir({});
    const tools = await new Promise<Run>((resolve) => {
      execFile(
        process.execPath,
        [TOOLS, '--help'],
        { cwd: dir, env: bareEnv(dir) },
        (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, stdout, stderr }),
      );
    });
    expect(tools.code).toBe(0);
    for (const name of ['local', 'sim', 'bench'])
      expect(tools.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    const scripts = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).scripts;
    expect(scripts.start).toBe('node packages/tools/bin.js local');
    expect(scripts.sim).toBe('node packages/tools/bin.js sim');
    expect(scripts.bench).toBe('node packages/tools/bin.js bench');
  });

  it('stops quietly when the reader of its output goes away (`warmbatch --help | head`)', async () => {
    // Prepare
    const dir = await projectDir({});

    // Act: the pipe's reader is closed before the help is written
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, '--help'], {
        cwd: dir,
        env: bareEnv(dir),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += String(chunk);
      });
      child.on('close', (code) => resolve({ code, stderr }));
    });

    // Assess
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});
