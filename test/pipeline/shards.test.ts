/**
 * A batch larger than `planning.jobsPerShard` is planned in shards, each by an invocation of
 * its own through the planning queue. Here, on the emulated whole, a shard whose invocation
 * failed comes back through the planning queue (the failed record reported to the poller, its
 * message visible again after the queue's timeout). The rules of sharded planning on their
 * own (duplicate planning messages, a rewritten shard) are in sharding.test.ts.
 */
import { SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobsStore } from '../../shared/ports/jobs';
import type { ObjectStore } from '../../shared/ports/objects';
import {
  expectOneTerminalStateEach,
  filesFor,
  type Harness,
  manifestFor,
  startHarness,
  submit,
  waitForDone,
} from './support';

let h: Harness;
let realObjects: ObjectStore;
let realJobs: JobsStore;
/** Shards each invocation marked done, in order. */
const marked: number[] = [];

beforeAll(async () => {
  h = await startHarness({ settings: { planning: { jobsPerShard: 3 } } });
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

describe('sharded planning on the emulated whole', () => {
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
});
