/**
 * Languages: which one a file is in, and where its generated docs or tests go by that
 * language's conventions (the prompt tells the model that path, the pipeline writes to it).
 */
import { posix } from 'node:path';
import type { Kind } from '../types';

/** Languages with their own prompt templates; anything else gets the generic ones. */
export const LANGUAGES = ['typescript', 'javascript', 'python', 'go', 'java', 'generic'] as const;
export type Language = (typeof LANGUAGES)[number];

const BY_EXTENSION: Record<string, Language> = {
  ts: 'typescript',
  tsx: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  js: 'javascript',
  jsx: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  py: 'python',
  go: 'go',
  java: 'java',
};

/** The language of a file, from its extension (case-insensitive); `generic` when unknown. */
export function languageOf(path: string): Language {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  // A leading dot marks a hidden file (`.eslintrc`), not an extension.
  if (dot <= 0) return 'generic';
  return BY_EXTENSION[name.slice(dot + 1).toLowerCase()] ?? 'generic';
}

/**
 * Where the generated file for an input path goes, relative to the batch's output folder.
 * docs: `<path>.md`. tests: the language's convention (`a.ts` -> `a.test.ts`, `x.py` ->
 * `test_x.py`, `x.go` -> `x_test.go`, `Foo.java` -> `FooTest.java`, Maven's `src/main/java`
 * -> `src/test/java`), otherwise `<name>.test<ext>`.
 */
export function outputPathFor(kind: Kind, path: string): string {
  if (kind === 'docs') return `${path}.md`;
  const dir = posix.dirname(path);
  const ext = posix.extname(path);
  const stem = posix.basename(path, ext);
  const join = (name: string) => (dir === '.' ? name : `${dir}/${name}`);
  switch (languageOf(path)) {
    case 'python':
      return join(`test_${stem}${ext}`);
    case 'go':
      return join(`${stem}_test${ext}`);
    case 'java': {
      // A JUnit test under src/main would not compile in Maven or Gradle: mirror it into src/test.
      const testDir = dir.replace(/(^|\/)src\/main\/java(\/|$)/, '$1src/test/java$2');
      const name = `${stem}Test${ext}`;
      return testDir === '.' ? name : `${testDir}/${name}`;
    }
    default:
      return join(`${stem}.test${ext}`);
  }
}
