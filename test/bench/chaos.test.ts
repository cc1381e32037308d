import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MIXES, type MixResult, mixFailed, runChaos } from '../../bench/chaos';

const baseline = MIXES.filter((m) => m.name === 'baseline');

/** Runs `npm run chaos` as a user would, and returns its exit code and JSON. */
function chaosProcess(...args: string[]): Promise<{ code: number | null; results: MixResult[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', 'bench/chaos.ts', ...args, '--json'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ code, results: out ? (JSON.parse(out) as MixResult[]) : [] });
      } catch (err) {
        reject(err);
      }
    });
  });
}

describe('the fault campaign counts outputs, not states', () => {
  it('exits non-zero when the product records every answered job as failed', async () => {
    const run = await chaosProcess(
      '--jobs',
      '10',
      '--mixes',
      'baseline',
      '--mutation',
      'answered-as-failed',
    );

    expect(run.code).toBe(1);
    expect(run.results[0]?.outputs).toBe(0);
    expect(run.results[0]?.lost).toBe(10);
    expect(Object.keys(run.results[0]?.lostReasons ?? {}).join()).toMatch(/answered, yet failed/);
  }, 240_000);

  it('passes the same campaign without the mutation: every input has its output, the ledger is the bill', async () => {
    const [result] = await runChaos({ jobs: 10, mixes: baseline });

    expect(result?.outputs).toBe(10);
    expect(result?.lost).toBe(0);
    expect(result?.ledgerMatches).toBe(true);
    expect(result?.provider.billedRequests).toBe(result?.provider.recordedExactly);
    expect(result && mixFailed(result, baseline[0])).toBe(false);
  }, 240_000);
});
