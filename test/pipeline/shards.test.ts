/**
 * A batch larger than `planning.jobsPerShard` is planned in shards, each by an invocation of
 * its own through the planning queue, then committed by one step: every job ends once, is
 * called once, and the batch's work is sent once, however often the planning messages come.
 */
import { SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { planObjectKey } from '../../shared/pipeline/keys';
import type { JobsStore } from '../../shared/ports/jobs';
import type { ObjectStore } from '../../shared/ports/objects';
import type { QueueMessage, QueueSender } from '../../shared/ports/queue';
import {
  expectOneTerminalStateEach,
  filesFor,
  type Harness,
  ledgerTotals,
  manifestFor,
  put,
  simTotals,
  source,
  startHarness,
  submit,
  waitForDone,
} from './support';

let h: Harness;
let realQueues: QueueSender;
let realObjects: ObjectStore;
let realJobs: JobsStore;
/** Shards each invocation marked done, in order. */
const marked: number[] = [];

beforeAll(async () => {
  h = await startHarness({ settings: { planning: { jobsPerShard: 3 } } });
  realQueues = h.deps.queues;
  realObjects = h.deps.objects;
  realJobs = h.deps.jobs;
  // A failed shard comes back after a second, not after six planner timeouts.
  await h.pipeline.runtime.clients.sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: h.pipeline.runtime.resources.queues.plan.url,
      Attributes: { VisibilityTimeout: '1' },
    }),
  );
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

beforeEach(async () => {
  await h.reset();
  h.deps.queues = realQueues;
  h.deps.objects = realObjects;
  h.deps.jobs = {
    ...realJobs,
    markShardDone: async (batch, shard) => {
      marked.push(shard);
      return realJobs.markShardDone(batch, shard);
    },
  };
  marked.length = 0;
});

const planQueue = () => h.pipeline.runtime.resources.queues.plan.url;
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

  it('finishes a batch whose shard failed half-way, once that shard comes back', async () => {
    // Prepare: the first store of shard 1's decisions fails, as a dying invocation would.
    let failures = 0;
    h.deps.objects = {
      ...realObjects,
      put: async (key, body, type) => {
        if (key.endsWith('/decided-1.json') && failures === 0) {
          failures++;
          throw new Error('scripted failure storing shard 1');
        }
        return realObjects.put(key, body, type);
      },
    };
    const calls = countCalls();
    const files = filesFor(7);

    // Act
    const batch = await submit(h, manifestFor('sharded-3', 'shards', Object.keys(files)), files);
    const summary = await waitForDone(h, batch);

    // Assess
    expect(failures).toBe(1);
    await expectOneTerminalStateEach(h, batch, 7, summary);
    expect(summary.states.succeeded).toBe(7);
    expect([...new Set(marked)].sort()).toEqual([0, 1, 2]);
    const jobCalls = [...calls.entries()].filter(([k]) => k.includes('File:'));
    expect(jobCalls.every(([, n]) => n === 1)).toBe(true);
  });

  it("refuses a job whose stored shard was rewritten to read another team's file, and never reads it", async () => {
    // Prepare: another team's file, and shard messages held back until the shard is rewritten.
    // The file is one of that team's batch files, not a drop: a drop would be planned for its
    // own team, reading it rightly, whenever a loaded machine stretched this test past the
    // drop's quiet period.
    const foreign = 'batches/victims/other-batch/files/src/key.ts';
    await put(h, foreign, source(99));
    const held: QueueMessage[] = [];
    h.deps.queues = {
      ...realQueues,
      send: async (url, messages) => {
        if (url === planQueue() && bodiesOf(messages).every((b) => b.type === 'plan-shard'))
          held.push(...messages);
        else await realQueues.send(url, messages);
      },
    };
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
    await expect.poll(() => held.length, { timeout: 15_000 }).toBe(2);
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
