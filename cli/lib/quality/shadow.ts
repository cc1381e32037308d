/**
 * Validating a shadow run's tests the same way as the primary's: each is put at the very path
 * the primary's test has (the path its relative imports were written for), judged with the same
 * command, and taken away again, the primary's file restored. Paths are judged in parallel, each
 * one at a time.
 */
import { copyFile, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import pLimit from 'p-limit';
import type { BatchItem, JobItem } from '../../../shared/ports/jobs';
import { downloadOutputs, isFinished, waitForBatch } from '../batch';
import type { LoopContext, QualityOptions, TestRecord } from './loop';
import { relativeOutput } from './loop';
import { validateFile } from './run';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Waits for the batch's shadow batch and validates its tests; [] when there is none. */
export async function validateShadow(
  ctx: LoopContext,
  batch: BatchItem,
  outDir: string,
  options: QualityOptions,
  filter: (path: string) => boolean = () => true,
): Promise<TestRecord[]> {
  const command = options.validate;
  if (!batch.shadow || command === undefined) return [];
  const ref = { team: batch.team, batchId: batch.shadow.batchId };
  const { batch: shadow } = await waitForBatch({
    jobs: ctx.services.jobs,
    batch: ref,
    clock: ctx.clock,
    sleep: ctx.sleep,
    pollMs: ctx.pollMs,
    timeoutMs: ctx.waitMs,
  });
  if (!shadow || !isFinished(shadow)) {
    ctx.io.stderr.write(`shadow batch ${ref.batchId} did not end in time: not compared\n`);
    return [];
  }
  const jobs = (await ctx.services.jobs.listJobs(ref)).filter(
    (j) => (j.state === 'succeeded' || j.state === 'reused') && filter(j.path),
  );
  const scratch = await mkdtemp(join(tmpdir(), 'warmbatch-shadow-'));
  const cwd = ctx.io.cwd;
  try {
    const got = new Set(
      (
        await downloadOutputs({
          objects: ctx.services.objects,
          batch: shadow,
          jobs,
          outDir: join(scratch, 'out'),
        })
      ).written,
    );
    const limit = pLimit(options.concurrency);
    const out: TestRecord[] = [];
    await limit.map(jobs, async (job: JobItem) => {
      const testPath = relativeOutput(shadow, job);
      if (testPath === undefined || !got.has(testPath)) return;
      const dest = join(outDir, testPath);
      const aside = join(scratch, 'primary', testPath);
      const had = await exists(dest);
      await mkdir(dirname(dest), { recursive: true });
      if (had) {
        await mkdir(dirname(aside), { recursive: true });
        await rename(dest, aside);
      }
      try {
        await copyFile(join(scratch, 'out', testPath), dest);
        const v = await validateFile(
          command,
          { file: relative(cwd, dest).split(sep).join('/'), source: job.path },
          { cwd, timeoutMs: options.timeoutMs, runs: options.runs },
        );
        out.push({
          path: job.path,
          testPath,
          lane: 'shadow',
          rounds: [{ batchId: shadow.batchId, verdict: v.verdict, job }],
          output: v.output,
          kept: false,
        });
      } finally {
        await rm(dest, { force: true });
        if (had) await rename(aside, dest);
      }
    });
    return out.sort((a, b) => (a.path < b.path ? -1 : 1));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
