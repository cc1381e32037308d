/**
 * The quality loop, run where the code lives (CI), never in Lambda: validate each generated
 * test with the user's own command, send the failures back to the model as repair batches
 * (which ride the cache: the original prompt and answer are a prefix the provider just saw),
 * validate the repairs, move what still fails out of the output folder, and upload the verdicts
 * next to the batch so that the pipeline records them.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import pLimit from 'p-limit';
import {
  batchFailureKeyFor,
  type Manifest,
  ManifestSchema,
  manifestKeyFor,
} from '../../../shared/inputs';
import { outputPrefixFor, resultKeys } from '../../../shared/pipeline/keys';
import type { BatchItem, JobItem } from '../../../shared/ports/jobs';
import { trimFailureOutput } from '../../../shared/quality/repair';
import { downloadOutputs, failuresOf, isFinished, waitForBatch } from '../batch';
import { type FileVerdict, validateFile } from './run';
import type { LoopContext, QualityOptions, TestRecord } from './types';

export type { LoopContext, QualityOptions, TestRecord } from './types';

const answered = (j: JobItem) => j.state === 'succeeded' || j.state === 'reused';

/** Output path of a job relative to its batch's output folder. */
export function relativeOutput(
  batch: Pick<BatchItem, 'team' | 'project' | 'batchId'>,
  job: JobItem,
) {
  const prefix = outputPrefixFor(batch);
  return job.outputKey.startsWith(prefix) ? job.outputKey.slice(prefix.length) : undefined;
}

/** A path relative to the cwd, with forward slashes, for `{file}` and `{source}`. */
const fromCwd = (cwd: string, path: string) => relative(cwd, path).split(sep).join('/');

/** A fresh repair batch id: the batch's, the round and randomness (a later run repairs anew). */
export function repairBatchId(batchId: string, round: number): string {
  const id = `${batchId}-r${round}-${randomBytes(3).toString('hex')}`;
  return id.length <= 128 ? id : `repair-${round}-${randomBytes(8).toString('hex')}`;
}

/**
 * Validates the batch's tests in `outDir` (those in `written`, passing `filter`), repairs the
 * failures for up to `repairRounds` rounds, and moves what still fails out. Returns a record
 * per test and the repair batches it ran.
 */
