import { describe, expect, it } from 'vitest';
import { toCsv } from '../../cli/lib/money';

describe('CSV the CLI writes', () => {
  it('opens a cell a spreadsheet would run as a formula as text instead (= + - @ tab CR)', () => {
    // Prepare: tag values and names a team chose
    const rows = [
      ['=HYPERLINK("http://x","y")', 1],
      ['+cmd|calc', 2],
      ['-2+3', 3],
      ['@SUM(A1:A9)', 4],
      ['\tindented', 5],
    ];

    // Act
    const csv = toCsv(['tag', 'n'], rows);

    // Assess
    expect(csv.split('\r\n').slice(1, -1)).toEqual([
      `"'=HYPERLINK(""http://x"",""y"")",1`,
      `'+cmd|calc,2`,
      `'-2+3,3`,
      `'@SUM(A1:A9),4`,
      `'\tindented,5`,
    ]);
  });

  it('leaves numbers, and text that is only a number, as they are', () => {
    // Assess
    expect(
      toCsv(
        ['usd', 'n'],
        [
          ['-0.001', -3],
          ['+1.50', 0],
        ],
      ),
    ).toBe('usd,n\r\n-0.001,-3\r\n+1.50,0\r\n');
  });
});
