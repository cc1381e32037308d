import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACKNOWLEDGEMENT,
  buildMessages,
  LANGUAGES,
  NO_SHARED_CONTEXT,
  type PromptInput,
  sharedContextFrom,
  systemTemplate,
} from '../../shared/prompts';
import { KINDS } from '../../shared/types';
import { validPath } from '../inputs/arbitraries';

const makeInput = (overrides: Partial<PromptInput> = {}): PromptInput => ({
  kind: 'docs',
  language: 'python',
  sharedContext: 'Context file: STYLE.md\n\nPrefer dataclasses.',
  path: 'pkg/recommend.py',
  content: 'def top(xs):\n    return sorted(xs)[:3]\n',
  ...overrides,
});

describe('buildMessages', () => {
  it('lays out system template, shared context, acknowledgement, then the file', () => {
    // Act
    const messages = buildMessages(makeInput());

    // Assess
    expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(messages[0]?.content).toBe(systemTemplate('docs', 'python'));
    expect(messages[1]?.content).toContain('Prefer dataclasses.');
    expect(messages[2]?.content).toBe(ACKNOWLEDGEMENT);
    expect(messages[3]?.content).toContain('File: pkg/recommend.py');
    expect(messages[3]?.content).toContain('def top(xs):\n    return sorted(xs)[:3]\n');
  });

  it('keeps nothing of the file in messages 1-3', () => {
    fc.assert(
      fc.property(validPath, fc.uuid(), (dir, marker) => {
        // Prepare: a marker that cannot occur in fixed text, in both path and content
        const input = makeInput({ path: `${dir}/${marker}.py`, content: `# ${marker}\n` });

        // Act
        const messages = buildMessages(input);

        // Assess
        for (const m of messages.slice(0, 3)) expect(m.content).not.toContain(marker);
        expect(messages[3]?.content).toContain(marker);
      }),
    );
  });

  it('keeps the four-message layout with a fixed text when there is no shared context', () => {
    const a = buildMessages(makeInput({ sharedContext: '' }));
    const b = buildMessages(makeInput({ sharedContext: '  \n' }));
    expect(a).toHaveLength(4);
    expect(a[1]?.content).toBe(NO_SHARED_CONTEXT);
    expect(b.slice(0, 3)).toEqual(a.slice(0, 3));
  });

  it('tells a test job where its test file will be saved', () => {
    const messages = buildMessages(
      makeInput({ kind: 'tests', path: 'svc/rates.go', language: 'go' }),
    );
    expect(messages[3]?.content).toContain('svc/rates_test.go');
  });

  it('fences content that itself contains code fences without letting it escape', () => {
    const content = 'Example:\n```ts\nconst a = 1;\n```\n';
    const message = buildMessages(makeInput({ content, language: 'generic' }))[3]?.content ?? '';
    expect(message).toContain(`\`\`\`\`\n${content}\`\`\`\``);
  });
});

describe('systemTemplate', () => {
  const all = KINDS.flatMap((kind) => LANGUAGES.map((language) => systemTemplate(kind, language)));

  it('has no dates, times or ids in any template', () => {
    for (const text of all) {
      expect(text).not.toMatch(/\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}|[0-9a-f]{8}-[0-9a-f]{4}/i);
    }
  });

  it.each([
    ['typescript', 'vitest'],
    ['javascript', 'vitest'],
    ['python', 'pytest'],
    ['go', '`testing`'],
    ['java', 'JUnit 5'],
  ] as const)('asks for %s tests in %s', (language, framework) => {
    expect(systemTemplate('tests', language)).toContain(framework);
  });

  it('asks docs for a section per exported symbol', () => {
    for (const language of LANGUAGES)
      expect(systemTemplate('docs', language)).toContain(
        'level-2 section for every exported symbol',
      );
  });
});

describe('sharedContextFrom', () => {
  it('gives the same text whatever order the files arrive in', () => {
    const files = [
      { path: 'types/shared.ts', content: 'export type Cents = number;' },
      { path: 'STYLE.md', content: '# Style\n' },
      { path: 'README.md', content: '# Shop\n' },
    ];
    fc.assert(
      fc.property(fc.shuffledSubarray(files, { minLength: 3, maxLength: 3 }), (shuffled) => {
        expect(sharedContextFrom(shuffled)).toBe(sharedContextFrom(files));
      }),
    );
    expect(sharedContextFrom(files).indexOf('README.md')).toBeLessThan(
      sharedContextFrom(files).indexOf('STYLE.md'),
    );
  });

  it('is empty when there are no files, so the fixed no-context text is used', () => {
    expect(sharedContextFrom([])).toBe('');
  });
});
