/**
 * In-memory reuse entries, in-flight marks and shard plans, with the adapter's rules: a reuse
 * entry is gone once `now` passes its expiry; a request is held by one holder until its mark
 * ends; a plan is written once, a shard counts done once, and the finish is queued once.
 */
import { assertCount } from '../../../shared/aws/dynamo';
import type { InFlightStore, PlansStore, ReuseStore } from '../../../shared/ports/jobs';
import { batchKeyOf, conditionFailed, copy, type FakeJobsTable, newFakeJobsTable } from './table';

/** Reuse entries in memory, in `table` (a fresh one unless given). */
export function fakeReuseStore(table: FakeJobsTable = newFakeJobsTable()): ReuseStore {
  return {
    async putReuse(entry) {
      table.reuse.set(entry.requestHash, copy(entry));
    },
    async getReuse(requestHash, now) {
      const entry = table.reuse.get(requestHash);
      if (!entry || entry.expiresAt * 1000 <= now.getTime()) return undefined;
      return copy(entry);
    },
  };
}

/** In-flight marks in memory, in `table` (a fresh one unless given). */
export function fakeInFlightStore(table: FakeJobsTable = newFakeJobsTable()): InFlightStore {
  const same = (a: { team: string; batchId: string; jobId: string }, b: typeof a) =>
    a.team === b.team && a.batchId === b.batchId && a.jobId === b.jobId;
  return {
    async holdRequest(requestHash, holder, untilMs, now) {
      const mark = table.inflight.get(requestHash);
      if (mark && mark.untilMs > now.getTime() && !same(mark, holder)) {
        const { untilMs: markUntil, team, batchId, jobId } = mark;
        return { held: false, by: { team, batchId, jobId }, untilMs: markUntil };
      }
      const { team, batchId, jobId } = holder;
      table.inflight.set(requestHash, { team, batchId, jobId, untilMs });
      return { held: true };
    },
    async letGoRequest(requestHash, holder) {
      const mark = table.inflight.get(requestHash);
      if (mark && same(mark, holder)) mark.untilMs = 0;
    },
  };
}

/** Plans of sharded batches in memory, in `table` (a fresh one unless given). */
export function fakePlansStore(table: FakeJobsTable = newFakeJobsTable()): PlansStore {
  const read = (batch: Parameters<PlansStore['getPlan']>[0]) => {
    const plan = table.plans.get(batchKeyOf(batch));
    // The key, not the stored batch, says whose plan it is.
    return plan
      ? { ...copy(plan), batch: { ...copy(plan.batch), team: batch.team, batchId: batch.batchId } }
      : undefined;
  };
  return {
    async createPlan(batch, plan, now) {
      assertCount(plan.jobs, 'jobs');
      if (plan.budgetNanoUsd !== undefined) assertCount(plan.budgetNanoUsd, 'budgetNanoUsd');
      if (!table.plans.has(batchKeyOf(batch)))
        table.plans.set(batchKeyOf(batch), {
          ...copy(plan),
          done: [],
          finishQueued: false,
          createdAt: now.toISOString(),
        });
      return read(batch) as NonNullable<ReturnType<typeof read>>;
    },
    getPlan: async (batch) => read(batch),
    async markShardDone(batch, shard) {
      assertCount(shard, 'shard');
      const plan = table.plans.get(batchKeyOf(batch));
      if (!plan || plan.shards <= shard) throw conditionFailed(`no shard ${shard} in the plan`);
      if (!plan.done.includes(shard)) plan.done = [...plan.done, shard].sort((a, b) => a - b);
      return read(batch) as NonNullable<ReturnType<typeof read>>;
    },
    async markPlanFinishQueued(batch) {
      const plan = table.plans.get(batchKeyOf(batch));
      if (!plan || plan.finishQueued || plan.done.length !== plan.shards) return false;
      plan.finishQueued = true;
      return true;
    },
  };
}
