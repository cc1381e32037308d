/**
 * The quality loop's parts, each on its own: the simulator's tests (they run, and break as
 * told), running a command with a time limit, trimming failure output, the docs check, the
 * coverage readers and the shadow sample.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { typescriptExports } from '../../cli/lib/quality/docs-check';
import { runCommand, validateFile, verdictOf } from '../../cli/lib/quality/run';
import { composeAnswer, repairRound } from '../../local/sim/content';
import { breakKindAt, isBrokenAt, ratesFor } from '../../local/sim/quality';
import { buildMessages, languageOf } from '../../shared/prompts';
import { parseJsonSummary, parseLcov } from '../../shared/quality/coverage';
import { bestEffortExports, checkDoc } from '../../shared/quality/docs-check';
import { repairMessages, trimFailureOutput } from '../../shared/quality/repair';
import { inShadowSample, shadowBatchIdOf } from '../../shared/quality/shadow';

const SOURCE = [
  'export function scale(value, factor) {',
  '  return value * factor;',
  '}',
  '',
  'export const LIMIT = 10;',
  '',
].join('\n');

function messagesFor(path: string, content: string, context = 'Tests use node:test.') {
  return buildMessages({
    kind: 'tests',
    language: languageOf(path),
    sharedContext: context,
    path,
    content,
  });
}

async function projectWith(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'warmbatch-quality-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
  return dir;
}

const quality = (broken: number, repair: number) => ({
  model: 'deepseek-flash',
  seed: 3,
  quality: { brokenTestRate: broken, repairSuccessRate: repair, byModel: {} },
});

describe("the simulator's tests", () => {
  it('pass when run, and fail when broken, each way it breaks', async () => {
    // Prepare
    const messages = messagesFor('calc.mjs', SOURCE);
    const good = composeAnswer(messages, false, quality(0, 1)).content;
    const dir = await projectWith({ 'calc.mjs': SOURCE, 'calc.test.mjs': good });
    const run = (file: string) =>
      validateFile(
        'node --test {file}',
        { file, source: 'calc.mjs' },
        { cwd: dir, timeoutMs: 30_000, runs: 1 },
      );

    // Act
    const passing = await run('calc.test.mjs');
    const broken: Record<string, string> = {};
    for (let seed = 0; Object.keys(broken).length < 3 && seed < 50; seed++) {
      const kind = breakKindAt(seed, 'deepseek-flash', 'calc.mjs', 0);
      const answer = composeAnswer(messages, false, { ...quality(1, 0), seed }).content;
      broken[kind] ??= answer;
    }
    const verdicts: Record<string, string> = {};
    for (const [kind, text] of Object.entries(broken)) {
      await writeFile(join(dir, `${kind}.test.mjs`), text);
      verdicts[kind] = (await run(`${kind}.test.mjs`)).verdict;
    }

    // Assess
    expect(good).toContain("from './calc.mjs'");
    expect(passing.verdict).toBe('passed');
    expect(verdicts).toEqual({ syntax: 'failed', import: 'failed', assertion: 'failed' });
  }, 60_000);

  it('break at the broken rate and are fixed by repairs at the repair rate, per model', () => {
    // Prepare
    const q = {
      brokenTestRate: 0.3,
      repairSuccessRate: 0.7,
      byModel: { other: { brokenTestRate: 0 } },
    };
    const paths = Array.from({ length: 2_000 }, (_, i) => `src/f${i}.ts`);

    // Act
    const broken = paths.filter((p) => isBrokenAt(q, 1, 'deepseek-flash', p, 0));
    const fixed = broken.filter((p) => !isBrokenAt(q, 1, 'deepseek-flash', p, 1));

    // Assess: within 4 standard deviations of the rates.
    expect(Math.abs(broken.length / paths.length - 0.3)).toBeLessThan(4 * Math.sqrt(0.21 / 2_000));
    expect(Math.abs(fixed.length / broken.length - 0.7)).toBeLessThan(
      4 * Math.sqrt(0.21 / broken.length),
    );
    expect(paths.filter((p) => isBrokenAt(q, 1, 'other', p, 0))).toEqual([]);
    expect(ratesFor(q, 'other')).toEqual({ brokenTestRate: 0, repairSuccessRate: 0.7 });
  });

  it('reads a repair request as the next round of the same file', () => {
    // Prepare
    const first = messagesFor('calc.mjs', SOURCE);
    const answer = composeAnswer(first, false, quality(1, 0)).content;
    const repair = repairMessages(first, answer, {
      testPath: 'calc.test.mjs',
      verdict: 'failed',
      output: 'Error [ERR_MODULE_NOT_FOUND]: Cannot find module ./calc-missing.mjs',
    });

    // Act
    const fixed = composeAnswer(repair, false, quality(1, 1)).content;

    // Assess
    expect(repairRound(first)).toBe(0);
    expect(repairRound(repair)).toBe(1);
    expect(fixed).toContain("from './calc.mjs'");
    expect(fixed).not.toContain('const = ;');
    expect(fixed).not.toContain('.length, -1');
  });
});

describe('running a validation command', () => {
  it('kills a run that outlives its time limit, with its children', async () => {
    const started = Date.now();
    const r = await runCommand('sleep 20 & sleep 20; echo never', {
      cwd: tmpdir(),
      timeoutMs: 300,
    });
    expect(r.timedOut).toBe(true);
    expect(r.output).not.toContain('never');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('calls a test flaky when it passes some runs and fails others', async () => {
    // Prepare: passes on the first run, fails on the second.
    const dir = await projectWith({});
    const command = 'if [ -e ran ]; then exit 1; else touch ran; fi';

    // Act
    const v = await validateFile(
      command,
      { file: 'x', source: 'y' },
      { cwd: dir, timeoutMs: 5_000, runs: 3 },
    );

    // Assess
    expect(v.verdict).toBe('flaky');
    expect(verdictOf([])).toBe('passed');
    expect(verdictOf([{ exitCode: 1, timedOut: false, output: '' }])).toBe('failed');
    expect(verdictOf([{ exitCode: null, timedOut: true, output: '' }])).toBe('timed_out');
  });

  it('quotes {file} and {source} so a path cannot run anything', async () => {
    const dir = await projectWith({});
    const r = await runCommand(
      (await import('../../cli/lib/quality/run')).substitute('echo {file}', {
        file: "a'; touch pwned; '",
        source: '',
      }),
      { cwd: dir, timeoutMs: 5_000 },
    );
    expect(r.output.trim()).toBe("a'; touch pwned; '");
    expect(
      await runCommand('ls', { cwd: dir, timeoutMs: 5_000 }).then((x) => x.output),
    ).not.toContain('pwned');
  });
});

describe('failure output for a repair', () => {
  it('keeps the first lines within the limits, without terminal colours', () => {
    const output = `\u001b[31mFAIL\u001b[0m calc.test.mjs\n${'  at frame\n'.repeat(200)}`;
    const trimmed = trimFailureOutput(output, { maxLines: 10, maxChars: 4_000 });
    expect(trimmed.split('\n')).toHaveLength(11);
    expect(trimmed.startsWith('FAIL calc.test.mjs')).toBe(true);
    expect(trimmed).toMatch(/\[\.\.\. 191 more lines left out\]$/);
  });
});

describe('the docs check', () => {
  it('counts the exports a doc mentions and the names of its code spans the source lacks', () => {
    const check = checkDoc({
      exports: ['scale', 'LIMIT', 'unused'],
      source: SOURCE,
      doc: '# calc\n\n`scale(value, factor)` multiplies. See `LIMIT`, and `clampValue(x)`.\n\n```js\nnotChecked()\n```\n',
    });
    expect(check).toMatchObject({
      exports: 3,
      mentioned: 2,
      missing: ['unused'],
      inventedNames: ['clampValue'],
      invented: 1,
    });
  });

  it('reads TS/JS exports with the compiler, re-exports and types included', async () => {
    const dir = await projectWith({
      'a.ts': "export * from './b';\nexport interface Shape { x: number }\nexport default 1;\n",
      'b.ts': 'export function area(): number { return 1; }\nexport type Unit = string;\n',
    });
    const names = await typescriptExports([join(dir, 'a.ts')]);
    expect([...(names.get(join(dir, 'a.ts')) ?? [])].sort()).toEqual(['Shape', 'Unit', 'area']);
  });

  it('falls back to a best-effort rule per language, and to none it does not know', () => {
    expect(
      bestEffortExports(
        'x.py',
        'def total(xs):\n    pass\n\ndef _hidden():\n    pass\nclass Cart:\n    pass\n',
      ),
    ).toEqual(['total', 'Cart']);
    expect(
      bestEffortExports('x.go', 'func Rate() int {}\nfunc rate() {}\ntype Zone struct{}\n'),
    ).toEqual(['Rate', 'Zone']);
    expect(bestEffortExports('x.rb', 'def x; end')).toBeUndefined();
  });
});

describe('coverage reports', () => {
  it('reads lcov and istanbul json-summary per file, relative to the project', () => {
    const lcov = 'TN:\nSF:/repo/src/a.mjs\nDA:1,1\nDA:2,0\nDA:3,4\nLH:2\nLF:3\nend_of_record\n';
    expect(parseLcov(lcov, '/repo').get('src/a.mjs')).toEqual({ covered: 2, total: 3 });
    const summary = JSON.stringify({
      total: { lines: { total: 9, covered: 9 } },
      '/repo/src/b.ts': { lines: { total: 10, covered: 7 } },
    });
    expect([...parseJsonSummary(summary, '/repo')]).toEqual([
      ['src/b.ts', { covered: 7, total: 10 }],
    ]);
  });
});

describe('the shadow sample', () => {
  it('is seeded: the same batch samples the same files, at about the rate', () => {
    const paths = Array.from({ length: 1_000 }, (_, i) => `f${i}.ts`);
    const a = paths.filter((p) => inShadowSample('batch-1', p, 0.1));
    expect(paths.filter((p) => inShadowSample('batch-1', p, 0.1))).toEqual(a);
    expect(Math.abs(a.length - 100)).toBeLessThan(4 * Math.sqrt(90));
    expect(paths.filter((p) => inShadowSample('batch-2', p, 0.1))).not.toEqual(a);
    expect(shadowBatchIdOf('b1')).toBe('b1-shadow');
    expect(shadowBatchIdOf('x'.repeat(128))).toMatch(/^shadow-[0-9a-f]{32}$/);
  });
});
