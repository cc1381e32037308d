/**
 * Bundles each Lambda handler named in shared/resources.ts exactly as the stack does (the
 * options in infra/bundling.ts) and prints its minified size and its cold module-load time:
 * a fresh `node` process imports the bundle, a few times, and the median is reported.
 *
 *   npx tsx bench/bundles.ts [--runs 5] [--top 8] [--entry worker=path/to/other.ts]
 *
 * Bundles are written under node_modules/.cache so the external AWS SDK resolves from the
 * repo, as Lambda's runtime provides it. Handlers read their configuration at cold start, so
 * each import runs with placeholder resource names and the default settings from cdk.json.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import Table from 'cli-table3';
import { Command } from 'commander';
import { build, type Metafile } from 'esbuild';
import { esbuildOptions } from '../infra/bundling';
import { CONFIG_CONTEXT_KEY, parseConfig, toSettings } from '../infra/config';
import { REPO_ROOT } from '../infra/stack';
import { ENV, FUNCTIONS, type FunctionName } from '../shared/resources';

const run = promisify(execFile);
const OUT_DIR = path.join(REPO_ROOT, 'node_modules/.cache/warmbatch-bundles');
const IMPORT_TIMEOUT_MS = 30_000;

type Row =
  | { name: FunctionName; entry: string; status: 'missing' }
  | { name: FunctionName; entry: string; status: 'failed'; error: string }
  | {
      name: FunctionName;
      entry: string;
      status: 'ok';
      bytes: number;
      mapBytes: number;
      loadMs: number;
      /** Minified bytes contributed by each package (or source folder), largest first. */
      parts: Array<[string, number]>;
    };

/** Placeholder environment a handler needs to get through its cold start offline. */
function handlerEnvironment(): NodeJS.ProcessEnv {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'));
  const settings = toSettings(parseConfig(cdkJson.context?.[CONFIG_CONTEXT_KEY]));
  return {
    PATH: process.env.PATH,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    [ENV.bucket]: 'bench-bucket',
    [ENV.jobsTable]: 'bench-jobs',
    [ENV.ledgerTable]: 'bench-ledger',
    [ENV.workQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench-work.fifo',
    [ENV.finalizeQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench-finalize',
    [ENV.apiKeySecretId]: 'bench-secret',
    [ENV.settings]: JSON.stringify(settings),
  };
}

/** Milliseconds a fresh node process spends importing `file`. */
async function loadMs(file: string, env: NodeJS.ProcessEnv): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env,
    timeout: IMPORT_TIMEOUT_MS,
  });
  return Number(stdout);
}

/** Bytes of `outfile` by the npm package (or top-level source folder) they came from. */
function composition(metafile: Metafile, outfile: string): Array<[string, number]> {
  const output = metafile.outputs[path.relative(process.cwd(), outfile)];
  const byPart = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const pkg = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1];
    const part = pkg ?? input.split('/').slice(0, 2).join('/');
    byPart.set(part, (byPart.get(part) ?? 0) + bytesInOutput);
  }
  return [...byPart].sort((a, b) => b[1] - a[1]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function measure(
  name: FunctionName,
  entry: string,
  runs: number,
  env: NodeJS.ProcessEnv,
): Promise<Row> {
  const source = path.join(REPO_ROOT, entry);
  if (!existsSync(source)) return { name, entry, status: 'missing' };
  const outfile = path.join(OUT_DIR, name, 'index.mjs');
  try {
    const result = await build({ ...esbuildOptions(source, outfile), metafile: true });
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await loadMs(outfile, env));
    return {
      name,
      entry,
      status: 'ok',
      bytes: statSync(outfile).size,
      mapBytes: statSync(`${outfile}.map`).size,
      loadMs: median(times),
      parts: composition(result.metafile, outfile),
    };
  } catch (err) {
    const detail = err as { stderr?: string; message?: string };
    const error = (detail.stderr?.trim() || detail.message || String(err)).split('\n')[0] ?? '';
    return { name, entry, status: 'failed', error };
  }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

async function main(): Promise<void> {
  const options = new Command('bundles')
    .option('--runs <n>', 'imports per bundle; the median is reported', (v) => Number(v), 5)
    .option(
      '--top <n>',
      'list the n largest contributors (npm packages or source folders) of each bundle',
      (v) => Number(v),
      8,
    )
    .option(
      '--entry <function=path>',
      'measure another module for a function (repeatable)',
      (v: string, acc: Record<string, string>) => {
        const [fn, file] = v.split('=');
        if (!fn || !file || !(fn in FUNCTIONS))
          throw new Error(`--entry ${v}: use <function>=<path>`);
        return { ...acc, [fn]: file };
      },
      {} as Record<string, string>,
    )
    .parse()
    .opts<{ runs: number; top: number; entry: Record<string, string> }>();
  await rm(OUT_DIR, { recursive: true, force: true });
  await mkdir(OUT_DIR, { recursive: true });
  const env = handlerEnvironment();
  const rows: Row[] = [];
  for (const name of Object.keys(FUNCTIONS) as FunctionName[]) {
    const entry = options.entry[name] ?? FUNCTIONS[name].entry;
    rows.push(await measure(name, entry, options.runs, env));
  }

  const table = new Table({
    head: [
      'function',
      'entry',
      'bundle (minified)',
      'source map',
      `cold import (median of ${options.runs})`,
    ],
  });
  for (const row of rows) {
    if (row.status === 'ok') {
      table.push([
        row.name,
        row.entry,
        kb(row.bytes),
        kb(row.mapBytes),
        `${row.loadMs.toFixed(0)} ms`,
      ]);
    } else if (row.status === 'missing') {
      table.push([
        row.name,
        row.entry,
        { colSpan: 3, content: 'MISSING: entry file does not exist yet' },
      ]);
    } else {
      table.push([
        row.name,
        row.entry,
        { colSpan: 3, content: `FAILED: ${row.error.slice(0, 120)}` },
      ]);
    }
  }
  process.stdout.write(`${table.toString()}\n`);
  for (const row of rows) {
    if (row.status !== 'ok' || options.top <= 0) continue;
    const parts = row.parts.slice(0, options.top).map(([part, bytes]) => `${part} ${kb(bytes)}`);
    process.stdout.write(`${row.name}: ${parts.join(', ')}\n`);
  }
  const missing = rows.filter((r) => r.status === 'missing').map((r) => r.entry);
  if (missing.length > 0) process.stdout.write(`missing entries: ${missing.join(', ')}\n`);
  if (rows.some((r) => r.status === 'failed')) process.exitCode = 1;
}

await main();
