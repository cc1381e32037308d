/**
 * Messages delivered again, one delivery at a time, on the in-memory pipeline: an S3 event
 * twice, an event again in a later window, planning that failed half-way, a finalize message
 * that failed to send. Deliveries that overlap (a redelivery while the first still runs) are
 * in redelivery.test.ts, on the emulated whole.
 */
import { describe, expect, it } from 'vitest';
import { PLANNING_STALE_AFTER_MS } from '../../shared/pipeline/plan';
import type { ClaimResult } from '../../shared/ports/jobs';
import {
  expectOneTerminalStateEach,
  type FakePipeline,
  ledgerTotals,
  put,
  simTotals,
  submit,
  useFakePipeline,
  waitForDone,
} from '../support/fake-pipeline';
import { filesFor, manifestFor, source } from './support';

const h = useFakePipeline({ settings: { executor: { warmup: 'none' } } });

/** Batches that have been planned (each writes its rejections object), as `<team>/<batchId>`. */
async function plannedBatches(): Promise<string[]> {
  return (await h.deps.objects.list('pipeline/'))
    .filter((k) => k.endsWith('/rejections.json'))
    .map((k) => k.split('/').slice(1, 3).join('/'));
}

/** The S3 events waiting in the intake queue, in send order. */
const queuedEvents = (): string[] => h.queues.bodies(h.queueUrl('intake'));

/** Sends a body to the intake queue, alone in a window of its own, and delivers everything. */
async function deliverAlone(body: string): Promise<void> {
  await h.queues.send(h.queueUrl('intake'), [{ body }]);
  await h.settle();
}

/** Every claim the worker makes from now on in this test. */
function recordClaims(p: FakePipeline): { jobId: string; result: ClaimResult }[] {
  const claims: { jobId: string; result: ClaimResult }[] = [];
  const real = p.deps.jobs;
  p.deps.jobs = {
    ...real,
    claimJob: async (batch, jobId, owner, leaseMs, now) => {
      const result = await real.claimJob(batch, jobId, owner, leaseMs, now);
      claims.push({ jobId, result });
      return result;
    },
  };
  return claims;
}

describe('duplicate delivery', () => {
  it.each([
    { when: 'in one window', firstAlone: false },
    { when: 'in two windows, its drop still open', firstAlone: true },
  ])(
    'plans the same S3 event delivered twice ($when) into one batch and calls each job once',
    async ({ firstAlone }) => {
      // Prepare: the notifications the bucket sends for three dropped files
      const keys = ['a.ts', 'b.ts', 'c.ts'].map((p) => `intake/dup/shop/docs/src/${p}`);
      for (const [i, key] of keys.entries()) await put(h, key, source(i));
      const events = queuedEvents();
      expect(events).toHaveLength(3);
      if (firstAlone) {
        await h.deliverIntakeWindow();
        expect(await plannedBatches()).toEqual([]);
      }

      // Act: the same messages again (same key, same sequencer), as SQS may deliver them
      await h.queues.send(
        h.queueUrl('intake'),
        events.map((body) => ({ body })),
      );
      await h.settle();

      // Assess
      expect(await h.deps.objects.list('outputs/dup/shop/')).toHaveLength(3);
      const [batchId, ...others] = await plannedBatches();
      expect(others).toEqual([]);
      const summary = await waitForDone(h, batchId as string);
      expect(summary.states.succeeded).toBe(3);
      expect(h.sim.usage().totals.requests).toBe(3);
      await expectOneTerminalStateEach(h, batchId as string, 3, summary);
      expect(await ledgerTotals(h)).toEqual(simTotals(h));
    },
  );
});

