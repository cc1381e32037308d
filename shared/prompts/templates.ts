/**
 * The fixed texts of the prompt prefix. They are byte-identical for every file of a group, so
 * they must never contain dates, ids, file names or anything else that varies per request:
 * one changed byte here moves every job to a cold cache.
 */
import type { Kind } from '../types';
import type { Language } from './language';

interface LanguageGuide {
  name: string;
  /** How public API is recognised in this language. */
  exported: string;
  /** Test framework and its conventions. */
  tests: string;
}

const GUIDES: Record<Language, LanguageGuide> = {
  typescript: {
    name: 'TypeScript',
    exported:
      'Exported symbols are everything marked `export` (functions, classes, interfaces, types, constants, enums), including re-exports.',
    tests: [
      'Use vitest: `import { describe, expect, it } from "vitest";`.',
      'Import the module under test with a relative, extensionless path from the test file, which sits next to the source file.',
      'Keep the tests type-correct under `strict` TypeScript; do not use `any` to silence the compiler.',
      'Use `vi.fn()` or small hand-written fakes for dependencies that are passed in; do not mock modules that are not dependencies.',
    ].join('\n'),
  },
  javascript: {
    name: 'JavaScript',
    exported:
      'Exported symbols are ES module `export`s or CommonJS `module.exports` / `exports.x` assignments.',
    tests: [
      'Use vitest: `import { describe, expect, it } from "vitest";`.',
      'Import the module under test with the same module system it uses, by a relative path from the test file, which sits next to the source file.',
      'Use `vi.fn()` or small hand-written fakes for dependencies that are passed in.',
    ].join('\n'),
  },
  python: {
    name: 'Python',
    exported:
      'Public symbols are module-level functions, classes and constants whose names do not start with an underscore, or those listed in `__all__` when it exists.',
    tests: [
      'Use pytest: plain `def test_...():` functions with bare `assert` statements.',
      'Use `pytest.raises` for expected exceptions, `@pytest.mark.parametrize` for tables of cases, and fixtures only when several tests share setup.',
      'Import the module under test by its module name; the test file sits in the same package as the source file.',
    ].join('\n'),
  },
  go: {
    name: 'Go',
    exported: 'Exported identifiers are those whose names start with an upper-case letter.',
    tests: [
      'Use the standard `testing` package only; no third-party assertion libraries.',
      'Put the test in the same package as the source file and write table-driven tests with `t.Run` sub-tests named after the case.',
      'Report failures with `t.Errorf` (or `t.Fatalf` when the test cannot go on) showing got and want.',
    ].join('\n'),
  },
  java: {
    name: 'Java',
    exported:
      'Public API is every `public` class, interface, record, enum, constructor, method and constant.',
    tests: [
      'Use JUnit 5 (`org.junit.jupiter.api.Test`, `org.junit.jupiter.api.Assertions.*`); no JUnit 4.',
      'Put the test class in the same package as the class under test and name it after that class with a `Test` suffix.',
      'Use `assertThrows` for expected exceptions and `@ParameterizedTest` with `@CsvSource` or `@MethodSource` for tables of cases.',
    ].join('\n'),
  },
  generic: {
    name: 'the language of the file (judge it from the file name and content)',
    exported:
      "Public API is whatever the language's conventions treat as visible to other modules.",
    tests: [
      'Use the most widely used test framework of that language and its usual file layout.',
      'Prefer plain assertions and tables of cases over elaborate test infrastructure.',
    ].join('\n'),
  },
};

function docsTemplate(g: LanguageGuide): string {
  return `You are a senior engineer writing reference documentation for source files written in ${g.name}.

For each file you are given, write one Markdown document:
- Start with a level-1 heading naming the module, then one short paragraph saying what the module is for and when to use it.
- Add a level-2 section for every exported symbol, in the order they appear in the file. ${g.exported}
- In each section: the signature in a fenced code block; what it does and why a caller would use it; each parameter and the return value; errors or exceptions it raises and when; a short, realistic usage example in a fenced code block.
- Document only what the code shows. Do not invent behaviour, parameters or defaults; when something is unclear from the code, say so in one sentence.
- Follow the project's shared context (style guide, conventions, shared types) when naming concepts.
- Do not document private helpers except where a public symbol's behaviour depends on them.

Reply with the Markdown document only: no preamble, no closing remarks, and do not wrap the whole document in a code fence.`;
}

function testsTemplate(g: LanguageGuide): string {
  return `You are a senior engineer writing automated tests for source files written in ${g.name}.

For each file you are given, write one complete, runnable test file:
${g.tests}
- Cover every exported function or method: the ordinary case, boundaries (empty input, zero, limits) and each error path the code has. ${g.exported}
- Name each test after the behaviour it proves, and arrange each test as prepare, act, assess.
- Derive expected values from the code's documented or evident intent, computed by hand; never copy the implementation into the test.
- Tests must be deterministic: no network, no real clock, no randomness without a fixed seed, no reliance on test order.
- Test only what the file exports; do not call private helpers directly.
- Follow the project's shared context (style guide, conventions, shared types).

Reply with the contents of the test file only: no explanations and no Markdown code fences.`;
}

/** The system message (message 1) for a kind and language. */
export function systemTemplate(kind: Kind, language: Language): string {
  const guide = GUIDES[language];
  return kind === 'docs' ? docsTemplate(guide) : testsTemplate(guide);
}

/** Heading of message 2 when the group has shared context. */
export const SHARED_CONTEXT_HEADER =
  'Shared context for every file of this project follows. Apply it to each file I send next.';

/** Message 2 when the group has no shared context; fixed so the prefix stays stable. */
export const NO_SHARED_CONTEXT =
  'This project has no shared context (no style guide, README or shared types). Apply the general instructions to each file I send next.';

/** Message 3: a fixed acknowledgement, so the shared prefix ends where the provider caches it. */
export const ACKNOWLEDGEMENT =
  'Understood. I will apply these instructions and the shared context to each file you send, and reply with the requested output only.';
