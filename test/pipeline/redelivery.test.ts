import { setTimeout as sleep } from 'node:timers/promises';
import { PurgeQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SqsSpyMessage } from 'fauxqs';
import { describe, expect, it } from 'vitest';
import { encodeS3EventKey } from '../../local/runtime/s3-bridge';
import { BadRequestError, ServerError } from '../../shared/llm/errors';
import { PLANNING_STALE_AFTER_MS } from '../../shared/pipeline/plan';
import {
  expectOneTerminalStateEach,
  filesFor,
  ledgerTotals,
  manifestFor,
  put,
  simTotals,
  source,
  submit,
  useHarness,
  waitForDone,
} from './support';

// No warm-up: every job of a group is in flight at once, so one stall holds them all.
// A work message becomes visible again after one second: any job slower than that is
// redelivered while its first delivery still runs it.
const h = useHarness({
  workVisibilitySeconds: 1,
  settings: { executor: { warmup: 'none', settleMs: 5, stopMarginMs: 500 } },
});

/** Batches that have been planned (each writes its rejections object), as `<team>/<batchId>`. */
async function plannedBatches(): Promise<string[]> {
  return (await h.deps.objects.list('pipeline/'))
    .filter((k) => k.endsWith('/rejections.json'))
    .map((k) => k.split('/').slice(1, 3).join('/'));
}

