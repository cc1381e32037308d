#!/usr/bin/env node
// Builds the `warmbatch` command teams install into packages/cli/dist/ as plain JavaScript, from
// the sources in the repository's cli/ and shared/ folders (npm ci runs this through the root's
// `prepare` script, `npm pack` through this package's `prepack`).
// Packages stay imports (packages: 'external') and each must be one of this package's
// dependencies, so an install from the tarball has everything the command loads and nothing
// else; code splitting keeps what a command loads with `await import()` (the AWS SDK) out of
// the start-up path, so `warmbatch --help` loads only commander and the command definitions.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root: the sources live there, two folders up. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const OUT_DIR = fileURLToPath(new URL('./dist/', import.meta.url));
/** Lists the sources a build came from and when, so bin.js can tell a stale build. */
export const STAMP = 'build.json';
/** The HTML report inlines Chart.js; the build ships its one minified file, not the package. */
export const CHART_ASSET = 'chart.umd.min.js';

/** The package name of a bare import (`@scope/name/x` -> `@scope/name`). */
export function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/**
 * Bundles `entry` (relative to the repository's root) into `outDir` with code splitting and a
 * stamp; returns the repository files bundled and the packages the bundle imports.
 */
export async function bundle({ entry, outDir, sourcemap = 'linked' }) {
  const { build } = await import('esbuild');
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const builtAt = Date.now();
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { main: entry },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    packages: 'external',
    sourcemap,
    metafile: true,
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs)
    .filter((path) => !path.includes('node_modules'))
    .map((path) => relative(ROOT, `${ROOT}/${path}`).split('\\').join('/'))
    .sort();
  const packages = new Set();
  for (const output of Object.values(result.metafile.outputs))
    for (const imported of output.imports)
      if (imported.external && !imported.path.startsWith('node:'))
        packages.add(packageName(imported.path));
  await writeFile(join(outDir, STAMP), `${JSON.stringify({ builtAt, inputs }, null, 2)}\n`);
  return { inputs, packages: [...packages].sort() };
}

/**
 * Builds the product command; fails when the bundle imports a package this package does not
 * declare (a dev tool leaking into what teams install).
 */
export async function buildCli() {
  const manifest = JSON.parse(await readFile(new URL('./package.json', import.meta.url), 'utf8'));
  const declared = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const { inputs, packages } = await bundle({ entry: 'cli/main.ts', outDir: OUT_DIR });
  const undeclared = packages.filter((name) => !declared.has(name));
  if (undeclared.length > 0)
    throw new Error(
      `the command imports ${undeclared.join(', ')}, which packages/cli/package.json does not declare`,
    );
  const require = createRequire(join(ROOT, 'package.json'));
  await copyFile(
    join(dirname(require.resolve('chart.js')), CHART_ASSET),
    join(OUT_DIR, CHART_ASSET),
  );
  return { inputs, packages };
}

/**
 * Whether dist/ holds a build newer than every source it came from (and than this script), so
 * `prepack` need not build again: rebuilding removes dist/ while something may be running it.
 */
export function upToDate() {
  const stamp = join(OUT_DIR, STAMP);
  if (!existsSync(join(OUT_DIR, 'main.js')) || !existsSync(stamp)) return false;
  try {
    const { builtAt, inputs } = JSON.parse(readFileSync(stamp, 'utf8'));
    return [...inputs.map((p) => join(ROOT, p)), fileURLToPath(import.meta.url)].every(
      (path) => existsSync(path) && statSync(path).mtimeMs <= builtAt,
    );
  } catch {
    return false;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--if-stale') && upToDate()) {
    process.stdout.write('warmbatch: packages/cli/dist/ is up to date\n');
    process.exit();
  }
  try {
    const { inputs } = await buildCli();
    process.stdout.write(
      `warmbatch: built packages/cli/dist/ from ${inputs.length} source files\n`,
    );
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND') {
      // An install without dev dependencies: bin.js says what to do if it is ever run.
      process.stdout.write(
        'warmbatch: esbuild is not installed, packages/cli/dist/ was not built\n',
      );
    } else {
      process.stderr.write(
        `warmbatch: building packages/cli/dist/ failed: ${err?.message ?? err}\n`,
      );
      process.exitCode = 1;
    }
  }
}
