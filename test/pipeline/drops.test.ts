/**
 * One drop = one batch: files dropped under one prefix, over several planner invocations, are
 * planned together once no file has arrived for the quiet period; a drop over one batch's size
 * is split the same way every time; close messages delivered again plan nothing twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SqsSpyMessage } from 'fauxqs';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/lib/run';
import type { CloseDropBody } from '../../shared/pipeline/messages';
import { bufferIo, depsOver } from '../cli/support';
import {
  expectOneTerminalStateEach,
  ledgerTotals,
  put,
  simTotals,
  source,
  useHarness,
  waitForDone,
} from './support';

/** Quiet period as deployed; the harness runs at a twentieth of it (2 s) once files stop coming. */
const QUIET_MS = 40_000;
/** Batch size of the split test; the others run with the default (1,000). */
const MAX_FILES_PER_BATCH = 25;

const h = useHarness({
  settings: { drops: { quietMs: QUIET_MS } },
});

/** Ids of a team's batches that have been planned (each writes its rejections object). */
async function plannedBatches(team: string): Promise<string[]> {
  return (await h.deps.objects.list(`pipeline/${team}/`))
    .filter((k) => k.endsWith('/rejections.json'))
    .map((k) => k.split('/')[2] as string);
}

/** The batch folders holding a project's outputs. */
async function outputFolders(team: string, project: string): Promise<string[]> {
  const keys = await h.deps.objects.list(`outputs/${team}/${project}/`);
  return [...new Set(keys.map((k) => k.split('/')[3] as string))];
}

/** Starts capturing the next close message sent for a team's drop. */
function closeMessageOf(team: string): Promise<SqsSpyMessage> {
  return h.pipeline.runtime.emulators.fauxqs.spy.waitForMessage(
    (m) =>
      m.service === 'sqs' &&
      m.status === 'published' &&
      m.body.includes('"close-drop"') &&
      m.body.includes(`"team":"${team}"`),
    undefined,
    60_000,
  ) as Promise<SqsSpyMessage>;
}

/**
 * Intake messages waiting or being handled, but for close messages sent while a drop's quiet
 * period was held (see dropAll): those come back after the test.
 */
function intakeMessages(): number {
  const { resources, emulators } = h.pipeline.runtime;
  const queue = emulators.fauxqs.inspectQueue(resources.queues.intake.name);
  if (!queue) throw new Error('the intake queue does not exist');
  const { ready, delayed, inflight } = queue.messages;
  const soon = Date.now() + HELD_QUIET_MS / 2;
  return ready.length + inflight.length + delayed.filter((m) => (m.delayUntil ?? 0) < soon).length;
}

/** Waits until the planner has nothing left to take, so no close message can plan again. */
async function intakeDrained(): Promise<void> {
  await expect.poll(intakeMessages, { timeout: 60_000, interval: 100 }).toBe(0);
}

/** Longer than any copy takes, however busy the machine. */
const HELD_QUIET_MS = 600_000;

/**
 * Copies files into one drop with its quiet period held open until every one of them has
 * joined it, then lets the drop go quiet and close: a busy machine copies (and plans) slowly,
 * and the test must not race the copy against the quiet period.
 */
async function dropAll(team: string, project: string, files: number, copy: () => Promise<unknown>) {
  const quiet = h.deps.settings.drops.quietMs;
  const closed = closeMessageOf(team);
  h.deps.settings.drops.quietMs = HELD_QUIET_MS;
  try {
    await copy();
    await expect
      .poll(
        async () =>
          ((await statusLatest(team, project)).json.openDrops as { arrivals: number }[] | undefined)
            ?.map((d) => d.arrivals)
            .reduce((a, b) => a + b, 0) ?? 0,
        { timeout: 120_000, interval: 250 },
      )
      .toBeGreaterThanOrEqual(files);
  } finally {
    h.deps.settings.drops.quietMs = quiet;
  }
  // The close message sent while it was held waits for the held period: sent again now, it
  // closes the drop once quiet, as one sent after the quiet period as deployed would.
  const { clients, resources } = h.pipeline.runtime;
  await clients.sqs.send(
    new SendMessageCommand({
      QueueUrl: resources.queues.intake.url,
      MessageBody: (await closed).body,
    }),
  );
}

