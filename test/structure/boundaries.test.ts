/**
 * The domain's boundaries, checked on the source text: shared/ is plain functions over ports,
 * so only its AWS adapters (shared/aws/) may import the AWS SDK or Powertools, nothing else
 * depends on those adapters, imports only run down its floors, and no file of it grows past
 * what a reader can hold in mind.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SHARED = join(ROOT, 'shared');

/** Longest a file under shared/ may be. */
const MAX_LINES = 500;

/**
 * The floors of shared/, lowest first: a folder or file may import only from a lower floor (or
 * from inside itself), so no import runs back up. A new folder must be placed here.
 */
const FLOORS: readonly (readonly string[])[] = [
  ['types', 'configuration-error'],
  [
    'clock',
    'resources',
    'tokens',
    'totals',
    'job-errors',
    'concurrency',
    'models',
    'tags',
    'quality',
    'local-config',
  ],
  ['ports', 'pricing', 'prompts', 'grouping'],
  ['llm', 'inputs', 'aws', 'chargeback'],
  ['executor'],
  ['pipeline'],
];

/** Adapters implement ports; nothing else under shared/ may depend on them. */
const ADAPTERS = ['aws'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.[cm]?[jt]s$/.test(entry.name) ? [path] : [];
  });
}

/** Module specifiers of a file's imports, re-exports and dynamic imports. */
function importedModules(source: string): string[] {
  const specifiers: string[] = [];
  const patterns = [
    /\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns)
    for (const match of source.matchAll(pattern)) if (match[1]) specifiers.push(match[1]);
  return specifiers;
}

const isCloudLibrary = (specifier: string) =>
  specifier.startsWith('@aws-sdk/') || specifier.startsWith('@aws-lambda-powertools/');

const files = sourceFiles(SHARED).map((path) => ({
  name: relative(ROOT, path).split('\\').join('/'),
  source: readFileSync(path, 'utf8'),
}));

/** The top-level folder or file of shared/ a path belongs to: `shared/aws/jobs/keys.ts` -> `aws`. */
function unitOf(path: string): string {
  return (path.split('/')[1] ?? '').replace(/\.ts$/, '');
}

/** Imports between different units of shared/, as `from -> to` with the importing file. */
const crossImports = files.flatMap((f) =>
  importedModules(f.source)
    .filter((m) => m.startsWith('.'))
    .map((m) =>
      normalize(join(dirname(f.name), m))
        .split('\\')
        .join('/'),
    )
    .filter((target) => target.startsWith('shared/'))
    .map((target) => ({ file: f.name, from: unitOf(f.name), to: unitOf(target) }))
    .filter((edge) => edge.from !== edge.to),
);

const floorOf = (unit: string) => FLOORS.findIndex((floor) => floor.includes(unit));

describe('the domain under shared/', () => {
  it('reads the import forms the checks rely on', () => {
    // Prepare
    const source = `import type { A } from '@aws-sdk/client-s3';
import {
  B,
} from '@aws-lambda-powertools/logger';
export { C } from './c';
import './side-effect';
const d = await import('@aws-sdk/lib-dynamodb');`;

    // Act
    const modules = importedModules(source);

    // Assess
    expect(modules.filter(isCloudLibrary)).toEqual([
      '@aws-sdk/client-s3',
      '@aws-lambda-powertools/logger',
      '@aws-sdk/lib-dynamodb',
    ]);
    expect(modules).toContain('./c');
    expect(modules).toContain('./side-effect');
  });

  it('imports the AWS SDK and Powertools only in its adapters, shared/aws/', () => {
    // Prepare
    const domain = files.filter((f) => !f.name.startsWith('shared/aws/'));
    expect(domain.length).toBeGreaterThan(20);

    // Act
    const offenders = domain.flatMap((f) =>
      importedModules(f.source)
        .filter(isCloudLibrary)
        .map((m) => `${f.name} imports ${m}`),
    );

    // Assess
    expect(offenders).toEqual([]);
  });
  it(`keeps every file at or under ${MAX_LINES} lines`, () => {
    // Act
    const long = files
      .map((f) => ({ name: f.name, lines: f.source.split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.name}: ${f.lines} lines`);

    // Assess
    expect(files.length).toBeGreaterThan(20);
    expect(long).toEqual([]);
  });

  it('places every folder on a floor', () => {
    const units = [...new Set(files.map((f) => unitOf(f.name)))];
    expect(units.length).toBeGreaterThan(10);
    expect(units.filter((u) => floorOf(u) < 0)).toEqual([]);
  });

  it('imports only from lower floors, never back up', () => {
    // Prepare
    expect(crossImports.length).toBeGreaterThan(20);

    // Act
    const upward = crossImports
      .filter((e) => floorOf(e.to) >= floorOf(e.from))
      .map((e) => `${e.file} imports ${e.to}`);

    // Assess
    expect(upward).toEqual([]);
  });

  it('leaves its adapters to the composition root: no domain file imports shared/aws/', () => {
    const onAdapters = crossImports
      .filter((e) => ADAPTERS.includes(e.to))
      .map((e) => `${e.file} imports ${e.to}`);
    expect(onAdapters).toEqual([]);
  });
});