describe('duplicate delivery', () => {
  it('plans the same S3 event delivered twice into one batch and calls each job once', async () => {
    // Prepare: capture the notifications the bucket sends for three dropped files
    const keys = ['a.ts', 'b.ts', 'c.ts'].map((p) => `intake/dup/shop/docs/src/${p}`);
    const spy = h.pipeline.runtime.emulators.fauxqs.spy;
    const sent = keys.map(
      (key) =>
        spy.waitForMessage(
          (m) =>
            m.service === 'sqs' &&
            m.status === 'published' &&
            m.body.includes(encodeS3EventKey(key)),
          undefined,
          10_000,
        ) as Promise<SqsSpyMessage>,
    );
    for (const [i, key] of keys.entries()) await put(h, key, source(i));
    const events = await Promise.all(sent);

    // Act: the same messages again (same key, same sequencer), as SQS may deliver them
    for (const event of events)
      await h.pipeline.runtime.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: h.pipeline.runtime.resources.queues.intake.url,
          MessageBody: event.body,
        }),
      );

    // Assess
    await expect
      .poll(async () => (await h.deps.objects.list('outputs/dup/shop/')).length, {
        timeout: 60_000,
      })
      .toBe(3);
    const [batchId, ...others] = await plannedBatches();
    expect(others).toEqual([]);
    const summary = await waitForDone(h, batchId as string);
    expect(summary.states.succeeded).toBe(3);
    expect(h.sim.usage().totals.requests).toBe(3);
    await expectOneTerminalStateEach(h, batchId as string, 3, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('makes no second call when a work message is redelivered while its first delivery still runs', async () => {
    // Prepare: every answer takes longer than the visibility timeout
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const files: Record<string, string> = {};
    for (let i = 0; i < 12; i++) files[`slow${i}.ts`] = source(200 + i);
    h.sim.configure({ faults: { stallMs: 2_500 } });

    // Act
    await submit(h, manifestFor('slow-1', 'dup', Object.keys(files)), files);
    const summary = await waitForDone(h, 'slow-1');
    process.off('warning', onWarning);

    // Assess
    const refused = h.claims.filter((c) => !c.result.job);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((c) => c.result.job === undefined && c.result.reason !== 'missing')).toBe(
      true,
    );
    const granted = h.claims.filter((c) => c.result.job).map((c) => c.jobId);
    expect(granted).toHaveLength(12);
    expect(new Set(granted).size).toBe(12);
    expect(h.sim.usage().totals.requests).toBe(12);
    expect(summary.states.succeeded).toBe(12);
    await expectOneTerminalStateEach(h, 'slow-1', 12, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
    // twelve requests held at once by the simulator, without a listener-leak warning
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('still finishes a job that fails retryably after a redelivered copy found it leased', async () => {
    // Prepare: the first call of one job is slow and then fails
    const files = { ...filesFor(3), 'late.ts': source(300) };
    const lateFoundLeased = () => {
      const late = h.claims.find((c) => c.result.job?.path === 'late.ts')?.jobId;
      return h.claims.some(
        (c) => c.jobId === late && !c.result.job && c.result.reason === 'leased',
      );
    };
    let lateCalls = 0;
    h.scriptLlm(async (request, real) => {
      const isLate =
        request.messages.length > 3 && request.messages.at(-1)?.content.includes('late.ts');
      if (isLate && ++lateCalls === 1) {
        // Slow until a redelivered copy of its message has found the job leased, then failing.
        for (const until = Date.now() + 20_000; !lateFoundLeased() && Date.now() < until; )
          await sleep(50);
        throw new ServerError('deepseek: 503 Server Overloaded', { status: 503 });
      }
      return real();
    });

    // Act
    await submit(h, manifestFor('late-1', 'dup', Object.keys(files)), files);
    const summary = await waitForDone(h, 'late-1');

    // Assess
    const late = h.claims.filter(
      (c) => c.jobId === (h.claims.find((x) => x.result.job?.path === 'late.ts')?.jobId ?? ''),
    );
    expect(late.some((c) => !c.result.job && c.result.reason === 'leased')).toBe(true);
    expect(late.filter((c) => c.result.job)).toHaveLength(2);
    expect(lateCalls).toBe(2);
    expect(summary.states.succeeded).toBe(4);
    await expectOneTerminalStateEach(h, 'late-1', 4, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});

describe('identical requests in flight', () => {
  it('sends an identical request once: the second batch waits for the first and reuses its answer at no cost', async () => {
    // Prepare: the first batch's call is held until the second batch has met it in flight
    const files = { 'same.ts': source(400) };
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    h.scriptLlm(async (_request, real) => {
      calls++;
      await held;
      return real();
    });
    const first = await submit(h, manifestFor('twin-1', 'twins', Object.keys(files)), files);
    await expect.poll(() => calls).toBe(1);

    // Act: the same file in a second batch, while the first call is in flight
    const second = await submit(h, manifestFor('twin-2', 'twins', Object.keys(files)), files);
    await expect
      .poll(() => h.claims.filter((c) => c.result.job?.batchId === 'twin-2').length, {
        timeout: 60_000,
      })
      .toBeGreaterThan(0);
    release();
    const [a, b] = [await waitForDone(h, first), await waitForDone(h, second)];

    // Assess
    expect(calls).toBe(1);
    expect(h.sim.usage().totals.requests).toBe(1);
    expect(a.states.succeeded).toBe(1);
    expect(b.states.reused).toBe(1);
    expect(b.costNanoUsd).toBe(0);
    const waited = (await h.deps.jobs.listJobs(second))[0];
    expect(waited?.state).toBe('reused');
    // Waiting is not an attempt
    expect(waited?.attempts).toBeLessThanOrEqual(1);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('runs the waiting job itself when the identical request fails for good', async () => {
    // Prepare: the first batch's call fails permanently, after the second batch met it
    const files = { 'twin.ts': source(401) };
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    h.scriptLlm(async (_request, real) => {
      if (++calls > 1) return real();
      await held;
      throw new BadRequestError('deepseek: invalid request', { status: 400, endpoint: 'deepseek' });
    });
    const first = await submit(h, manifestFor('twin-3', 'twins', Object.keys(files)), files);
    // Planning and the first call take longer than expect.poll's default second under load.
    await expect.poll(() => calls, { timeout: 60_000 }).toBe(1);

    // Act
    const second = await submit(h, manifestFor('twin-4', 'twins', Object.keys(files)), files);
    await expect
      .poll(() => h.claims.filter((c) => c.result.job?.batchId === 'twin-4').length, {
        timeout: 60_000,
      })
      .toBeGreaterThan(0);
    release();
    const [a, b] = [await waitForDone(h, first), await waitForDone(h, second)];

    // Assess: the second ran its own request once the first had failed
    expect(a.states.failed).toBe(1);
    expect(b.states.succeeded).toBe(1);
    expect(calls).toBe(2);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});

/** Starts capturing the notification the bucket sends for `key`; resolves once it is sent. */
function notificationOf(key: string): Promise<SqsSpyMessage> {
  return h.pipeline.runtime.emulators.fauxqs.spy.waitForMessage(
    (m) =>
      m.service === 'sqs' && m.status === 'published' && m.body.includes(encodeS3EventKey(key)),
    undefined,
    10_000,
  ) as Promise<SqsSpyMessage>;
}

/** Batches planned since `before` (the bucket outlives the tables between tests). */
async function plannedSince(before: readonly string[]): Promise<string[]> {
  return (await plannedBatches()).filter((id) => !before.includes(id));
}

/** Sends a body to the intake queue and waits until the planner has consumed it. */
async function sendToIntakeAndWait(body: string): Promise<void> {
  const { clients, resources, emulators } = h.pipeline.runtime;
  const sent = await clients.sqs.send(
    new SendMessageCommand({ QueueUrl: resources.queues.intake.url, MessageBody: body }),
  );
  await emulators.fauxqs.spy.waitForMessageWithId(sent.MessageId as string, 'consumed', 10_000);
}

describe('S3 events delivered again in a later window', () => {
  it('plans no second batch for an event its first batch already has, and calls each job once', async () => {
    // Prepare: two files dropped; their batch is planned from one window
    const before = await plannedBatches();
    const keys = ['a.ts', 'b.ts'].map((p) => `intake/later/shop/docs/src/${p}`);
    const notified = keys.map(notificationOf);
    for (const [i, key] of keys.entries()) await put(h, key, source(400 + i));
    const [first] = await Promise.all(notified);
    await expect.poll(() => plannedSince(before), { timeout: 60_000 }).toHaveLength(1);
    const [batchId] = await plannedSince(before);

    // Act: the first file's event again, alone in a later window (another window, another id)
    await sendToIntakeAndWait((first as SqsSpyMessage).body);

    // Assess
    expect(await plannedSince(before)).toEqual([batchId]);
    const summary = await waitForDone(h, batchId as string);
    expect(summary.states.succeeded).toBe(2);
    expect(h.sim.usage().totals.requests).toBe(2);
    await expectOneTerminalStateEach(h, batchId as string, 2, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('plans an overwrite of the same key in a later window as a new batch', async () => {
    // Prepare: one file planned and finished
    const before = await plannedBatches();
    const key = 'intake/later/shop/docs/src/c.ts';
    await put(h, key, source(500));
    await expect.poll(() => plannedSince(before), { timeout: 60_000 }).toHaveLength(1);
    const [firstId] = await plannedSince(before);
    await waitForDone(h, firstId as string);

    // Act: the same key with new content (a new event, with a new sequencer)
    await put(h, key, source(501));

    // Assess
    await expect.poll(() => plannedSince(before), { timeout: 60_000 }).toHaveLength(2);
    const [secondId] = (await plannedSince(before)).filter((id) => id !== firstId);
    const summary = await waitForDone(h, secondId as string);
    expect(summary.states.succeeded).toBe(1);
    expect(h.sim.usage().totals.requests).toBe(2);
    await expectOneTerminalStateEach(h, secondId as string, 1, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});

describe('a batch whose planning failed half-way', () => {
  it('is planned from what it stored when its files come back in another window, each job called once', async () => {
    // Prepare: two files dropped; their batch and jobs are created, then sending its work fails
    const before = await plannedBatches();
    const keys = ['a.ts', 'b.ts'].map((p) => `intake/half/shop/docs/src/${p}`);
    const notified = keys.map(notificationOf);
    h.failSends('work', 1);
    for (const [i, key] of keys.entries()) await put(h, key, source(600 + i));
    const [first, second] = (await Promise.all(notified)) as [SqsSpyMessage, SqsSpyMessage];
    await expect.poll(() => h.failedSends(), { timeout: 60_000 }).toBe(1);
    await expect.poll(() => plannedSince(before), { timeout: 60_000 }).toHaveLength(1);
    const [batchId] = (await plannedSince(before)) as [string];
    await expect
      .poll(async () => (await h.deps.jobs.getBatch(h.ref(batchId)))?.status, { timeout: 60_000 })
      .toBe('open');
    expect((await h.deps.jobs.getBatch(h.ref(batchId)))?.plannedAt).toBeUndefined();
    // The failed records come back only in other windows: drop the copies SQS holds, and let
    // the planner's timeout pass so the failed planning has surely ended.
    const { clients, resources } = h.pipeline.runtime;
    await clients.sqs.send(new PurgeQueueCommand({ QueueUrl: resources.queues.intake.url }));
    h.advanceClock(PLANNING_STALE_AFTER_MS + 1_000);

    // Act: each file's event alone in a window of its own (other windows, other batch ids)
    await sendToIntakeAndWait(first.body);
    await sendToIntakeAndWait(second.body);

    // Assess
    const summary = await waitForDone(h, batchId);
    expect(await plannedSince(before)).toEqual([batchId]);
    expect(summary.states.succeeded).toBe(2);
    const granted = h.claims.filter((c) => c.result.job).map((c) => c.jobId);
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
    // Prepare
    const files = filesFor(4);
    h.failSends('finalize', 1);

    // Act
    await submit(h, manifestFor('fin-1', 'fin', Object.keys(files)), files);
    const summary = await waitForDone(h, 'fin-1');

    // Assess
    expect(h.failedSends()).toBe(1);
    expect(summary.states.succeeded).toBe(4);
    await expectOneTerminalStateEach(h, 'fin-1', 4, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});
