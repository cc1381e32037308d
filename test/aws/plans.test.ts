import { describe, expect, it } from 'vitest';
import { createJobsStore } from '../../shared/aws/jobs';
import type { NewPlan } from '../../shared/ports/jobs';
import { useLocalAws } from '../support/emulators';
import { aBatch } from './factories';

const aws = useLocalAws();
const NOW = new Date('2026-11-30T12:00:00Z');

const store = () => createJobsStore({ ddb: aws.clients.doc, table: aws.resources.tables.jobs });

function aPlan(shards: number, overrides: Partial<NewPlan> = {}): NewPlan {
  return { planId: 'p1', shards, jobs: shards * 10, batch: aBatch(), ...overrides };
}

describe('plans of sharded batches', () => {
  it('keeps the first plan written: a second planning of other content gets the first back', async () => {
    // Prepare
    const jobs = store();
    const plan = aPlan(3);
    const ref = plan.batch;

    // Act
    const first = await jobs.createPlan(ref, plan, NOW);
    const second = await jobs.createPlan(ref, { ...plan, planId: 'p2', shards: 5 }, NOW);

    // Assess
    expect(first).toMatchObject({ planId: 'p1', shards: 3, done: [], finishQueued: false });
    expect(second).toMatchObject({ planId: 'p1', shards: 3 });
    expect(await jobs.getPlan(ref)).toMatchObject({ planId: 'p1', jobs: 30 });
  });

  it('counts a shard done once however often it is marked', async () => {
    // Prepare
    const jobs = store();
    const plan = aPlan(3);
    await jobs.createPlan(plan.batch, plan, NOW);

    // Act
    await jobs.markShardDone(plan.batch, 1);
    await jobs.markShardDone(plan.batch, 1);
    const after = await jobs.markShardDone(plan.batch, 0);

    // Assess
    expect(after.done).toEqual([0, 1]);
    await expect(jobs.markShardDone(plan.batch, 3)).rejects.toThrow();
    expect((await jobs.getPlan(plan.batch))?.done).toEqual([0, 1]);
  });

  it('lets exactly one caller queue the finish, and only once every shard is done', async () => {
    // Prepare
    const jobs = store();
    const plan = aPlan(2);
    await jobs.createPlan(plan.batch, plan, NOW);
    await jobs.markShardDone(plan.batch, 0);
    const early = await jobs.markPlanFinishQueued(plan.batch);
    await jobs.markShardDone(plan.batch, 1);

    // Act: the two last shards' invocations both try at once, five times over.
    const tries = await Promise.all(
      Array.from({ length: 10 }, () => jobs.markPlanFinishQueued(plan.batch)),
    );

    // Assess
    expect(early).toBe(false);
    expect(tries.filter(Boolean)).toHaveLength(1);
    expect((await jobs.getPlan(plan.batch))?.finishQueued).toBe(true);
  });

  it("reads a plan's batch as the key's, whatever its attributes say", async () => {
    const jobs = store();
    const plan = aPlan(1);
    await jobs.createPlan(plan.batch, { ...plan, batch: { ...plan.batch } }, NOW);

    const read = await jobs.getPlan(plan.batch);

    expect(read?.batch.team).toBe(plan.batch.team);
    expect(read?.batch.batchId).toBe(plan.batch.batchId);
    expect(await jobs.getPlan({ team: 'other', batchId: plan.batch.batchId })).toBeUndefined();
  });
});
