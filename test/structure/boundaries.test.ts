/**
 * The domain's boundaries, checked on the source text: shared/ is plain functions over ports,
 * so only its AWS adapters (shared/aws/) may import the AWS SDK or Powertools.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SHARED = join(ROOT, 'shared');

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
});
