import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { BatchReport } from '../../cli/lib/batch';
import { junitXml } from '../../cli/lib/junit';

/** A batch summary with what the JUnit report reads; the rest does not matter to it. */
function summary(over: Partial<BatchReport>): BatchReport {
  return {
    batchId: 'b1',
    team: 'web',
    project: 'shop',
    kind: 'tests',
    failures: [],
    outputs: [],
    ...over,
  } as BatchReport;
}

describe('the JUnit report of a batch', () => {
  it('has a passing case per output and a failing one per file without output', () => {
    const xml = junitXml(
      summary({
        outputs: ['src/a.test.ts'],
        failures: [
          {
            path: 'src/b&<c>.ts',
            state: 'failed',
            code: 'too_large',
            action: 'fix-input',
            reason: 'the file is "too" large\u0001',
          },
        ],
      }),
    );
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toContain('<testsuites name="warmbatch" tests="2" failures="1">');
    expect(xml).toContain('<testcase classname="warmbatch.tests" name="src/a.test.ts"/>');
    expect(xml).toContain(
      '<testcase classname="warmbatch.tests" name="src/b&amp;&lt;c&gt;.ts">\n      <failure type="too_large" message="failed: the file is &quot;too&quot; large"/>',
    );
  });

  it('fails a generated test that still fails after repair, saying why it was not repaired', () => {
    const xml = junitXml(
      summary({
        quality: {
          tests: [
            {
              path: 'src/a.ts',
              testPath: 'src/a.test.ts',
              lane: 'primary',
              verdicts: ['failed', 'passed'],
              kept: true,
            },
            {
              path: 'src/b.ts',
              testPath: 'src/b.test.ts',
              lane: 'primary',
              verdicts: ['failed'],
              kept: false,
              notRepaired: { code: 'not_repairable', reason: 'it reused an earlier answer' },
            },
          ],
        } as unknown as BatchReport['quality'],
      }),
    );
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toContain(
      '<testcase classname="warmbatch.validate.primary" name="src/a.test.ts"/>',
    );
    expect(xml).toContain(
      '<failure type="failed" message="failed; not repaired: it reused an earlier answer"/>',
    );
    expect(xml).toContain('tests="2" failures="1"');
  });
});
