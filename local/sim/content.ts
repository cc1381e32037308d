import { hashString } from './prng';
import {
  type BreakKind,
  breakKindAt,
  DEFAULT_QUALITY,
  isBrokenAt,
  type SimQuality,
} from './quality';
import type { SimMessage } from './render';

/**
 * Deterministic, plausible answers. The pipeline asks for two kinds of output (docs and tests)
 * for one source file; the simulator reads the kind, the file path and the exported symbols from
 * the prompt and answers in kind, so outputs look like what the pipeline stores without any model.
 * The same messages always give the same text.
 */

export type AnswerKind = 'docs' | 'tests' | 'other';

export interface SourceSymbol {
  name: string;
  kind: 'function' | 'class' | 'type' | 'value';
  signature: string;
}

export interface SourceFile {
  path: string;
  language: Language;
  code: string;
}

export type Language =
  | 'typescript'
  | 'javascript'
  | 'python'
  | 'go'
  | 'rust'
  | 'java'
  | 'kotlin'
  | 'csharp'
  | 'other';

export interface Answer {
  kind: AnswerKind;
  path?: string;
  symbols: SourceSymbol[];
  content: string;
  reasoning: string;
}

// Kept apart from shared/prompts/language.ts on purpose: that map says which prompt templates a
// file gets, this one which languages the simulated model can read; the sets differ (rust, kotlin,
// csharp) and a template change in the pipeline must not change the simulator's answers.
const EXTENSIONS: Record<string, Language> = {
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
  rs: 'rust',
  java: 'java',
  kt: 'kotlin',
  cs: 'csharp',
};

