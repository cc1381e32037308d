/**
 * The fault campaign run as `npm run chaos` runs it, in a child process, against a product
 * mutated to record every answered job as failed: the campaign must fail. Apart from
 * chaos.test.ts so that the two slow campaigns of the suite run side by side.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { MixResult } from '../../bench/chaos';
import { sharedAws } from '../support/shared-aws';

/** Runs bench/chaos.ts as `npm run chaos` does (through tsx), and returns its exit code and JSON. */
function chaosProcess(...args: string[]): Promise<{ code: number | null; results: MixResult[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/chaos.ts', ...args, '--json'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
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
      '4',
      '--warmup-jobs',
      '0',
      '--mixes',
      'baseline',
      '--mutation',
      'answered-as-failed',
      '--dynamodb-endpoint',
      sharedAws().dynamodbEndpoint,
    );

    expect(run.code).toBe(1);
    expect(run.results[0]?.outputs).toBe(0);
    expect(run.results[0]?.lost).toBe(4);
    expect(Object.keys(run.results[0]?.lostReasons ?? {}).join()).toMatch(/answered, yet failed/);
  }, 240_000);
});
