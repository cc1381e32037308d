/**
 * A drop's rules over the in-memory pipeline: a file dropped twice is billed once, a close
 * message delivered again plans nothing twice, and a drop over one batch's size is split by key
 * order. The planner sees one message delivery at a time and the clock moves by a message's
 * delay, so each outcome follows from the rule. Files arriving while real planner invocations
 * run (several seconds of puts, a 120-file copy) stay on the emulated whole in drops.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { CloseDropBody } from '../../shared/pipeline/messages';
import {
  ledgerTotals,
  put,
  simTotals,
  useFakePipeline,
  waitForDone,
} from '../support/fake-pipeline';
import { source } from './support';

/** Quiet period as deployed: the fake's clock moves on by it when the close message is due. */
const QUIET_MS = 40_000;
/** Batch size of the split test; the others run with the default (1,000). */
const MAX_FILES_PER_BATCH = 25;

const h = useFakePipeline({ settings: { drops: { quietMs: QUIET_MS } } });

const intakeUrl = () => h.deps.queueUrls.intake ?? '';

/** Ids of a team's batches that have been planned (each writes its rejections object). */
async function plannedBatches(team: string): Promise<string[]> {
  return (await h.deps.objects.list(`pipeline/${team}/`))
    .filter((k) => k.endsWith('/rejections.json'))
    .map((k) => k.split('/')[2] as string);
}

/** Delivers one round at a time until a close message for `team`'s drop waits on the intake queue. */
async function closeMessageOf(team: string): Promise<string> {
  for (let round = 0; round < 20; round++) {
    const close = h.queues
      .bodies(intakeUrl())
      .find((b) => b.includes('"close-drop"') && b.includes(`"team":"${team}"`));
    if (close) return close;
    await h.settle(1);
  }
  throw new Error(`no close message was sent for team ${team}`);
}

describe('a drop', () => {
  // The planner may take the second event with the first (the drop keeps the key once) or after
  // the first's drop has closed (its second batch reuses the first's answer): both are shown.
  it.each([
    ['in one planner delivery', 'twice', false],
    ['the first planned before the second arrives', 'twice-apart', true],
  ])('bills a file dropped twice 100 ms apart once (%s)', async (_how, team, apart) => {
    // Prepare
    const key = `intake/${team}/shop/docs/src/again.ts`;
    let jobCalls = 0;
    h.scriptLlm(async (request, real) => {
      if (request.messages.at(-1)?.content.includes('again.ts')) jobCalls++;
      return real();
    });

    // Act: two S3 events of the same key, 100 ms apart on the pipeline's clock
    await put(h, key, source(800));
    if (apart) await h.settle(1);
    h.advanceClock(100);
    await put(h, key, source(800));
    await h.settle();

    // Assess: every batch the two events made ended, and one call was billed for the file
    const batches = await plannedBatches(team);
    expect(batches).not.toEqual([]);
    for (const batchId of batches) await waitForDone(h, { team, batchId });
    expect(jobCalls).toBe(1);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('plans once however often its close message is delivered', async () => {
    // Prepare: a drop of three files, planned and finished
    for (let i = 0; i < 3; i++)
      await put(h, `intake/again/shop/tests/src/a${i}.ts`, source(800 + i));
    const close = await closeMessageOf('again');
    await h.settle();
    const planned = await plannedBatches('again');
    expect(planned).toHaveLength(1);
    const [batchId] = planned as [string];
    const ref = { team: 'again', batchId };
    await waitForDone(h, ref);
    const workMessages = (await h.deps.jobs.getBatch(ref))?.workMessages;
    const requests = h.sim.usage().totals.requests;

    // Count the planning steps and claims the functions take from here on (they read deps).
    const real = h.deps.jobs;
    const calls = { createBatch: 0, closeDrop: 0, claimJob: 0 };
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
      claimJob: (...args) => {
        calls.claimJob++;
        return real.claimJob(...args);
      },
    };

    // Act: the close message again, three times: two in one delivery, then one more
    try {
      await h.queues.send(intakeUrl(), [{ body: close }, { body: close }]);
      await h.settle();
      await h.queues.send(intakeUrl(), [{ body: close }]);
      await h.settle();
    } finally {
      h.deps.jobs = real;
    }

    // Assess
    expect((JSON.parse(close) as CloseDropBody).dropId).toBe(batchId);
    expect(await plannedBatches('again')).toEqual([batchId]);
    expect((await h.deps.jobs.getBatch(ref))?.workMessages).toBe(workMessages);
    expect(calls).toEqual({ createBatch: 0, closeDrop: 0, claimJob: 0 });
    expect(h.sim.usage().totals.requests).toBe(requests);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('splits a drop larger than one batch into parts by key order, the same way every time', async () => {
    // Prepare
    const keys = Array.from(
      { length: 60 },
      (_, i) => `intake/big/shop/docs/src/f${String(i).padStart(2, '0')}.ts`,
    );
    h.deps.settings.drops.maxFilesPerBatch = MAX_FILES_PER_BATCH;

    // Act: all at once, as `aws s3 cp --recursive` does
    await Promise.all(keys.map((key, i) => put(h, key, source(900 + i))));
    await h.settle();

    // Assess
    const parts = (await plannedBatches('big')).sort();
    expect(parts).toHaveLength(3);
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
  });
});
