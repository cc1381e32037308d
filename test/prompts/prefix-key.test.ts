import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildMessages,
  LANGUAGES,
  type PromptInput,
  prefixKey,
  prefixMessages,
  requestHash,
} from '../../shared/prompts';
import { KINDS } from '../../shared/types';
import { validPath } from '../inputs/arbitraries';

const MODEL = 'deepseek-v4-flash';

const makeInput = (overrides: Partial<PromptInput> = {}): PromptInput => ({
  kind: 'tests',
  language: 'typescript',
  sharedContext: 'Context file: STYLE.md\n\nUse integer cents for money.',
  path: 'src/cart.ts',
  content: 'export const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);\n',
  ...overrides,
});

const keyOf = (input: PromptInput, model = MODEL) => prefixKey(model, buildMessages(input));

describe('prefixKey', () => {
  it('is the same for every file that shares template and context', () => {
    const reference = keyOf(makeInput());
    fc.assert(
      fc.property(validPath, fc.string({ unit: 'binary' }), (path, content) => {
        expect(keyOf(makeInput({ path, content }))).toBe(reference);
      }),
    );
  });

  it('changes with the model', () => {
    expect(keyOf(makeInput(), 'deepseek-v4-pro')).not.toBe(keyOf(makeInput()));
  });

  it('changes with the shared context, even by one character', () => {
    const base = makeInput();
    expect(keyOf({ ...base, sharedContext: `${base.sharedContext}.` })).not.toBe(keyOf(base));
    expect(keyOf({ ...base, sharedContext: '' })).not.toBe(keyOf(base));
  });

  it('differs for every kind and language template', () => {
    const keys = KINDS.flatMap((kind) =>
      LANGUAGES.map((language) => keyOf(makeInput({ kind, language }))),
    );
    expect(new Set(keys).size).toBe(KINDS.length * LANGUAGES.length);
  });

  it('changes when any prefix message changes', () => {
    // Prepare
    const messages = buildMessages(makeInput());
    const reference = prefixKey(MODEL, messages);

    // Act
    const edited = [0, 1, 2].map((i) =>
      prefixKey(
        MODEL,
        messages.map((m, j) => (j === i ? { ...m, content: `${m.content} ` } : m)),
      ),
    );

    // Assess
    for (const key of edited) expect(key).not.toBe(reference);
  });

  it('cannot be fooled by moving text across a message boundary', () => {
    const a = [
      { role: 'system' as const, content: 'ab' },
      { role: 'user' as const, content: 'c' },
      { role: 'user' as const, content: 'file' },
    ];
    const b = [
      { role: 'system' as const, content: 'a' },
      { role: 'user' as const, content: 'bc' },
      { role: 'user' as const, content: 'file' },
    ];
    expect(prefixKey(MODEL, a)).not.toBe(prefixKey(MODEL, b));
  });

  it('keys a JSONL request by all its messages but the last', () => {
    const system = { role: 'system' as const, content: 'You document code.' };
    const one = [system, { role: 'user' as const, content: 'file one' }];
    const two = [system, { role: 'user' as const, content: 'file two' }];
    expect(prefixMessages(one)).toEqual([system]);
    expect(prefixKey(MODEL, one)).toBe(prefixKey(MODEL, two));
  });

  it('is a sha256 hex digest', () => {
    expect(keyOf(makeInput())).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('requestHash', () => {
  const messages = buildMessages(makeInput());

  it('is equal for equal requests, whatever the order of the parameters', () => {
    expect(requestHash(MODEL, messages, { maxTokens: 100, temperature: 0 })).toBe(
      requestHash(MODEL, messages, { temperature: 0, maxTokens: 100 }),
    );
  });

  it('changes with the file, the parameters or the model', () => {
    const base = requestHash(MODEL, messages, { maxTokens: 100 });
    const otherFile = buildMessages(makeInput({ content: 'export const x = 1;\n' }));
    expect(requestHash(MODEL, otherFile, { maxTokens: 100 })).not.toBe(base);
    expect(requestHash(MODEL, messages, { maxTokens: 101 })).not.toBe(base);
    expect(requestHash('deepseek-v4-pro', messages, { maxTokens: 100 })).not.toBe(base);
  });
});
