/**
 * Builds packages/cli/dist/ and dist/tools/ once before the tests, so the tests that run
 * `node packages/cli/bin.js` or `node packages/tools/bin.js` exercise the JavaScript users run,
 * not the TypeScript fallback a stale or missing build would take.
 */
// @ts-expect-error: a plain ES module without type declarations
import { buildCli } from '../../packages/cli/build.mjs';
// @ts-expect-error: a plain ES module without type declarations
import { buildTools } from '../../packages/tools/build.mjs';

export async function buildBins(): Promise<void> {
  await buildCli();
  await buildTools();
}
