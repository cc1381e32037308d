/**
 * Clean-ups to run when the current test file ends. Files share a worker's modules (vitest's
 * `isolate: false`), so a helper module's own `afterAll` would be registered for the first file
 * that imports it only; test/support/per-file.ts, a setup file that runs for every file, runs
 * these instead.
 */
const cleanups: (() => unknown)[] = [];

/** Runs `cleanup` once the test file that is running now has ended. */
export function afterThisFile(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

/** Runs and forgets every clean-up registered so far, the last registered first. */
export async function runFileCleanups(): Promise<void> {
  for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) await cleanup();
}
