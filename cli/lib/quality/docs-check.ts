/**
 * Checks each generated doc of a batch against its source in the user's repository (the doc in
 * the output folder, the source at its input path under the cwd). TS/JS exports come from the
 * TypeScript compiler API where one is installed: `@ts-morph/common` (it ships the API bundled;
 * an optional peer of the installed command, a dev dependency of this repository, whose own
 * typescript 7 has no such API), else the checked project's own `typescript` 5 or earlier. It is
 * loaded only here. Without either, and for other languages, the best-effort rule of
 * shared/quality/docs-check.ts applies.
 */

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { BatchItem } from '../../../shared/ports/jobs';
import { bestEffortExports, checkDoc } from '../../../shared/quality/docs-check';
import { type LoopContext, relativeOutput } from './loop';
import type { DocRecord } from './report';

const TS_JS = /\.(?:[cm]?[jt]sx?)$/i;

type CompilerApi = typeof import('@ts-morph/common')['ts'];

/** The TypeScript compiler API: `@ts-morph/common`'s, else the project's; undefined if none. */
async function compilerApi(cwd: string): Promise<CompilerApi | undefined> {
  try {
    return (await import('@ts-morph/common')).ts;
  } catch {
    // Not installed beside the command: try the checked project's compiler.
  }
  try {
    const ts = createRequire(join(cwd, 'package.json'))('typescript') as Partial<CompilerApi>;
    return typeof ts.createProgram === 'function' ? (ts as CompilerApi) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Exported names of TS/JS files through the compiler API: one program over all of them (no
 * default library: exports need none), each module's exports as the checker resolves them,
 * re-exports included.
 */
export async function typescriptExports(
  files: readonly string[],
  cwd: string = process.cwd(),
): Promise<Map<string, string[]>> {
  if (files.length === 0) return new Map();
  const ts = await compilerApi(cwd);
  if (ts === undefined) return new Map();
  const program = ts.createProgram([...files], {
    allowJs: true,
    noLib: true,
    noEmit: true,
    types: [],
    skipLibCheck: true,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
  });
  const checker = program.getTypeChecker();
  const out = new Map<string, string[]>();
  for (const file of files) {
    const source = program.getSourceFile(file);
    const symbol = source ? checker.getSymbolAtLocation(source) : undefined;
    out.set(
      file,
      symbol
        ? checker
            .getExportsOfModule(symbol)
            .map((s) => s.getName())
            .filter((n) => n !== 'default')
        : [],
    );
  }
  return out;
}

/** Checks the batch's docs in `outDir` (those in `written`, passing `filter`). */
export async function checkDocs(
  ctx: LoopContext,
  batch: BatchItem,
  outDir: string,
  written: readonly string[],
  filter: (path: string) => boolean = () => true,
): Promise<DocRecord[]> {
  const onDisk = new Set(written);
  const docs: { path: string; docPath: string; source: string; text: string }[] = [];
  for (const job of await ctx.services.jobs.listJobs(batch)) {
    const docPath = relativeOutput(batch, job);
    if (docPath === undefined || !onDisk.has(docPath) || !filter(job.path)) continue;
    try {
      docs.push({
        path: job.path,
        docPath,
        source: await readFile(resolve(ctx.io.cwd, job.path), 'utf8'),
        text: await readFile(join(outDir, docPath), 'utf8'),
      });
    } catch {
      // The source is not in this checkout: nothing to check the doc against.
    }
  }
  const tsFiles = docs.filter((d) => TS_JS.test(d.path)).map((d) => resolve(ctx.io.cwd, d.path));
  const viaCompiler = await typescriptExports(tsFiles, ctx.io.cwd);
  const out: DocRecord[] = [];
  for (const d of docs) {
    const compiled = viaCompiler.get(resolve(ctx.io.cwd, d.path));
    const exports = compiled ?? bestEffortExports(d.path, d.source);
    if (exports === undefined) continue;
    out.push({
      path: d.path,
      docPath: d.docPath,
      ...checkDoc({ exports, source: d.source, doc: d.text }),
      method: compiled ? 'typescript' : 'best-effort',
    });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}
