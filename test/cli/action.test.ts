/**
 * The GitHub Action (action.yml, entry point packages/action/main.mjs): its entry point run as
 * the runner runs it, with GITHUB_STEP_SUMMARY and GITHUB_OUTPUT pointed at files of a temp
 * folder, against the local runtime through the real command.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline';
// @ts-expect-error: a plain ES module without type declarations
import { annotations, outputLines, usdOf } from '../../packages/action/main.mjs';
import { runningClock } from '../../shared/clock';
import { sharedAws } from '../support/shared-aws';
import { projectDir } from './support';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = join(ROOT, 'packages/action/main.mjs');
const BIN = join(ROOT, 'packages/cli/bin.js');

interface ActionYaml {
  inputs: Record<string, { required?: boolean; default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: { id?: string; env?: Record<string, string>; run: string }[] };
}

let work: string;
let configFile: string;
let pipeline: LocalPipeline | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'warmbatch-action-'));
  configFile = join(work, 'warmbatch.json');
  pipeline = await startLocalPipeline({
    clock: runningClock('2026-11-30T12:00:00Z'),
    ports: { s3Sqs: 0 },
    ...sharedAws(),
    sim: { timeScale: 0, seed: 3 },
    timeScale: 0.05,
    configPath: configFile,
    exportLineItems: false,
    concurrency: { planner: 1, worker: 2, finalize: 1 },
    settings: {
      maxFileBytes: 2_000,
      maxOutputTokens: { docs: 256, tests: 256 },
      executor: { settleMs: 5, stopMarginMs: 500, concurrency: 8 },
    },
  });
}, 60_000);

afterAll(async () => {
  await pipeline?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('action.yml', () => {
  it('passes every input but the install and config to the entry point, and maps its outputs', async () => {
    const action = parse(await readFile(join(ROOT, 'action.yml'), 'utf8')) as ActionYaml;
    const submit = action.runs.steps.find((s) => s.id === 'submit');
    expect(action.runs.using).toBe('composite');
    expect(submit?.run).toContain('packages/action/main.mjs');
    const passed = Object.keys(submit?.env ?? {});
    for (const name of Object.keys(action.inputs).filter((n) => n !== 'cli' && n !== 'config'))
      expect(passed).toContain(`WARMBATCH_INPUT_${name.toUpperCase().replace(/-/g, '_')}`);
    expect(Object.keys(action.outputs).sort()).toEqual(['batch-id', 'cost-usd', 'failed']);
    for (const [name, output] of Object.entries(action.outputs))
      expect(output.value).toBe(`\${{ steps.submit.outputs.${name} }}`);
  });
});

describe('the entry point', () => {
  it('prints money exactly and escapes what GitHub reads as syntax', () => {
    expect(usdOf(1)).toBe('0.000000001');
    expect(usdOf(12_345_678_901)).toBe('12.345678901');
    const [line] = annotations({
      failures: [
        { path: 'src/a,b:c.ts', state: 'failed', code: 'too_large', reason: '50% over\nlimit' },
      ],
    }) as string[];
    expect(line).toBe(
      '::error file=src/a%2Cb%3Ac.ts,title=warmbatch%3A failed (too_large)::50%25 over%0Alimit',
    );
    expect(outputLines({ a: 'x', b: 'one\ntwo' })).toMatch(
      /^a=x\nb<<(ghadelimiter_\w+)\none\ntwo\n\1\n$/,
    );
  });

  it('submits, then writes the step summary, an annotation per failed file and the outputs', async () => {
    // Prepare: three sources and one over the pipeline's size limit.
    const dir = await projectDir(
      {
        'src/cart.ts': 'export const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);\n',
        'src/vat.ts': 'export const vat = (net: number) => net * 1.2;\n',
        'src/big.ts': `export const big = ${JSON.stringify('x'.repeat(3_000))};\n`,
      },
      work,
    );
    const summaryFile = join(work, 'step-summary.md');
    const outputFile = join(work, 'output.txt');
    await writeFile(summaryFile, '');
    await writeFile(outputFile, '');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NO_COLOR: '1',
      WARMBATCH_BIN: BIN,
      WARMBATCH_CONFIG: configFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_OUTPUT: outputFile,
      WARMBATCH_INPUT_TEAM: 'web',
      WARMBATCH_INPUT_PROJECT: 'shop',
      WARMBATCH_INPUT_KIND: 'tests',
      WARMBATCH_INPUT_GLOBS: 'src/**/*.ts\n',
      WARMBATCH_INPUT_CONTEXT: '',
      WARMBATCH_INPUT_OUT: '.',
      WARMBATCH_INPUT_VALIDATE: '',
      WARMBATCH_INPUT_FAIL_ON_FAILING_TESTS: 'false',
      WARMBATCH_INPUT_BUDGET_USD: '',
      WARMBATCH_INPUT_ARGS: '',
    };

    // Act
    const run = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [ENTRY], { cwd: dir, env }, (err, stdout) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout }),
      );
    });

    // Assess: exit 3 (a file failed), as the command's.
    expect(run.code).toBe(3);
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^::error file=src\/big\.ts,title=warmbatch%3A failed \(\w+\)::.+/);
    const summary = await readFile(summaryFile, 'utf8');
    expect(summary).toContain('### warmbatch');
    expect(summary).toMatch(/\| jobs \| 3 \|/);
    expect(summary).toMatch(/\| failed \| 1 \|/);
    expect(summary).toMatch(/\| cost \| \$0\.\d{9} \|/);
    expect(summary).toMatch(/\| cache hit \| \d+\.\d% \|/);
    expect(summary).toMatch(/\| src\/big\.ts \| failed \| .+ \|/);
    const outputs = Object.fromEntries(
      (await readFile(outputFile, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    expect(outputs['batch-id']).toMatch(/^\S+$/);
    expect(outputs['cost-usd']).toMatch(/^0\.\d{9}$/);
    expect(Number(outputs['cost-usd'])).toBeGreaterThan(0);
    expect(outputs.failed).toBe('1');
    expect(await readFile(join(dir, 'src/cart.test.ts'), 'utf8')).not.toBe('');
  }, 120_000);
});
