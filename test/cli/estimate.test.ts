import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { estimateCommand } from '../../cli/commands/estimate';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `warmbatch estimate` as a user would, through cli/bin.js. */
function estimate(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['cli/bin.js', 'estimate', ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const SEED_WORKLOAD = ['--jobs', '1000', '--input-tokens', '2000', '--output-tokens', '2000'];

describe('warmbatch estimate', () => {
  it('prices the seed workload on V3.2 at 1/25 of GPT-5.4 as one JSON object', async () => {
    const run = await estimate(
      '--model',
      'deepseek-chat',
      '--at',
      '2026-01-15T12:00:00Z',
      ...SEED_WORKLOAD,
      '--compare',
      'gpt-5.4',
      '--json',
    );

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      model: 'deepseek-chat',
      at: '2026-01-15T12:00:00.000Z',
      jobs: 1000,
      tokens: { input: 2_000_000, cached: 0, output: 2_000_000 },
      costUsd: { input: 0.56, cached: 0, output: 0.84, total: 1.4 },
      compare: [
        { model: 'gpt-5.4', costUsd: { input: 5, cached: 0, output: 30, total: 35 }, ratio: 25 },
      ],
    });
  });

  it('fails clearly for deepseek-chat after it was retired', async () => {
    const run = await estimate(
      '--model',
      'deepseek-chat',
      '--at',
      '2026-11-28T12:00:00Z',
      ...SEED_WORKLOAD,
    );

    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/"deepseek-chat" is not priced at 2026-11-28T12:00:00\.000Z/);
    expect(run.stderr).toMatch(/in force then: deepseek-flash, deepseek-v4-flash/);
  });

  it('fails clearly for an unknown model, naming the known ones', async () => {
    const run = await estimate('--model', 'gpt-4o', ...SEED_WORKLOAD);

    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/Unknown model "gpt-4o"; known models: deepseek-chat, /);
  });

  it('charges deepseek-flash exactly twice as much at a peak hour', async () => {
    const args = ['--model', 'deepseek-flash', ...SEED_WORKLOAD, '--cached-tokens', '1500'];

    const [peak, offPeak] = await Promise.all([
      estimate(...args, '--at', '2026-11-25T02:00:00Z', '--json'),
      estimate(...args, '--at', '2026-11-25T20:00:00Z', '--json'),
    ]);

    const peakTotal = JSON.parse(peak.stdout).costUsd.total;
    const offPeakTotal = JSON.parse(offPeak.stdout).costUsd.total;
    expect(offPeakTotal).toBeGreaterThan(0);
    expect(peakTotal).toBe(2 * offPeakTotal);
  });

  it('prints a readable table without --json', async () => {
    const run = await estimate(
      '--model',
      'deepseek-chat',
      '--at',
      '2026-01-15T12:00:00Z',
      ...SEED_WORKLOAD,
      '--compare',
      'gpt-5.4',
    );

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /deepseek-chat\s*│\s*\$0\.56\s*│\s*\$0\.00\s*│\s*\$0\.84\s*│\s*\$1\.40/,
    );
    expect(run.stdout).toMatch(
      /gpt-5\.4\s*│\s*\$5\.00\s*│\s*\$0\.00\s*│\s*\$30\.00\s*│\s*\$35\.00\s*│\s*25/,
    );
  });
});

/** Parses `estimate` arguments in-process, for the many ways input can be wrong. */
async function parseInProcess(...args: string[]): Promise<{ error: string; stdout: string }> {
  let error = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    await estimateCommand()
      .exitOverride()
      .configureOutput({ writeErr: (s) => (error += s), writeOut: () => {} })
      .parseAsync(args, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
  }
  const stdout = write.mock.calls.map((c) => String(c[0])).join('');
  write.mockRestore();
  return { error, stdout };
}

describe('warmbatch estimate input checks', () => {
  it.each([
    ['--jobs', '-3'],
    ['--input-tokens', '2.5'],
    ['--output-tokens', 'lots'],
    ['--cached-tokens', '1e3'],
    ['--jobs', '99999999999999999999'],
  ])('rejects %s %s in one line naming the flag', async (flag, value) => {
    const run = await parseInProcess('--model', 'deepseek-chat', ...SEED_WORKLOAD, flag, value);

    expect(run.stdout).toBe('');
    expect(run.error.trim().split('\n')).toHaveLength(1);
    expect(run.error).toContain(flag);
  });

  it('rejects more cached than input tokens', async () => {
    const run = await parseInProcess(
      '--model',
      'deepseek-chat',
      ...SEED_WORKLOAD,
      '--cached-tokens',
      '2001',
    );

    expect(run.stdout).toBe('');
    expect(run.error).toMatch(/--cached-tokens \(2001\) cannot exceed --input-tokens \(2000\)/);
  });

  it('rejects a time that is not ISO 8601', async () => {
    const run = await parseInProcess(
      '--model',
      'deepseek-chat',
      '--at',
      'tomorrow',
      ...SEED_WORKLOAD,
    );

    expect(run.stdout).toBe('');
    expect(run.error).toContain('--at');
  });

  it('requires the output token count', async () => {
    const run = await parseInProcess(
      '--model',
      'deepseek-chat',
      '--jobs',
      '1',
      '--input-tokens',
      '1',
    );

    expect(run.error).toContain('--output-tokens');
  });

  it('defaults the time to now', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-15T12:00:00Z'), toFake: ['Date'] });
    try {
      const run = await parseInProcess('--model', 'deepseek-chat', ...SEED_WORKLOAD, '--json');

      expect(JSON.parse(run.stdout).at).toBe('2026-01-15T12:00:00.000Z');
    } finally {
      vi.useRealTimers();
    }
  });
});
