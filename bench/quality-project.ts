/**
 * The project the quality bench and the quality end-to-end tests submit: ES modules whose
 * functions span several lines (so coverage can tell a call from an import), and a style guide
 * naming node:test, so the simulator writes tests Node runs with no dependency.
 */
export function esModuleProject(n: number): Record<string, string> {
  const files: Record<string, string> = {
    'STYLE.md': '# Style\nTests use node:test and node:assert/strict; one test file per module.\n',
  };
  for (let i = 0; i < n; i++)
    files[`src/m${i}/calc${i}.mjs`] = [
      `export function scale${i}(value, factor) {`,
      '  if (factor === 0) {',
      '    return 0;',
      '  }',
      `  return value * factor + ${i};`,
      '}',
      '',
      `export const LIMIT_${i} = ${i * 10};`,
      '',
    ].join('\n');
  return files;
}
