import { describe, expect, it } from 'vitest';
import { checkContent, validateName, validatePath } from '../../shared/inputs';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('validatePath', () => {
  it.each([
    ['../etc/passwd', 'path_traversal'],
    ['src/../../secrets.ts', 'path_traversal'],
    ['..', 'path_traversal'],
    ['src/..', 'path_traversal'],
    ['/etc/passwd', 'absolute_path'],
    ['C:/work/a.ts', 'absolute_path'],
    ['src\\a.ts', 'backslash'],
    ['src/a\n.ts', 'control_char'],
    ['src/a\u0000.ts', 'control_char'],
    ['src/a\u0085.ts', 'control_char'],
    ['src//a.ts', 'empty_segment'],
    ['src/', 'empty_segment'],
    ['./src/a.ts', 'empty_segment'],
    ['', 'empty_path'],
    [`${'a/'.repeat(500)}x.ts`, 'path_too_long'],
  ])('rejects %j as %s, naming the source and field', (path, code) => {
    // Act
    const result = validatePath('intake/t/p/docs/x', path, 'files[0]');

    // Assess
    expect(result).toMatchObject({
      ok: false,
      rejection: { source: 'intake/t/p/docs/x', where: 'files[0]', code },
    });
  });

  it.each([
    'src/cart.ts',
    'docs and notes/my file.py',
    'src/café/naïve.go',
    'pkg/日本語/ユーティリティ.java',
    'src/emoji-🚀.ts',
    '.github/scripts/check.js',
    'a..b/c...d.ts',
    // Only a segment equal to '..' is traversal; these are ordinary names.
    '..foo/x.ts',
    'a..b.ts',
    'src/foo../bar.ts',
    '.../x.ts',
  ])('accepts %j unchanged', (path) => {
    expect(validatePath('s', path)).toEqual({ ok: true, value: path });
  });
});

describe('validateName', () => {
  it('accepts mixed case and stores the name in lower case', () => {
    expect(validateName('s', 'team', 'Payments-EU_2')).toEqual({
      ok: true,
      value: 'payments-eu_2',
    });
  });

  it.each(['', '-lead', 'has space', 'a/b', 'x'.repeat(64), 'ünïcode'])(
    'rejects %j and says that case does not matter',
    (name) => {
      const result = validateName('s', 'project', name);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.rejection.code).toBe('bad_name');
      expect(result.rejection.where).toBe('project');
      expect(result.rejection.reason).toContain('case-insensitive');
    },
  );
});

describe('checkContent', () => {
  it('returns the text of a UTF-8 file, without a byte-order mark', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('export const π = 3.14;\n')]);
    expect(checkContent('k', bytes)).toEqual({ ok: true, value: 'export const π = 3.14;\n' });
  });

  it('rejects an empty file', () => {
    expect(checkContent('k', new Uint8Array())).toMatchObject({
      ok: false,
      rejection: { source: 'k', code: 'empty' },
    });
  });

  it('rejects a file with a NUL byte as binary', () => {
    expect(checkContent('k', new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x00, 0x41]))).toMatchObject({
      ok: false,
      rejection: { code: 'binary' },
    });
  });

  it('rejects a NUL-free file full of control bytes as binary', () => {
    const bytes = new Uint8Array(100).map((_, i) => (i % 4 === 0 ? 0x01 : 0x41));
    expect(checkContent('k', bytes)).toMatchObject({ ok: false, rejection: { code: 'binary' } });
  });

  it('accepts tabs, carriage returns and form feeds as text', () => {
    const text = '\tfunction f() {\r\n\f\treturn 1;\r\n}\r\n';
    expect(checkContent('k', utf8(text))).toEqual({ ok: true, value: text });
  });

  it('rejects invalid UTF-8', () => {
    const latin1 = new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]);
    expect(checkContent('k', latin1)).toMatchObject({
      ok: false,
      rejection: { code: 'invalid_utf8' },
    });
  });

  it('rejects a file over the configured size and names the limit', () => {
    const result = checkContent('k', utf8('x'.repeat(101)), { maxBytes: 100 });
    expect(result).toMatchObject({ ok: false, rejection: { code: 'too_large' } });
    if (!result.ok) expect(result.rejection.reason).toContain('100-byte limit');
  });

  it('accepts a file of exactly the default 256 KiB limit and rejects one byte more', () => {
    expect(checkContent('k', utf8('a'.repeat(256 * 1024))).ok).toBe(true);
    expect(checkContent('k', utf8('a'.repeat(256 * 1024 + 1)))).toMatchObject({
      ok: false,
      rejection: { code: 'too_large' },
    });
  });
});
