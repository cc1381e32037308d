import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/lib/run';
import { type SimHandle, startSimulator } from '../../local/sim/server';
import { clockMs, runningClock } from '../../shared/clock';
import type { CacheProfileData } from '../../shared/executor/profile';
import { CacheProfile } from '../../shared/executor/profile';
import { SIM_EPOCH } from '../sim/helpers';
import { bufferIo, projectDir } from './support';

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** Runs `warmbatch calibrate` in-process against a simulator with these settings. */
async function calibrateAgainst(settings: Parameters<typeof startSimulator>[0], ...args: string[]) {
  // One clock for the provider and the command: each prices a request at the hour it reads,
  // and DeepSeek's price differs by the hour (a run across the off-peak boundary disagreed).
  const clock = runningClock(SIM_EPOCH);
  sim = await startSimulator({ port: 0, clock: clockMs(clock), ...settings });
  const io = bufferIo(await projectDir({}));
  io.env.TEST_KEY = 'sim-key';
  const code = await runCli(
    [
      'calibrate',
      '--model',
      'deepseek-v4-flash',
      '--base-url',
      sim.url,
      '--api-key-env',
      'TEST_KEY',
      '--samples',
      '2',
      '--warm-probes',
      '10',
      '--json',
      ...args,
    ],
    {
      io,
      clock,
      connect: () => Promise.reject(new Error('calibrate without --save needs no deployment')),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      pollMs: 1,
    },
  );
  const written = await readFile(join(io.cwd, 'warmbatch-cache-profile.json'), 'utf8').catch(
    () => undefined,
  );
  const profile = (written ? JSON.parse(written) : undefined) as CacheProfileData;
  return { code, stdout: io.out(), stderr: io.err(), profile, billed: sim.usage().totals };
}

describe('warmbatch calibrate', () => {
  it('measures a longer construction delay when the provider takes longer, and about as long as it takes', async () => {
    // time scale 0.05: 2,000 ms become 100 ms of real time, 30,000 ms become 1,500.
    const quick = await calibrateAgainst({ timeScale: 0.05, constructionDelayMs: 2_000 });
    await sim?.close();
    const slow = await calibrateAgainst({ timeScale: 0.05, constructionDelayMs: 30_000 });

    for (const run of [quick, slow]) {
      expect(run.code).toBe(0);
      expect(run.profile.source).toBe('calibrate');
      expect(run.profile.readyWithinMs).toHaveLength(2);
    }
    // A prefix is not served before it is built; the bound counts from when the warm-up's answer
    // arrived, which can lag the provider's finishing it, so only half the delay is certain.
    expect(Math.min(...slow.profile.readyWithinMs)).toBeGreaterThanOrEqual(750);
    expect(Math.max(...quick.profile.readyWithinMs)).toBeLessThan(
      Math.min(...slow.profile.readyWithinMs),
    );
    expect(new CacheProfile(slow.profile).settleMs()).toBeGreaterThan(
      new CacheProfile(quick.profile).settleMs(),
    );
  });

  it('counts best-effort misses of a warm prefix, and reports what the provider billed', async () => {
    const exact = await calibrateAgainst({ timeScale: 0.05, constructionDelayMs: 1_000 });
    await sim?.close();
    const lossy = await calibrateAgainst({
      timeScale: 0.05,
      constructionDelayMs: 1_000,
      missRate: 0.5,
      seed: 3,
    });

    const result = (s: string) =>
      JSON.parse(s) as { warmMisses: number; requests: number; costNanoUsd: number };
    expect(result(exact.stdout).warmMisses).toBe(0);
    expect(result(lossy.stdout).warmMisses).toBeGreaterThan(0);
    expect(new CacheProfile(lossy.profile).warmMissRate()).toBeGreaterThan(
      new CacheProfile(exact.profile).warmMissRate(),
    );
    for (const run of [exact, lossy]) {
      expect(result(run.stdout).requests).toBe(run.billed.requests);
      expect(result(run.stdout).costNanoUsd).toBe(run.billed.costNanoUsd);
    }
  });

  it('prints what it may cost before it sends anything, and sends nothing on a dry run', async () => {
    const run = await calibrateAgainst({ timeScale: 0.05 }, '--dry-run');

    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(
      /at most \d+ one-token requests of about 1100 prompt tokens, at most \$/,
    );
    expect(run.billed.requests).toBe(0);
    expect(run.profile).toBeUndefined();
  });
});
