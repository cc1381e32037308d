/**
 * A batch larger than `planning.jobsPerShard` is planned in shards, each by a delivery of its
 * own through the planning queue, then committed by one step: every job ends once, is called
 * once, and the batch's work is sent once, however often the planning messages come. On the
 * in-memory pipeline; a failed shard coming back through the planning queue's visibility
 * timeout is in shards.test.ts, on the emulated whole.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { planObjectKey } from '../../shared/pipeline/keys';
import type { QueueMessage } from '../../shared/ports/queue';
import {
  expectOneTerminalStateEach,
  ledgerTotals,
  put,
  simTotals,
  submit,
  useFakePipeline,
  waitForDone,
} from '../support/fake-pipeline';
import { filesFor, manifestFor, source } from './support';

const h = useFakePipeline({ settings: { planning: { jobsPerShard: 3 } } });

/** Shards each delivery marked done, in order. */
const marked: number[] = [];

beforeEach(() => {
  marked.length = 0;
  const realJobs = h.deps.jobs;
  h.deps.jobs = {
    ...realJobs,
    markShardDone: async (batch, shard) => {
      marked.push(shard);
      return realJobs.markShardDone(batch, shard);
    },
  };
});

const planQueue = () => h.queueUrl('plan');
const bodiesOf = (messages: readonly QueueMessage[]) =>
  messages.map((m) => JSON.parse(m.body) as { type: string });

/** Calls the simulator answered, per distinct request: none may be answered twice. */
function countCalls(): Map<string, number> {
  const calls = new Map<string, number>();
  h.scriptLlm(async (request, real) => {
    const key = JSON.stringify(request.messages);
    calls.set(key, (calls.get(key) ?? 0) + 1);
    return real();
  });
  return calls;
}

describe('sharded planning', () => {
  it('plans a manifest of 10 files in 4 shards and commits it once: one batch, each job called once', async () => {
    // Prepare
    const sent: string[] = [];
    const realQueues = h.deps.queues;
    h.deps.queues = {
      ...realQueues,
      send: async (url, messages) => {
        if (url === planQueue()) sent.push(...bodiesOf(messages).map((b) => b.type));
        return realQueues.send(url, messages);
      },
    };
    const calls = countCalls();
    const files = filesFor(10);

    // Act
    const batch = await submit(h, manifestFor('sharded-1', 'shards', Object.keys(files)), files);
    const summary = await waitForDone(h, batch);

    // Assess
    await expectOneTerminalStateEach(h, batch, 10, summary);
    expect(summary.states.succeeded).toBe(10);
    expect(sent.filter((t) => t === 'plan-shard')).toHaveLength(4);
    expect(sent.filter((t) => t === 'plan-finish')).toHaveLength(1);
    expect([...marked].sort()).toEqual([0, 1, 2, 3]);
    expect(await h.deps.jobs.getPlan(batch)).toMatchObject({
      shards: 4,
      jobs: 10,
      done: [0, 1, 2, 3],
      finishQueued: true,
    });
    const jobCalls = [...calls.entries()].filter(([k]) => k.includes('File:'));
    expect(jobCalls).toHaveLength(10);
    expect(jobCalls.every(([, n]) => n === 1)).toBe(true);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('plans once when every planning message is delivered twice', async () => {
    // Prepare: each message to the planning queue is sent a second time, as a duplicate
    // delivery would hand it to a second invocation.
    const realQueues = h.deps.queues;
    h.deps.queues = {
      ...realQueues,
      send: async (url, messages) => {
        await realQueues.send(url, messages);
        if (url === planQueue()) await realQueues.send(url, messages);
      },
    };
    const calls = countCalls();
    const files = filesFor(8);

    // Act
    const batch = await submit(h, manifestFor('sharded-2', 'shards', Object.keys(files)), files);
    const summary = await waitForDone(h, batch);

    // Assess
    await expectOneTerminalStateEach(h, batch, 8, summary);
    expect(summary.states.succeeded).toBe(8);
    const jobCalls = [...calls.entries()].filter(([k]) => k.includes('File:'));
    expect(jobCalls).toHaveLength(8);
    expect(jobCalls.every(([, n]) => n === 1)).toBe(true);
    // Each shard's message came twice; the plan records each shard once, and one finish.
    expect([...new Set(marked)].sort()).toEqual([0, 1, 2]);
    expect(await h.deps.jobs.getPlan(batch)).toMatchObject({
      shards: 3,
      jobs: 8,
      done: [0, 1, 2],
      finishQueued: true,
    });
    // One commit: the batch's work messages are the ones planned once.
    const stored = await h.deps.jobs.getBatch(batch);
    expect(stored?.total).toBe(8);
    expect(stored?.workMessages).toBeGreaterThan(0);
    expect(summary.requests).toBe(h.sim.usage().totals.requests);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it("refuses a job whose stored shard was rewritten to read another team's file, and never reads it", async () => {
    // Prepare: another team's file, and shard messages held back until the shard is rewritten.
    const foreign = 'batches/victims/other-batch/files/src/key.ts';
    await put(h, foreign, source(99));
    const held: QueueMessage[] = [];
    const realQueues = h.deps.queues;
    h.deps.queues = {
      ...realQueues,
      send: async (url, messages) => {
        if (url === planQueue() && bodiesOf(messages).every((b) => b.type === 'plan-shard'))
          held.push(...messages);
        else await realQueues.send(url, messages);
      },
    };
    const realObjects = h.deps.objects;
    const read: string[] = [];
    h.deps.objects = {
      ...realObjects,
      get: async (key) => {
        read.push(key);
        return realObjects.get(key);
      },
    };
    const files = filesFor(4);
    const batch = await submit(h, manifestFor('sharded-4', 'shards', Object.keys(files)), files);
    await h.settle();
    expect(held).toHaveLength(2);
    const plan = await h.deps.jobs.getPlan(batch);
    const key = planObjectKey(batch, plan?.planId ?? '', 'shard-0.json');
    const shard = JSON.parse((await realObjects.getText(key)) ?? '{}') as {
      jobs: { inputKey: string }[];
    };
    (shard.jobs[0] as { inputKey: string }).inputKey = foreign;
    await realObjects.put(key, JSON.stringify(shard));

    // Act
    h.deps.queues = realQueues;
    await realQueues.send(planQueue(), held);
    const summary = await waitForDone(h, batch);

    // Assess
    expect(read).not.toContain(foreign);
    expect(summary.states.failed).toBe(1);
    expect(summary.states.succeeded).toBe(3);
    const jobs = await h.deps.jobs.listJobs(batch);
    expect(jobs.find((j) => j.state === 'failed')?.error?.code).toBe('bad_key');
  });
});
