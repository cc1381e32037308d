import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineConfig } from 'vitest/config';

/** The share of the machine's CPU time left idle over the next `ms`, from the OS's counters. */
async function idleShare(ms: number): Promise<number> {
  const read = () =>
    cpus().reduce(
      (t, { times }) => ({
        idle: t.idle + times.idle,
        all: t.all + times.user + times.nice + times.sys + times.idle + times.irq,
      }),
      { idle: 0, all: 0 },
    );
  const before = read();
  await sleep(ms);
  const after = read();
  return (after.idle - before.idle) / Math.max(1, after.all - before.all);
}

/** Fewer test files at once when something else already keeps the CPUs busy. */
const busy = (await idleShare(500)) < 0.5;
const workers = busy ? 4 : 6;
if (busy) console.log(`the machine is busy: ${workers} test workers instead of 6`);

// The global setup (test/support/global-setup.ts) builds AWS clients in this process, which
// `test.env` below does not reach: without this, each run begins with the SDK's Node-version
// warning.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Vitest's default is one worker per core minus one: a single worker on a 2-core machine.
    // Most of the slow files wait on queues, timers and child processes rather than the CPU, so
    // six files run side by side, or four on a machine already busy, where more files at once
    // only starve each other's time-scaled leases and timeouts (docs/reliability.md). Files
    // share a worker's loaded modules (no isolation): the AWS SDK, the simulator and the
    // pipeline are imported once per worker instead of once per file, which was much of the
    // suite's CPU. Every file builds its own state (its own table prefix, runtime, simulator and
    // temp folder), so nothing of one file reaches the next.
    maxWorkers: workers,
    isolate: false,
    globalSetup: ['test/support/global-setup.ts'],
    // Runs what a file's helpers registered to clean up when that file ends (file-cleanup.ts).
    setupFiles: ['test/support/per-file.ts'],
    // Ceilings, not waits: a test waits for the state it expects and ends when it comes. Beside
    // a load of 20 on 2 cores the pipeline tests took 2-3 times their idle time, and 30 s (and
    // 20 s for expect.poll) cut several of them off half-way.
    testTimeout: 300_000,
    // expect.poll waits for something the pipeline will do; its own default (1 s) is shorter than
    // planning and a first call take on a busy machine. A condition that never comes still fails.
    expect: { poll: { timeout: 60_000 } },
    // As the CLI does (packages/cli/bin.js): Lambda runs Node 22; on Node 20 the AWS SDK warns in every
    // process it starts, which buries the test output.
    // Children run through tsx (bench/planner.ts) would leave its compile cache in the system's
    // temp folder; a run leaves nothing there.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', TSX_DISABLE_CACHE: '1' },
    hookTimeout: 120_000,
  },
});
