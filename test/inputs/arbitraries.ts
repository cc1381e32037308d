import fc from 'fast-check';

/** A path segment: any printable unicode (spaces included) except '/', '\\' and dot-only names. */
const segment = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
  // biome-ignore lint/suspicious/noControlCharactersInRegex: generated segments must be free of them
  .map((s) => s.replace(/[/\\\u0000-\u001f\u007f-\u009f]/gu, '_'))
  .filter((s) => s !== '' && s !== '.' && s !== '..');

const extension = fc.constantFrom('.ts', '.tsx', '.js', '.py', '.go', '.java', '.rb', '.md', '');

/** A valid relative path as users name files: unicode, spaces, nested folders, any extension. */
export const validPath = fc
  .tuple(fc.array(segment, { minLength: 0, maxLength: 3 }), segment, extension)
  .map(([dirs, name, ext]) => [...dirs, `${name}${ext}`].join('/'));
