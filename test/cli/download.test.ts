import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadOutputs, reportBatch } from '../../cli/lib/batch';
import { EXIT } from '../../cli/lib/exit';
import { createMemoryObjectStore } from '../../shared/aws/object-store';
import { batchFileKeyFor } from '../../shared/inputs';
import { outputPrefixFor } from '../../shared/pipeline/keys';
import type { BatchItem, JobItem, JobsStore } from '../../shared/ports/jobs';
import { zeroTotals } from '../../shared/totals';
import { testTempDir } from '../support/temp';

const BATCH = { batchId: 'b1', team: 'web', project: 'shop' };
const PREFIX = outputPrefixFor(BATCH);

/** A succeeded job whose output is at `outputKey`. */
function aJob(path: string, outputKey = `${PREFIX}${path}.md`): JobItem {
  return {
    jobId: `job-${path}`,
    batchId: BATCH.batchId,
    path,
    inputKey: batchFileKeyFor(BATCH, path),
    outputKey,
    state: 'succeeded',
    attempts: 1,
    estimateNanoUsd: 0,
    reservedNanoUsd: 0,
    updatedAt: '2026-11-30T10:00:00.000Z',
  };
}

function aDoneBatch(total: number): BatchItem {
  return {
    ...BATCH,
    kind: 'docs',
    model: 'deepseek-v4-flash',
    sensitivity: 'public',
    createdAt: '2026-11-30T10:00:00.000Z',
    status: 'done',
    total,
    ended: total,
    counters: {
      succeeded: total,
      failed: 0,
      skipped_budget: 0,
      reused: 0,
      cancelled: 0,
      expired: 0,
    },
    totals: { ...zeroTotals(), unpricedRequests: 0 },
    finalizeQueued: true,
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('downloading outputs with --out', () => {
  it("writes names that only contain '..' ('..foo/x.ts', 'a..b.ts') like any other", async () => {
    // Prepare
    const objects = createMemoryObjectStore();
    const jobs = ['..foo/x.ts', 'a..b.ts', 'src/foo../y.ts', '...'].map((p) => aJob(p));
    for (const job of jobs) await objects.put(job.outputKey, `doc of ${job.path}`);
    const out = await testTempDir('warmbatch-out-');

    // Act
    const download = await downloadOutputs({ objects, batch: BATCH, jobs, outDir: out });

    // Assess
    expect(download.refused).toEqual([]);
    expect(download.written).toEqual([
      '....md',
      '..foo/x.ts.md',
      'a..b.ts.md',
      'src/foo../y.ts.md',
    ]);
    expect(await filesUnder(out)).toEqual(download.written);
    expect(await readFile(join(out, '..foo/x.ts.md'), 'utf8')).toBe('doc of ..foo/x.ts');
  });

  it('writes every other output and reports each refused one with its reason', async () => {
    // Prepare: keys the pipeline never derives, as a tampered or foreign jobs table could hold
    const objects = createMemoryObjectStore();
    const good = [aJob('a.ts'), aJob('z/b.ts')];
    const escaping = aJob('evil.ts', `${PREFIX}../../../../evil.md`);
    const absolute = aJob('abs.ts', `${PREFIX}/etc/passwd`);
    const gone = aJob('gone.ts');
    const blocked = aJob('blocked.ts');
    for (const job of [...good, escaping, absolute, blocked])
      await objects.put(job.outputKey, `doc of ${job.path}`);
    const out = await testTempDir('warmbatch-out-');
    await mkdir(join(out, 'blocked.ts.md')); // a directory where the file should go

    // Act
    const download = await downloadOutputs({
      objects,
      batch: BATCH,
      jobs: [escaping, good[0] as JobItem, absolute, gone, blocked, good[1] as JobItem],
      outDir: out,
    });

    // Assess
    expect(download.written).toEqual(['a.ts.md', 'z/b.ts.md']);
    expect(await filesUnder(out)).toEqual(['a.ts.md', join('z', 'b.ts.md')]);
    expect(download.refused.map((r) => r.path)).toEqual([
      '../../../../evil.md',
      '/etc/passwd',
      'blocked.ts.md',
      'gone.ts.md',
    ]);
    const reasons = Object.fromEntries(download.refused.map((r) => [r.path, r.reason]));
    expect(reasons['../../../../evil.md']).toMatch(/'\.\.' segment/);
    expect(reasons['/etc/passwd']).toMatch(/absolute/);
    expect(reasons['blocked.ts.md']).toMatch(/could not be written: .*EISDIR/);
    expect(reasons['gone.ts.md']).toMatch(/no longer exists/);
  });

  it('exits 6 when every job succeeded but some outputs were refused, listing them', async () => {
    // Prepare
    const objects = createMemoryObjectStore();
    const jobs = [aJob('a.ts'), aJob('evil.ts', `${PREFIX}../x/../../evil.md`)];
    for (const job of jobs) await objects.put(job.outputKey, 'doc');
    const store = { listJobs: async () => jobs } as unknown as JobsStore;
    const out = await testTempDir('warmbatch-out-');

    // Act
    const report = await reportBatch({ jobs: store, objects }, aDoneBatch(2), {
      submitted: ['a.ts', 'evil.ts'],
      outDir: out,
    });

    // Assess
    expect(report.exitCode).toBe(EXIT.outputsRefused);
    expect(report.failures).toEqual([]);
    expect(report.outputs).toEqual(['a.ts.md']);
    expect(report.refusedOutputs).toEqual([
      { path: '../x/../../evil.md', reason: expect.stringMatching(/'\.\.' segment/) },
    ]);
  });
});
