/**
 * Builds dist/cli/ once before the tests, so the tests that run `node cli/bin.js` exercise the
 * JavaScript users run, not the TypeScript fallback a stale or missing build would take.
 */
// @ts-expect-error: a plain ES module without type declarations
import { buildCli } from '../../cli/build.mjs';

export default async function setup(): Promise<void> {
  await buildCli();
}
