import { describe, expect, it } from 'vitest';
import { languageOf } from '../../shared/prompts';

describe('languageOf', () => {
  it.each([
    ['src/a.ts', 'typescript'],
    ['web/App.TSX', 'typescript'],
    ['lib/x.mjs', 'javascript'],
    ['pkg/x.py', 'python'],
    ['svc/rates.go', 'go'],
    ['src/main/java/Foo.java', 'java'],
    ['lib/a.rb', 'generic'],
    ['Makefile', 'generic'],
    ['.eslintrc', 'generic'],
    ['dir.py/README', 'generic'],
  ] as const)('%s is %s', (path, language) => {
    expect(languageOf(path)).toBe(language);
  });
});
