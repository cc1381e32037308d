import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkContent, validatePath } from '../../shared/inputs';
import { languageOf } from '../../shared/prompts';

const ROOT = join(import.meta.dirname, '../../examples/acme-shop');

const examplePaths = (): string[] =>
  readdirSync(ROOT, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();

describe('the bundled example project', () => {
  it('passes every input check, so `npm start` runs it without rejections', () => {
    // Act
    const rejections = examplePaths().flatMap((path) => {
      const checks = [validatePath(path, path), checkContent(path, readFileSync(join(ROOT, path)))];
      return checks.flatMap((r) => (r.ok ? [] : [r.rejection]));
    });

    // Assess
    expect(rejections).toEqual([]);
  });

  it('has sources in TypeScript, JavaScript, Python, Go and Java beside its style guide', () => {
    const paths = examplePaths();
    const sources = paths.filter((p) => p !== 'STYLE.md');
    expect(paths).toContain('STYLE.md');
    expect(new Set(sources.map(languageOf))).toEqual(
      new Set(['typescript', 'javascript', 'python', 'go', 'java']),
    );
    expect(sources.length).toBeGreaterThanOrEqual(8);
    expect(sources.length).toBeLessThanOrEqual(12);
  });
});