const PATH = /(?:^|[\s`'"(:])((?:[\w.@-]+\/)*[\w@-][\w.@-]*\.([A-Za-z]{1,4}))(?=$|[\s`'"),:])/gm;
const FENCE = /```[^\n]*\n([\s\S]*?)```/;

/** Which of the two pipeline kinds a conversation asks for, judged by its instructions. */
export function detectKind(messages: readonly SimMessage[]): AnswerKind {
  const instructions = messages
    .filter((m) => m.role === 'system')
    .map((m) => m.content)
    .join('\n');
  const last = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  for (const text of [instructions, last]) {
    const tests = text.search(/\b(unit tests?|tests? (file|suite|cases?)|write tests|tests)\b/i);
    const docs = text.search(/\b(documentation|docs|document|docstrings?)\b/i);
    if (tests >= 0 && (docs < 0 || tests < docs)) return 'tests';
    if (docs >= 0) return 'docs';
  }
  return 'other';
}

/**
 * Where the file to answer about is: the last user message that opens with `File: ` (the
 * pipeline's layout), else the last user message. Messages after it are a repair: the model's
 * previous answer, then the failure output.
 */
function fileMessageIndex(messages: readonly SimMessage[]): number {
  let lastUser = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as SimMessage;
    if (m.role !== 'user') continue;
    if (m.content.startsWith('File: ')) return i;
    if (lastUser < 0) lastUser = i;
  }
  return lastUser;
}

/**
 * Which repair round a request is: the number of the model's own answers after the file's
 * message (0 for a first request). A repair request carries the failure output after them.
 */
export function repairRound(messages: readonly SimMessage[]): number {
  const at = fileMessageIndex(messages);
  if (at < 0 || messages.at(-1)?.role !== 'user') return 0;
  return messages.slice(at + 1).filter((m) => m.role === 'assistant').length;
}

/** The source file named in the file's message (see fileMessageIndex): path, language, code. */
export function findSourceFile(messages: readonly SimMessage[]): SourceFile | undefined {
  const last = messages[fileMessageIndex(messages)]?.content;
  if (last === undefined) return undefined;
  for (const match of last.matchAll(PATH)) {
    const path = match[1] as string;
    const language = EXTENSIONS[(match[2] as string).toLowerCase()];
    if (!language) continue;
    const code = FENCE.exec(last)?.[1] ?? last;
    return { path, language, code };
  }
  return undefined;
}

const SYMBOL_RULES: Partial<Record<Language, Array<[RegExp, SourceSymbol['kind'] | 'decide']>>> = {
  typescript: [
    [
      /^[ \t]*export\s+(?:default\s+)?(?:declare\s+)?(?:async\s+)?function\*?\s+([A-Za-z_$][\w$]*)/gm,
      'function',
    ],
    [
      /^[ \t]*export\s+(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)/gm,
      'class',
    ],
    [/^[ \t]*export\s+(?:declare\s+)?(?:interface|type|enum)\s+([A-Za-z_$][\w$]*)/gm, 'type'],
    [/^[ \t]*export\s+(?:declare\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)/gm, 'decide'],
  ],
  python: [
    [/^(?:async\s+)?def\s+([A-Za-z]\w*)/gm, 'function'],
    [/^class\s+([A-Za-z]\w*)/gm, 'class'],
  ],
  go: [
    [/^func\s+(?:\([^)]*\)\s*)?([A-Z]\w*)/gm, 'function'],
    [/^type\s+([A-Z]\w*)/gm, 'type'],
  ],
  rust: [
    [/^[ \t]*pub\s+(?:const\s+)?(?:async\s+)?fn\s+([A-Za-z_]\w*)/gm, 'function'],
    [/^[ \t]*pub\s+(?:struct|enum|trait)\s+([A-Za-z_]\w*)/gm, 'type'],
  ],
  java: [
    [
      /^[ \t]*public\s+(?:abstract\s+|final\s+|static\s+)*(?:class|interface|enum|record)\s+(\w+)/gm,
      'class',
    ],
    [
      /^[ \t]*public\s+(?:static\s+|final\s+|synchronized\s+)*[\w<>[\],\s]+?\s+(\w+)\s*\(/gm,
      'function',
    ],
  ],
};
SYMBOL_RULES.javascript = SYMBOL_RULES.typescript;
SYMBOL_RULES.kotlin = [
  [/^[ \t]*(?:public\s+)?(?:suspend\s+)?fun\s+(?:<[^>]*>\s*)?([A-Za-z_]\w*)/gm, 'function'],
  [
    /^[ \t]*(?:public\s+)?(?:data\s+|sealed\s+|abstract\s+|open\s+)*(?:class|interface|object)\s+(\w+)/gm,
    'class',
  ],
];
SYMBOL_RULES.csharp = SYMBOL_RULES.java;

/** The exported (public) symbols of a file, in source order, each once. */
export function exportedSymbols(file: SourceFile): SourceSymbol[] {
  const found: Array<SourceSymbol & { at: number }> = [];
  const names = new Set<string>();
  for (const [pattern, kind] of SYMBOL_RULES[file.language] ?? []) {
    for (const match of file.code.matchAll(pattern)) {
      const name = match[1] as string;
      if (names.has(name) || name.startsWith('_')) continue;
      names.add(name);
      const line = file.code.slice(match.index).split('\n')[0] ?? '';
      const signature = line.replace(/\s*[{=:]?\s*$/, '').trim();
      const decided =
        kind === 'decide'
          ? /=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*(?::[^=]+)?=>|[A-Za-z_$][\w$]*\s*=>)/.test(
              line,
            )
            ? 'function'
            : 'value'
          : kind;
      found.push({ name, kind: decided, signature, at: match.index });
    }
  }
  return found.sort((a, b) => a.at - b.at).map(({ at: _at, ...symbol }) => symbol);
}

const DESCRIPTIONS: Record<SourceSymbol['kind'], string[]> = {
  function: [
    'Computes its result from its arguments alone and returns it to the caller.',
    'Validates its input first, then performs the operation the name describes.',
    'Wraps the underlying operation so callers do not repeat the same steps.',
  ],
  class: [
    'Holds the state the module works on and exposes its operations as methods.',
    'Groups related behaviour behind one object with a small public surface.',
  ],
  type: [
    'Describes the shape of the data the module passes around.',
    'Names a data shape so that callers and implementations agree on it.',
  ],
  value: [
    'A module-level value other code reads; treat it as constant.',
    'Shared configuration exposed so callers use the same setting.',
  ],
};

function pick<T>(options: readonly T[], seed: number): T {
  return options[seed % options.length] as T;
}

function fenceLanguage(language: Language): string {
  return language === 'other' ? '' : language;
}

function docsAnswer(file: SourceFile, symbols: SourceSymbol[]): string {
  const lines = [`# \`${file.path}\``, ''];
  lines.push(
    symbols.length === 0
      ? 'This module exports no public symbols; it is used for its side effects.'
      : `This ${file.language} module exports ${symbols.length} symbol${symbols.length === 1 ? '' : 's'}.`,
  );
  for (const symbol of symbols) {
    lines.push('', `## \`${symbol.name}\``, '');
    lines.push(pick(DESCRIPTIONS[symbol.kind], hashString(file.path + symbol.name)));
    lines.push('', `\`\`\`${fenceLanguage(file.language)}`, symbol.signature, '```');
  }
  return `${lines.join('\n')}\n`;
}

function moduleName(path: string): string {
  const base = path.split('/').at(-1) ?? path;
  return base.replace(/\.[^.]+$/, '');
}

/** How a JS/TS test file is written: its framework, and whether (and how) it is broken. */
export interface JsTestOptions {
  framework: 'vitest' | 'node:test';
  broken?: BreakKind;
}

/**
 * A real JS/TS test file: it imports the module under test by a relative path from where the
 * test is saved (next to the source; extensionless for TypeScript, with the extension for
 * JavaScript, as Node's ES modules need) and asserts on its runtime exports, so it passes when
 * run. A broken one carries a syntax error, imports a module that does not exist, or asserts
 * something false.
 */
function jsTestsAnswer(file: SourceFile, symbols: SourceSymbol[], options: JsTestOptions): string {
  const base = file.path.split('/').at(-1) ?? file.path;
  const mod = moduleName(file.path);
  const target = file.language === 'typescript' ? `./${mod}` : `./${base}`;
  const spec =
    options.broken === 'import'
      ? `${target.replace(/(\.[^./]+)?$/, '')}-missing${file.language === 'typescript' ? '' : base.slice(mod.length)}`
      : target;
  // Types and `declare`d names have no runtime value to assert on.
  const runtime = symbols.filter(
    (s) => s.kind !== 'type' && !/\b(declare|default)\b/.test(s.signature),
  );
  const vitest = options.framework === 'vitest';
  const eq = (actual: string, expected: string) =>
    vitest ? `expect(${actual}).toBe(${expected});` : `assert.equal(${actual}, ${expected});`;
  const lines = vitest
    ? [`import { describe, expect, it } from 'vitest';`]
    : [`import assert from 'node:assert/strict';`, `import { describe, it } from 'node:test';`];
  lines.push(`import * as mod from '${spec}';`, '');
  if (options.broken === 'syntax') lines.push('const = ;', '');
  lines.push(`describe('${mod}', () => {`);
  for (const s of runtime) {
    const expected = s.kind === 'value' ? null : `'function'`;
    lines.push(`  it('exports ${s.name}', () => {`);
    lines.push(
      expected === null
        ? `    ${eq(`'${s.name}' in mod`, 'true')}`
        : `    ${eq(`typeof mod.${s.name}`, expected)}`,
    );
    lines.push('  });', '');
  }
  lines.push(`  it('loads the module', () => {`, `    ${eq(`typeof mod`, `'object'`)}`, '  });');
  if (options.broken === 'assertion')
    lines.push(
      '',
      `  it('exports nothing else', () => {`,
      `    ${eq('Object.keys(mod).length', '-1')}`,
      '  });',
    );
  lines.push('});');
  return `${lines.join('\n')}\n`;
}

function testsAnswer(file: SourceFile, symbols: SourceSymbol[], options: JsTestOptions): string {
  const functions = symbols.filter((s) => s.kind === 'function');
  const mod = moduleName(file.path);
  switch (file.language) {
    case 'typescript':
    case 'javascript':
      return jsTestsAnswer(file, symbols, options);
    case 'python': {
      const lines = [`import ${mod}`, ''];
      for (const f of functions)
        lines.push(
          '',
          `def test_${f.name}_is_callable():`,
          `    assert callable(${mod}.${f.name})`,
          '',
        );
      if (functions.length === 0)
        lines.push('', 'def test_module_loads():', `    assert ${mod} is not None`, '');
      return `${lines.join('\n').trimEnd()}\n`;
    }
    case 'go': {
      const lines = [`package ${mod}`, '', 'import "testing"'];
      for (const f of functions)
        lines.push(
          '',
          `func Test${f.name}(t *testing.T) {`,
          `\tif ${f.name} == nil {`,
          `\t\tt.Fatal("${f.name} is nil")`,
          '\t}',
          '}',
        );
      if (functions.length === 0) lines.push('', 'func TestPackage(t *testing.T) {}');
      return `${lines.join('\n')}\n`;
    }
    case 'rust': {
      const lines = ['#[cfg(test)]', 'mod tests {', '    use super::*;'];
      for (const f of functions)
        lines.push(
          '',
          '    #[test]',
          `    fn ${f.name}_exists() {`,
          `        let _ = ${f.name};`,
          '    }',
        );
      lines.push('}');
      return `${lines.join('\n')}\n`;
    }
    default: {
      const cls = `${mod.charAt(0).toUpperCase()}${mod.slice(1)}Test`;
      const lines = [`class ${cls} {`];
      for (const f of functions)
        lines.push(
          `    @Test`,
          `    void ${f.name}Works() {`,
          `        // exercises ${f.name}`,
          '    }',
          '',
        );
      if (lines.at(-1) === '') lines.pop();
      lines.push('}');
      return `${lines.join('\n')}\n`;
    }
  }
}

function otherAnswer(messages: readonly SimMessage[]): string {
  const last = messages.at(-1)?.content ?? '';
  const openers = ['Understood.', 'Noted.', 'Acknowledged.', 'Sure.'];
  return `${pick(openers, hashString(last))} (Simulated answer; the last message had ${last.length} characters.)`;
}

/** What decides the quality of a tests answer: the model asked for, the seed and the rates. */
export interface AnswerQuality {
  model: string;
  seed: number;
  quality: SimQuality;
}

/** The answer (and reasoning, for reasoning models) the simulator gives to these messages. */
export function composeAnswer(
  messages: readonly SimMessage[],
  json: boolean,
  quality: AnswerQuality = { model: '', seed: 0, quality: DEFAULT_QUALITY },
): Answer {
  const kind = detectKind(messages);
  const file = findSourceFile(messages);
  const symbols = file ? exportedSymbols(file) : [];
  let content: string;
  if (kind === 'other' || !file) content = otherAnswer(messages);
  else if (kind === 'docs') content = docsAnswer(file, symbols);
  else {
    // A project whose instructions name node:test gets node:test files; vitest otherwise.
    const framework = messages.some((m) => m.content.includes('node:test'))
      ? 'node:test'
      : 'vitest';
    const round = repairRound(messages);
    const broken = isBrokenAt(quality.quality, quality.seed, quality.model, file.path, round)
      ? breakKindAt(quality.seed, quality.model, file.path, round)
      : undefined;
    content = testsAnswer(file, symbols, { framework, ...(broken ? { broken } : {}) });
  }
  const subject = file ? `\`${file.path}\`` : 'the request';
  const reasoning =
    `The user wants ${kind === 'other' ? 'an answer' : kind} for ${subject}. ` +
    (symbols.length > 0
      ? `It exports ${symbols.map((s) => s.name).join(', ')}; I will cover each in order.`
      : 'There are no exported symbols to cover, so I will keep the answer short.');
  if (json) {
    content = JSON.stringify({
      kind,
      path: file?.path ?? null,
      symbols: symbols.map((s) => s.name),
      content,
    });
  }
  return { kind, path: file?.path, symbols, content, reasoning };
}
