import { describe, expect, it } from 'vitest';
import { printable } from '../../cli/lib/printable';

describe('text from inputs printed on a terminal', () => {
  it('shows control characters as escapes, so a file name cannot drive the terminal', () => {
    // Prepare: ESC and C1 CSI sequences, a bell, a carriage return and a line separator
    const name = 'src/\u001b]0;owned\u0007a\u009b2J.ts\r\nfailed: b.ts\u2028';

    // Act
    const shown = printable(name);

    // Assess
    expect(shown).toBe('src/\\u001b]0;owned\\u0007a\\u009b2J.ts\\u000d\\u000afailed: b.ts\\u2028');
    expect([...shown].every((c) => c >= ' ' && (c < '\u007f' || c > '\u009f'))).toBe(true);
  });

  it('leaves ordinary text, accents and other scripts alone', () => {
    // Assess
    expect(printable('src/naïve/模块 [x].ts')).toBe('src/naïve/模块 [x].ts');
  });
});
