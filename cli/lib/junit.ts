/**
 * `submit --junit <file>`: the batch as a JUnit XML report, the format CI test tabs read (GitLab's
 * `artifacts:reports:junit`, GitHub test-report actions). One test case per output written and
 * per file that produced none (a failure naming its code and reason), and with `--validate` one
 * per generated test, failing when it still failed after repair. No test output is included:
 * that stays in the quarantine folder.
 */
import type { BatchReport } from './batch';

/** XML 1.0 text: the five escapes, and characters XML cannot hold at all dropped. */
function xml(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing what XML 1.0 forbids
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

interface Case {
  classname: string;
  name: string;
  failure?: { type: string; message: string };
}

function testcase(c: Case): string {
  const head = `    <testcase classname="${xml(c.classname)}" name="${xml(c.name)}"`;
  if (!c.failure) return `${head}/>`;
  return `${head}>\n      <failure type="${xml(c.failure.type)}" message="${xml(c.failure.message)}"/>\n    </testcase>`;
}

/** The JUnit XML of a batch summary (after `--validate`, with its tests). */
export function junitXml(summary: BatchReport): string {
  const cases: Case[] = [];
  const generated = `warmbatch.${summary.kind}`;
  for (const path of summary.outputs ?? []) cases.push({ classname: generated, name: path });
  for (const f of summary.failures)
    cases.push({
      classname: generated,
      name: f.path,
      failure: { type: f.code, message: `${f.state}: ${f.reason}` },
    });
  for (const t of summary.quality?.tests ?? []) {
    const last = t.verdicts.at(-1) ?? 'failed';
    cases.push({
      classname: `warmbatch.validate.${t.lane}`,
      name: t.testPath,
      ...(last === 'passed'
        ? {}
        : {
            failure: {
              type: last,
              message: `${t.verdicts.join(' -> ')}${t.notRepaired ? `; not repaired: ${t.notRepaired.reason}` : ''}`,
            },
          }),
    });
  }
  const failures = cases.filter((c) => c.failure).length;
  const suite = `warmbatch ${summary.team}/${summary.project} ${summary.batchId}`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="warmbatch" tests="${cases.length}" failures="${failures}">`,
    `  <testsuite name="${xml(suite)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0">`,
    ...cases.map(testcase),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
