/**
 * The in-memory fakes (test/support/fakes/, and the pipeline over them) are for tests: no product
 * code may import test/support/, or a fake could end up standing in for a store in production.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const PRODUCT_DIRS = ['shared', 'lambdas', 'cli', 'local', 'infra', 'bench'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.[cm]?[jt]s$/.test(entry.name) ? [path] : [];
  });
}

/** Relative imports of a file that reach into test/support/. */
function testImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specifiers = [...source.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)].map(
    (m) => m[1] as string,
  );
  return specifiers.filter((s) =>
    /^test[\\/]support([\\/]|$)/.test(relative(ROOT, join(file, '..', s))),
  );
}

describe('test support', () => {
  it('is imported by no product code', () => {
    const offenders = PRODUCT_DIRS.flatMap((dir) => sourceFiles(join(ROOT, dir)))
      .map((file) => ({ file: relative(ROOT, file), imports: testImports(file) }))
      .filter((f) => f.imports.length > 0);

    expect(offenders).toEqual([]);
  });
});
