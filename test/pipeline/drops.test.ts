/**
 * One drop = one batch: files dropped under one prefix, over several planner invocations, are
 * planned together once no file has arrived for the quiet period. These need the emulated whole:
 * files arrive while real planner invocations run. The drop's rules that follow from one
 * delivery at a time (a file dropped twice, close messages delivered again, the split of a large
 * drop) are in drop-rules.test.ts over the in-memory pipeline.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SqsSpyMessage } from 'fauxqs';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/lib/run';
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