/** `warmbatch status --latest --team T --project P --json`, in-process. */
async function statusLatest(team: string, project: string) {
  const io = bufferIo(process.cwd());
  const code = await runCli(
    ['status', '--latest', '--team', team, '--project', project, '--json'],
    depsOver(h.pipeline.runtime, io),
  );
  return { code, json: JSON.parse(io.out() || '{}') as Record<string, unknown>, err: io.err() };
}

describe('a drop', () => {
  it('plans files arriving over several seconds as one batch, one summary, one output folder', async () => {
    // Prepare
    const before = await plannedBatches('many');
    const base = 'intake/many/shop/docs/src';
    const count = 24;

    // Act: one file every 150 ms, several seconds in all. The quiet period is held open while
    // they arrive (dropAll): on a busy machine one put can outlast the harness's quiet period,
    // and this test is about a drop that keeps collecting, not about the clock.
    await dropAll('many', 'shop', count, async () => {
      for (let i = 0; i < count; i++) {
        await put(h, `${base}/m${String(i).padStart(2, '0')}.ts`, source(700 + i));
        // While files still arrive, `status --latest` names the drop collecting them.
        if (i === 0)
          await expect
            .poll(async () => (await statusLatest('many', 'shop')).json.openDrops, {
              timeout: 60_000,
            })
            .toHaveLength(1);
        await sleep(150);
      }
    });

    // Assess
    await expect
      .poll(() => plannedBatches('many'), { timeout: 60_000 })
      .toHaveLength(before.length + 1);
    const [batchId] = (await plannedBatches('many')).filter((id) => !before.includes(id)) as [
      string,
    ];
    const ref = { team: 'many', batchId };
    const summary = await waitForDone(h, ref);
    expect(summary.states.succeeded).toBe(count);
    expect(await outputFolders('many', 'shop')).toEqual([batchId]);
    await expectOneTerminalStateEach(h, ref, count, summary);
    const latest = await statusLatest('many', 'shop');
    expect(latest.json).toMatchObject({ batchId, total: count, finished: true, openDrops: [] });
    await intakeDrained();
    expect((await plannedBatches('many')).filter((id) => !before.includes(id))).toEqual([batchId]);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  }, 180_000);

  it('bills a file dropped twice 100 ms apart once', async () => {
    // Prepare
    const key = 'intake/twice/shop/docs/src/again.ts';
    let jobCalls = 0;
    h.scriptLlm(async (request, real) => {
      if (request.messages.at(-1)?.content.includes('again.ts')) jobCalls++;
      return real();
    });

    // Act
    await put(h, key, source(800));
    await sleep(100);
    await put(h, key, source(800));

    // Assess: every batch the two events made ended, and one call was billed for the file
    await expect.poll(() => plannedBatches('twice'), { timeout: 60_000 }).not.toEqual([]);
    for (const batchId of await plannedBatches('twice'))
      await waitForDone(h, { team: 'twice', batchId });
    expect(jobCalls).toBe(1);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('plans once however often its close message is delivered', async () => {
    // Prepare: a drop of three files, planned and finished
    const before = await plannedBatches('again');
    const closed = closeMessageOf('again');
    for (let i = 0; i < 3; i++)
      await put(h, `intake/again/shop/tests/src/a${i}.ts`, source(800 + i));
    const close = await closed;
    await expect
      .poll(() => plannedBatches('again'), { timeout: 60_000 })
      .toHaveLength(before.length + 1);
    const [batchId] = (await plannedBatches('again')).filter((id) => !before.includes(id)) as [
      string,
    ];
    const ref = { team: 'again', batchId };
    await waitForDone(h, ref);
    const workMessages = (await h.deps.jobs.getBatch(ref))?.workMessages;
    const claims = h.claims.length;
    const requests = h.sim.usage().totals.requests;

    // Count the planning steps the handlers take from here on (they read the harness's deps).
    const real = h.deps.jobs;
    const calls = { createBatch: 0, closeDrop: 0 };
    h.deps.jobs = {
      ...real,
      createBatch: (...args) => {
        calls.createBatch++;
        return real.createBatch(...args);
      },
      closeDrop: (...args) => {
        calls.closeDrop++;
        return real.closeDrop(...args);
      },
    };

    // Act: the close message again, three times, two of them at once
    const { clients, resources, emulators } = h.pipeline.runtime;
    const resend = async () => {
      const sent = await clients.sqs.send(
        new SendMessageCommand({ QueueUrl: resources.queues.intake.url, MessageBody: close.body }),
      );
      await emulators.fauxqs.spy.waitForMessageWithId(sent.MessageId as string, 'consumed', 10_000);
    };
    try {
      await Promise.all([resend(), resend()]);
      await resend();
    } finally {
      h.deps.jobs = real;
    }

    // Assess
    expect((JSON.parse(close.body) as CloseDropBody).dropId).toBe(batchId);
    expect((await plannedBatches('again')).filter((id) => !before.includes(id))).toEqual([batchId]);
    expect((await h.deps.jobs.getBatch(ref))?.workMessages).toBe(workMessages);
    expect(calls).toEqual({ createBatch: 0, closeDrop: 0 });
    expect(h.claims.length).toBe(claims);
    expect(h.sim.usage().totals.requests).toBe(requests);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('splits a drop larger than one batch into parts by key order, the same way every time', async () => {
    // Prepare
    const before = await plannedBatches('big');
    const keys = Array.from(
      { length: 60 },
      (_, i) => `intake/big/shop/docs/src/f${String(i).padStart(2, '0')}.ts`,
    );

    // The handlers read the settings object the harness holds.
    const defaults = { ...h.deps.settings.drops };
    h.deps.settings.drops.maxFilesPerBatch = MAX_FILES_PER_BATCH;

    // Act: all at once, as `aws s3 cp --recursive` does
    try {
      await dropAll('big', 'shop', keys.length, () =>
        Promise.all(keys.map((key, i) => put(h, key, source(900 + i)))),
      );
      await expect
        .poll(() => plannedBatches('big'), { timeout: 60_000 })
        .toHaveLength(before.length + 3);
    } finally {
      h.deps.settings.drops = defaults;
    }

    // Assess
    const parts = (await plannedBatches('big')).filter((id) => !before.includes(id)).sort();
    const dropId = (parts[0] as string).replace(/-1$/, '');
    expect(parts).toEqual([`${dropId}-1`, `${dropId}-2`, `${dropId}-3`]);
    const sizes: number[] = [];
    for (const [i, batchId] of parts.entries()) {
      const summary = await waitForDone(h, { team: 'big', batchId });
      sizes.push(summary.jobs);
      const inputs = (await h.deps.jobs.listJobs({ team: 'big', batchId }))
        .map((j) => j.inputKey)
        .sort();
      expect(inputs).toEqual(keys.slice(i * MAX_FILES_PER_BATCH, (i + 1) * MAX_FILES_PER_BATCH));
    }
    expect(sizes).toEqual([25, 25, 10]);
    expect(await h.deps.jobs.getClosedDrop(dropId)).toMatchObject({ files: 60, batchIds: parts });
  }, 180_000);

  it('plans 120 files copied at once as one batch, one summary, one output folder', async () => {
    // Prepare
    const before = await plannedBatches('cp');
    const keys = Array.from({ length: 120 }, (_, i) => `intake/cp/shop/docs/src/m${i}/file${i}.ts`);
    const limit = pLimit(10); // the AWS CLI's default of concurrent requests

    // Act
    await dropAll('cp', 'shop', keys.length, () =>
      limit.map(keys, (key, i) => put(h, key, source(1_000 + i))),
    );

    // Assess
    await expect
      .poll(() => plannedBatches('cp'), { timeout: 60_000 })
      .toHaveLength(before.length + 1);
    const [batchId] = (await plannedBatches('cp')).filter((id) => !before.includes(id)) as [string];
    const summary = await waitForDone(h, { team: 'cp', batchId }, 240_000);
    expect(summary.states.succeeded).toBe(keys.length);
    expect(await outputFolders('cp', 'shop')).toEqual([batchId]);
    await intakeDrained();
    expect((await plannedBatches('cp')).filter((id) => !before.includes(id))).toEqual([batchId]);
  }, 420_000);
});