export async function validateAndRepair(
  ctx: LoopContext,
  batch: BatchItem,
  outDir: string,
  written: readonly string[],
  options: QualityOptions,
  filter: (path: string) => boolean = () => true,
): Promise<{ tests: TestRecord[]; repairBatchIds: string[] }> {
  const command = options.validate;
  if (command === undefined) return { tests: [], repairBatchIds: [] };
  const cwd = ctx.io.cwd;
  const onDisk = new Set(written);
  const tests: TestRecord[] = [];
  for (const job of await ctx.services.jobs.listJobs(batch)) {
    const testPath = relativeOutput(batch, job);
    if (!answered(job) || testPath === undefined || !onDisk.has(testPath) || !filter(job.path))
      continue;
    tests.push({ path: job.path, testPath, lane: 'primary', rounds: [], output: '', kept: false });
  }
  const limit = pLimit(options.concurrency);
  const judge = (t: TestRecord): Promise<FileVerdict> =>
    validateFile(
      command,
      { file: fromCwd(cwd, join(outDir, t.testPath)), source: t.path },
      { cwd, timeoutMs: options.timeoutMs, runs: options.runs },
    );
  const jobsOf = new Map((await ctx.services.jobs.listJobs(batch)).map((j) => [j.path, j]));
  await limit.map(tests, async (t) => {
    const v = await judge(t);
    t.rounds.push({
      batchId: batch.batchId,
      verdict: v.verdict,
      job: jobsOf.get(t.path) as JobItem,
    });
    t.output = v.output;
  });

  const repairBatchIds: string[] = [];
  let previous = batch.batchId;
  for (let round = 1; round <= options.repairRounds; round++) {
    const failing = tests.filter(
      (t) => t.rounds.at(-1)?.verdict !== 'passed' && t.rounds.at(-1)?.batchId === previous,
    );
    if (failing.length === 0) break;
    const repaired = await submitRepair(ctx, batch, previous, round, failing);
    if (!repaired) break;
    repairBatchIds.push(repaired.batchId);
    previous = repaired.batchId;
    // The repairs' answers replace the failing tests in place, then are judged again.
    const scratch = await mkdtemp(join(tmpdir(), 'warmbatch-repair-'));
    try {
      const got = await downloadOutputs({
        objects: ctx.services.objects,
        batch: repaired,
        jobs: repaired.jobs,
        outDir: scratch,
      });
      const fresh = new Set(got.written);
      const byPath = new Map(repaired.jobs.map((j) => [j.path, j]));
      const refused = await notRepaired(ctx, repaired, failing);
      for (const t of failing) {
        const why = refused.get(t.path);
        if (!why) continue;
        t.notRepaired = { code: why.code, reason: why.reason };
        ctx.io.stderr.write(`repair round ${round}: not repaired: ${t.path}: ${why.reason}\n`);
      }
      await limit.map(failing, async (t) => {
        const job = byPath.get(t.path);
        if (!job || !answered(job) || !fresh.has(t.testPath)) return;
        await rename(join(scratch, t.testPath), join(outDir, t.testPath));
        const v = await judge(t);
        t.rounds.push({ batchId: repaired.batchId, verdict: v.verdict, job });
        t.output = v.output;
      });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  for (const t of tests) {
    t.kept = t.rounds.at(-1)?.verdict === 'passed';
    if (!t.kept) await moveOut(t, outDir, options.quarantine, t.rounds.at(-1)?.verdict ?? 'failed');
  }
  return { tests, repairBatchIds };
}

/**
 * Why a repair batch made no answer for some of the failing tests: its job failed (the job's
 * error), or the planner refused the file (`not_repairable` and the like, from the batch's
 * errors.jsonl, whose lines name the file at the start of their reason).
 */
async function notRepaired(
  ctx: LoopContext,
  repaired: BatchItem & { jobs: JobItem[] },
  failing: readonly TestRecord[],
): Promise<Map<string, { code: string; reason: string }>> {
  const out = new Map<string, { code: string; reason: string }>();
  const withJobs = new Set(repaired.jobs.map((j) => j.path));
  for (const f of await failuresOf(repaired.jobs, ctx.services.objects, repaired))
    if (withJobs.has(f.path)) out.set(f.path, { code: f.code, reason: f.reason });
  const missing = failing.filter((t) => !withJobs.has(t.path));
  if (missing.length === 0) return out;
  let lines: string[] = [];
  try {
    lines = ((await ctx.services.objects.getText(resultKeys(repaired).errors)) ?? '').split('\n');
  } catch {
    // errors.jsonl only adds the reason; the file is still named below.
  }
  const rejected: { code: string; reason: string }[] = [];
  for (const line of lines) {
    try {
      const raw = JSON.parse(line) as { state?: unknown; code?: unknown; reason?: unknown };
      if (raw.state === 'rejected' && typeof raw.reason === 'string')
        rejected.push({ code: String(raw.code ?? 'rejected'), reason: raw.reason });
    } catch {
      // Not a line of JSON: skipped.
    }
  }
  for (const t of missing) {
    const hit = rejected.find((r) => r.reason.startsWith(`${t.path}: `));
    out.set(t.path, {
      code: hit?.code ?? 'rejected',
      reason: hit
        ? hit.reason.slice(t.path.length + 2)
        : `the repair batch ${repaired.batchId} has no job for it: see ${resultKeys(repaired).errors}`,
    });
  }
  return out;
}

/**
 * Moves a test out of the output folder: into the quarantine folder (mirroring its path, with
 * `<test>.failure.txt` holding the verdict and output beside it), or removes it.
 */
export async function moveOut(
  t: TestRecord,
  outDir: string,
  quarantine: string | undefined,
  why: string,
): Promise<void> {
  const from = join(outDir, t.testPath);
  t.why = why;
  if (quarantine === undefined) {
    await rm(from, { force: true });
    t.movedTo = 'removed';
    return;
  }
  const to = join(quarantine, t.testPath);
  await mkdir(dirname(to), { recursive: true });
  await rename(from, to);
  await writeFile(`${to}.failure.txt`, `verdict: ${why}\n${trimFailureOutput(t.output)}\n`);
  t.movedTo = to;
}

/**
 * Submits one repair round: the failure output of each file, then the manifest (last, as
 * `submit` does), and waits for the batch. Undefined when it did not end in time.
 */
async function submitRepair(
  ctx: LoopContext,
  batch: BatchItem,
  previous: string,
  round: number,
  failing: readonly TestRecord[],
): Promise<(BatchItem & { jobs: JobItem[] }) | undefined> {
  const ref = { team: batch.team, batchId: repairBatchId(batch.batchId, round) };
  const limit = pLimit(8);
  await limit.map(failing, (t) =>
    ctx.services.objects.put(
      batchFailureKeyFor(ref, t.path),
      `verdict: ${t.rounds.at(-1)?.verdict ?? 'failed'}\n${trimFailureOutput(t.output)}\n`,
    ),
  );
  const manifest: Manifest = {
    batchId: ref.batchId,
    team: batch.team,
    project: batch.project,
    kind: 'tests',
    files: failing.map((t) => t.path),
    contextFiles: [],
    model: batch.model,
    sensitivity: batch.sensitivity,
    createdAt: ctx.clock.now().toISOString(),
    repairOf: { batchId: previous, round },
  };
  ManifestSchema.parse(manifest);
  await ctx.services.objects.put(
    manifestKeyFor(ref),
    `${JSON.stringify(manifest, null, 2)}\n`,
    'application/json',
  );
  ctx.io.stderr.write(
    `repair round ${round}: ${failing.length} failing test(s) sent back as batch ${ref.batchId}\n`,
  );
  const { batch: done } = await waitForBatch({
    jobs: ctx.services.jobs,
    batch: ref,
    clock: ctx.clock,
    sleep: ctx.sleep,
    pollMs: ctx.pollMs,
    timeoutMs: ctx.waitMs,
  });
  if (!done || !isFinished(done)) {
    ctx.io.stderr.write(`repair round ${round}: batch ${ref.batchId} did not end in time\n`);
    return undefined;
  }
  return { ...done, jobs: await ctx.services.jobs.listJobs(ref) };
}
