/**
 * What the planner reads is bounded before it is read: a file over `maxFileBytes` is refused
 * from the size a ranged read reports (never read whole), a batch's files past `maxBatchBytes`
 * fail with a reason in path order while the rest run, and an OpenAI batch file under a project
 * name that is not valid is refused as a dropped file would be. Each refusal names its setting.
 */
import { describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../shared/ports/objects';
import {
  errorsOf,
  put,
  submit,
  summariesOfTeam,
  useFakePipeline,
  waitForDone,
} from '../support/fake-pipeline';
import { manifestFor, source } from './support';

const MAX_FILE_BYTES = 4_096;
const MAX_BATCH_BYTES = 7_000;

const h = useFakePipeline({
  settings: { maxFileBytes: MAX_FILE_BYTES, maxBatchBytes: MAX_BATCH_BYTES },
});

/** A TypeScript file of exactly `bytes` bytes, distinct per `i`. */
function fileOf(i: number, bytes: number): string {
  const head = source(i);
  return `${head}${'/'.repeat(Math.max(0, bytes - head.length - 1))}\n`;
}

/** Records how much of each object the planner asked for (undefined: the whole object). */
function recordReads(): { key: string; maxBytes?: number }[] {
  const reads: { key: string; maxBytes?: number }[] = [];
  const objects: ObjectStore = h.deps.objects;
  h.deps.objects = {
    ...objects,
    get: (key) => {
      reads.push({ key });
      return objects.get(key);
    },
    getUpTo: (key, maxBytes) => {
      reads.push({ key, maxBytes });
      return objects.getUpTo(key, maxBytes);
    },
  };
  return reads;
}

describe('input sizes', () => {
  it('refuses a file over maxFileBytes from its size, reading no more than the limit, and runs the rest', async () => {
    // Prepare
    const real = h.deps.objects;
    const reads = recordReads();
    try {
      // Act
      const batch = await submit(h, manifestFor('big-1', 'sizes', ['big.ts', 'ok.ts']), {
        'big.ts': fileOf(1, 3_000_000),
        'ok.ts': fileOf(2, 1_000),
      });
      const summary = await waitForDone(h, batch);

      // Assess
      expect(summary.states.succeeded).toBe(1);
      expect(summary.states.failed).toBe(1);
      const [error] = await errorsOf(h, batch);
      expect(error).toMatchObject({ path: 'big.ts', code: 'too_large' });
      expect(error?.reason).toMatch(
        /3000000 bytes, over the 4096-byte limit \(setting maxFileBytes\)/,
      );
      const ofBig = reads.filter((r) => r.key.endsWith('/files/big.ts'));
      expect(ofBig.length).toBeGreaterThan(0);
      for (const r of ofBig) expect(r.maxBytes).toBe(MAX_FILE_BYTES + 1);
    } finally {
      h.deps.objects = real;
    }
  });

  it('fails the files past maxBatchBytes in path order with a reason, and runs the others', async () => {
    // Prepare: three files of 3,000 bytes fill the batch after two; a small one still fits
    const files = {
      'a.ts': fileOf(11, 3_000),
      'b.ts': fileOf(12, 3_000),
      'c.ts': fileOf(13, 3_000),
      'd.ts': fileOf(14, 100),
    };

    // Act
    const batch = await submit(h, manifestFor('full-1', 'sizes', Object.keys(files)), files);
    const summary = await waitForDone(h, batch);

    // Assess
    expect(summary.states.succeeded).toBe(3);
    const errors = await errorsOf(h, batch);
    expect(errors).toEqual([expect.objectContaining({ path: 'c.ts', code: 'too_large' })]);
    expect(errors[0]?.reason).toMatch(
      /over the batch limit of 7000 bytes \(setting maxBatchBytes\)/,
    );
    expect(h.sim.usage().totals.requests).toBeLessThanOrEqual(3 + 1);
  });

  it('refuses an OpenAI batch file whose project name is not valid, calling nothing', async () => {
    // Prepare
    const line = JSON.stringify({
      custom_id: 'one',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'deepseek-flash', messages: [{ role: 'user', content: 'hello' }] },
    });

    // Act
    await put(h, 'intake/oddname/proj#1/openai-batch/docs/requests.jsonl', `${line}\n`);
    const summaries = await summariesOfTeam(h, 'oddname');

    // Assess
    expect(summaries).toHaveLength(1);
    const [summary] = summaries;
    expect(summary?.project).toBe('invalid');
    expect(summary?.jobs).toBe(0);
    const errors = await errorsOf(h, { team: 'oddname', batchId: summary?.batchId ?? '' });
    expect(errors).toEqual([expect.objectContaining({ code: 'bad_name' })]);
    expect(errors[0]?.reason).toMatch(/project name "proj#1" is not valid/);
    expect(h.sim.usage().totals.requests).toBe(0);
  });

  it("refuses a file whose output key would pass S3's 1,024-byte limit before any call, and runs the rest", async () => {
    // Prepare: the input key fits, the output key (which adds the project) does not
    const batchId = `b${'0'.repeat(127)}`;
    const project = `p${'1'.repeat(62)}`;
    const long = `${'abcdefghi/'.repeat(84)}a.ts`;

    // Act
    const batch = await submit(h, manifestFor(batchId, 'k', [long, 'short.ts'], { project }), {
      [long]: source(21),
      'short.ts': source(22),
    });
    const summary = await waitForDone(h, batch);

    // Assess
    expect(summary.states.succeeded).toBe(1);
    const errors = await errorsOf(h, batch);
    expect(errors).toEqual([expect.objectContaining({ path: long, code: 'path_too_long' })]);
    expect(errors[0]?.reason).toMatch(/output key would be \d+ bytes, over S3's limit of 1024/);
  });
});
