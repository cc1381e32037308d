#!/usr/bin/env node
// Builds the `warmbatch` command into dist/cli/ as plain JavaScript, so that it starts without
// compiling TypeScript (npm ci runs this through the `prepare` script; `npm run build` by hand).
// Dependencies stay in node_modules (packages: 'external'); code splitting keeps what a command
// loads with `await import()` (the emulators, the AWS SDK, the simulator) out of the start-up
// path, so `warmbatch --help` loads only commander and the command definitions.
// dist/cli/ is two folders deep like cli/commands/ and local/runtime/, so the paths those
// modules compute from import.meta.url (examples/, .local/) hold in both.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const OUT_DIR = fileURLToPath(new URL('../dist/cli/', import.meta.url));
/** Lists the sources a build came from and when, so cli/bin.js can tell a stale build. */
export const STAMP = 'build.json';

/** Builds dist/cli/ from cli/main.ts; returns the number of source files bundled. */
export async function buildCli() {
  const { build } = await import('esbuild');
  await rm(OUT_DIR, { recursive: true, force: true });
  await mkdir(OUT_DIR, { recursive: true });
  const builtAt = Date.now();
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { main: 'cli/main.ts' },
    outdir: OUT_DIR,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    packages: 'external',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs)
    .filter((path) => !path.includes('node_modules'))
    .map((path) => relative(ROOT, `${ROOT}/${path}`).split('\\').join('/'))
    .sort();
  await writeFile(`${OUT_DIR}${STAMP}`, `${JSON.stringify({ builtAt, inputs }, null, 2)}\n`);
  return inputs.length;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const count = await buildCli();
    process.stdout.write(`warmbatch: built dist/cli/ from ${count} source files\n`);
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND') {
      // An install without dev dependencies: cli/bin.js says what to do if it is ever run.
      process.stdout.write('warmbatch: esbuild is not installed, dist/cli/ was not built\n');
    } else {
      process.stderr.write(`warmbatch: building dist/cli/ failed: ${err?.message ?? err}\n`);
      process.exitCode = 1;
    }
  }
}
