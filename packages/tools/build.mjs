#!/usr/bin/env node
// Builds this repository's tools (local runtime, simulator, benchmarks) into dist/tools/, so
// `npm start` starts without compiling TypeScript. dist/tools/ is two folders deep like
// packages/tools/ and bench/e2e/, so the paths those modules compute from import.meta.url
// (examples/, .local/, cdk.json) hold in both.
import { fileURLToPath } from 'node:url';
import { bundle } from '../../packages/cli/build.mjs';

export const OUT_DIR = fileURLToPath(new URL('../../dist/tools/', import.meta.url));

/** Builds dist/tools/ from packages/tools/main.ts. */
export function buildTools() {
  return bundle({ entry: 'packages/tools/main.ts', outDir: OUT_DIR });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const { inputs } = await buildTools();
    process.stdout.write(`warmbatch: built dist/tools/ from ${inputs.length} source files\n`);
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND') {
      // An install without dev dependencies: packages/tools/bin.js then needs tsx, also absent.
      process.stdout.write('warmbatch: esbuild is not installed, dist/tools/ was not built\n');
      process.exit();
    }
    process.stderr.write(`warmbatch: building dist/tools/ failed: ${err?.message ?? err}\n`);
    process.exitCode = 1;
  }
}
