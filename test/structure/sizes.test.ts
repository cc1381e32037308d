/**
 * What a reader can hold in mind, outside shared/ too (boundaries.test.ts caps shared/'s files):
 * no file of the listed folders past 500 lines, no function past 120, counted from its first
 * line to its last as an editor shows them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ts } from '@ts-morph/common';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
/** The folders held to the caps; a folder joins once it meets them. */
const CAPPED = ['cli'];
const MAX_FILE_LINES = 500;
const MAX_FUNCTION_LINES = 120;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.[cm]?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const files = CAPPED.flatMap((folder) => sourceFiles(join(ROOT, folder))).map((path) => ({
  name: relative(ROOT, path).split('\\').join('/'),
  source: readFileSync(path, 'utf8'),
}));

const lineCount = (source: string) => source.split('\n').length - (source.endsWith('\n') ? 1 : 0);

/** Every function of a file longer than the cap, as `file:line name (n lines)`. */
function longFunctions(name: string, source: string): string[] {
  const file = ts.createSourceFile(name, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      const label = node.name?.getText(file) ?? '(anonymous)';
      if (lines > MAX_FUNCTION_LINES) found.push(`${name}:${first + 1} ${label} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('the size of cli/', () => {
  it('finds source files to check', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it(`keeps every file within ${MAX_FILE_LINES} lines`, () => {
    const long = files
      .filter((f) => lineCount(f.source) > MAX_FILE_LINES)
      .map((f) => `${f.name} (${lineCount(f.source)} lines)`);
    expect(long).toEqual([]);
  });

  it(`keeps every function within ${MAX_FUNCTION_LINES} lines`, () => {
    expect(files.flatMap((f) => longFunctions(f.name, f.source))).toEqual([]);
  });

  it('counts a long function as long', () => {
    // Prepare: a function of 130 lines, so the check cannot pass by finding nothing.
    const body = Array.from({ length: 128 }, (_, i) => `  const v${i} = ${i};`).join('\n');

    // Act
    const found = longFunctions('long.ts', `export function long() {\n${body}\n}\n`);

    // Assess
    expect(found).toEqual(['long.ts:1 long (130 lines)']);
  });
});
