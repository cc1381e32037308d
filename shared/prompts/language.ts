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
