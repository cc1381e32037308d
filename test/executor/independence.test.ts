import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, REALISTIC_OPTIONS } from '../../local/sim/server';
import { DEFAULT_CALIBRATION } from '../../shared/executor/calibrate';
import { DEFAULT_EXECUTOR_OPTIONS } from '../../shared/executor/executor';
import { GUESSED_SETTLE_MS } from '../../shared/executor/profile';

const EXECUTOR_DIR = 'shared/executor';

describe('the executor knows nothing of the simulator', () => {
  it('imports nothing from local/ (the simulator) or bench/', async () => {
    for (const file of await readdir(EXECUTOR_DIR)) {
      const text = await readFile(join(EXECUTOR_DIR, file), 'utf8');
      expect(text, file).not.toMatch(/from '\.\.\/\.\.\/(local|bench)\//);
    }
  });

  it('shares no timing figure with the simulator: every wait it starts from is its own', () => {
    const simTimes = new Set<number>([
      DEFAULT_OPTIONS.constructionDelayMs,
      DEFAULT_OPTIONS.ttftMs,
      DEFAULT_OPTIONS.ttlMs,
      REALISTIC_OPTIONS.constructionDelayMs,
      REALISTIC_OPTIONS.ttlMs,
      REALISTIC_OPTIONS.slowStart.idleMs,
      REALISTIC_OPTIONS.slowStart.windowMs,
    ]);
    const executorTimes = [
      GUESSED_SETTLE_MS,
      DEFAULT_CALIBRATION.firstWaitMs,
      DEFAULT_CALIBRATION.maxWaitMs,
      DEFAULT_EXECUTOR_OPTIONS.stopMarginMs,
    ];

    expect(DEFAULT_EXECUTOR_OPTIONS.settleMs).toBeUndefined();
    for (const ms of executorTimes) expect(simTimes.has(ms), String(ms)).toBe(false);
  });
});