describe('S3 events delivered again in a later window', () => {
  it('plans no second batch for an event its first batch already has, and calls each job once', async () => {
    // Prepare: two files dropped; their batch is planned from one window
    const keys = ['a.ts', 'b.ts'].map((p) => `intake/later/shop/docs/src/${p}`);
    for (const [i, key] of keys.entries()) await put(h, key, source(400 + i));
    const [first] = queuedEvents();
    await h.settle();
    const planned = await plannedBatches();
    expect(planned).toHaveLength(1);

    // Act: the first file's event again, alone in a later window (another window, another id)
    await deliverAlone(first as string);

    // Assess
    expect(await plannedBatches()).toEqual(planned);
    const batchId = planned[0] as string;
    const summary = await waitForDone(h, batchId);
    expect(summary.states.succeeded).toBe(2);
    expect(h.sim.usage().totals.requests).toBe(2);
    await expectOneTerminalStateEach(h, batchId, 2, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('plans an overwrite of the same key in a later window as a new batch', async () => {
    // Prepare: one file planned and finished
    const key = 'intake/later/shop/docs/src/c.ts';
    await put(h, key, source(500));
    await h.settle();
    const [firstId, ...none] = await plannedBatches();
    expect(none).toEqual([]);

    // Act: the same key with new content (a new event, with a new sequencer)
    await put(h, key, source(501));
    await h.settle();

    // Assess
    const planned = await plannedBatches();
    expect(planned).toHaveLength(2);
    const [secondId] = planned.filter((id) => id !== firstId);
    const summary = await waitForDone(h, secondId as string);
    expect(summary.states.succeeded).toBe(1);
    expect(h.sim.usage().totals.requests).toBe(2);
    await expectOneTerminalStateEach(h, secondId as string, 1, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});

describe('a batch whose planning failed half-way', () => {
  it('is planned from what it stored when its files come back in another window, each job called once', async () => {
    // Prepare: two files dropped; their batch and jobs are created, then sending its work fails.
    // The failed records come back only in other windows: they are kept, not delivered again.
    const failures = h.onFailures('keep');
    const claims = recordClaims(h);
    const keys = ['a.ts', 'b.ts'].map((p) => `intake/half/shop/docs/src/${p}`);
    h.failSends('work', 1);
    for (const [i, key] of keys.entries()) await put(h, key, source(600 + i));
    const [first, second] = queuedEvents() as [string, string];
    await h.settle();
    expect(h.failedSends()).toBe(1);
    expect(failures.length).toBeGreaterThan(0);
    const planned = await plannedBatches();
    expect(planned).toHaveLength(1);
    const batchId = planned[0] as string;
    expect((await h.deps.jobs.getBatch(h.ref(batchId)))?.status).toBe('open');
    expect((await h.deps.jobs.getBatch(h.ref(batchId)))?.plannedAt).toBeUndefined();
    // Let the planner's timeout pass, so the failed planning has surely ended.
    h.advanceClock(PLANNING_STALE_AFTER_MS + 1_000);

    // Act: each file's event alone in a window of its own (other windows, other batch ids)
    await deliverAlone(first);
    await deliverAlone(second);

    // Assess
    const summary = await waitForDone(h, batchId);
    expect(await plannedBatches()).toEqual([batchId]);
    expect(summary.states.succeeded).toBe(2);
    const granted = claims.filter((c) => c.result.job).map((c) => c.jobId);
    expect(granted).toHaveLength(2);
    expect(new Set(granted).size).toBe(2);
    expect(h.sim.usage().totals.requests).toBe(2);
    expect((await h.deps.jobs.getBatch(h.ref(batchId)))?.workMessages).toBeGreaterThan(0);
    await expectOneTerminalStateEach(h, batchId, 2, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});

describe('finalization', () => {
  it('finalizes a batch whose finalize message failed to send once', async () => {
    // Prepare: the work delivery whose send failed throws, and SQS delivers it again
    const failures = h.onFailures('redeliver');
    const files = filesFor(4);
    h.failSends('finalize', 1);

    // Act
    await submit(h, manifestFor('fin-1', 'fin', Object.keys(files)), files);
    const summary = await waitForDone(h, 'fin-1');

    // Assess
    expect(h.failedSends()).toBe(1);
    expect(failures.map((f) => f.queueUrl)).toEqual([h.queueUrl('work')]);
    expect(summary.states.succeeded).toBe(4);
    await expectOneTerminalStateEach(h, 'fin-1', 4, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});
