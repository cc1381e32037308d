/**
 * Planning a batch too large for one planner invocation (docs/benchmarks.md: one invocation
 * plans about 100 jobs a second against AWS-like latencies, so 100,000 jobs would outlast
 * Lambda's 15 minutes). Lambda, SQS and DynamoDB do the fan-out:
 *
 * 1. the invocation that meets the batch cuts its jobs, in path order, into shards of
 *    `planning.jobsPerShard`, stores each shard's jobs under a plan id that hashes what is
 *    planned, records the plan (the first plan written is the plan) and sends one `plan-shard`
 *    message per shard to the planning queue, whose event source hands each to an invocation;
 * 2. a shard decides its jobs (reads inputs, looks up reuse, stores requests, as a whole batch
 *    is decided), stores its decisions and adds itself to the plan's finished shards (a set:
 *    twice is once); the caller that finds every shard done and marks the plan first sends
 *    `plan-finish`;
 * 3. the finish step commits the batch from the stored decisions (budgets, jobs, ends, work
 *    messages): what `planBatchSpec` does after deciding, and as idempotent.
 *
 * Every message can come twice: a shard already done only checks that the finish was sent; a
 * second finish finds the batch planned, or commits what the first began (jobs are created if
 * absent, ended only from pending, work messages keep their deduplication ids).
 */
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { batchPrefixFor, type Job, type Rejection } from '../../inputs';
import type { PlanRecord } from '../../ports/jobs';
import { PREFIXES } from '../../resources';
import type { BatchRef } from '../../types';
import { outputPrefixFor, planObjectKey, rejectionsKeyFor } from '../keys';
import type { PlanFinishBody, PlanShardBody } from '../messages';
import { sensitivityFloor, strictest } from '../sensitivity';
import type { PipelineDeps } from '../types';
import {
  type CommitJob,
  commitBatch,
  commitJobOf,
  decideJobs,
  inPathOrder,
  newJobsOf,
  type PlanDecision,
  type PlannedBatch,
} from './commit';
import { BatchPlanningPendingError } from './resume';
import type { BatchSpec } from './spec';

/** Shards a batch is planned in: 1 (whole, here) unless there is a planning queue and it is large. */
export function shardsWanted(spec: Pick<BatchSpec, 'jobs'>, deps: PipelineDeps): number {
  if (!deps.queueUrls.plan) return 1;
  return Math.max(1, Math.ceil(spec.jobs.length / deps.settings.planning.jobsPerShard));
}

/** One job's decision as a shard stores it, with what the commit needs of the job. */
interface DecidedJob {
  job: CommitJob;
  decision: PlanDecision;
}

/** A shard's stored decisions, and inputs it found it could not use (bad context files). */
interface ShardDecisions {
  decided: DecidedJob[];
  rejections: Rejection[];
}

const shardJobsName = (shard: number) => `shard-${shard}.json`;
const shardDecisionsName = (shard: number) => `decided-${shard}.json`;
const REJECTIONS_NAME = 'rejections.json';

const ref = (spec: BatchRef): BatchRef => ({ team: spec.team, batchId: spec.batchId });

/**
 * Hands a large batch to shards: stores its shards' jobs, records the plan and sends a message
 * per shard not yet done. A batch met again (a redelivery) is not cut again: its recorded plan
 * is used, and only unfinished shards are sent again.
 */
export async function shardBatchSpec(spec: BatchSpec, deps: PipelineDeps): Promise<PlannedBatch> {
  const batchRef = ref(spec);
  const result = (shards: number, created = false): PlannedBatch => ({
    batchId: spec.batchId,
    created,
    jobs: spec.jobs.length,
    planned: 0,
    ended: { failed: 0, reused: 0, skipped_budget: 0 },
    workMessages: 0,
    rejections: spec.rejections.length,
    shards,
  });
  const existing = await deps.jobs.getPlan(batchRef);
  if ((await deps.jobs.getBatch(batchRef))?.plannedAt !== undefined)
    return result(existing?.shards ?? 0);
  const {
    jobs: _jobs,
    rejections: _r,
    messageIds: _m,
    shadowRequest: _s,
    budgetNanoUsd,
    ...batch
  } = spec;
  const sorted = inPathOrder(spec.jobs);
  const size = deps.settings.planning.jobsPerShard;
  const shards: Job[][] = [];
  for (let i = 0; i < sorted.length; i += size) shards.push(sorted.slice(i, i + size));
  const planId = createHash('sha256')
    .update(JSON.stringify({ batch, budgetNanoUsd, jobs: sorted, rejections: spec.rejections }))
    .digest('hex')
    .slice(0, 32);
  let plan = existing;
  if (!plan) {
    const limit = pLimit(deps.settings.concurrency.planning);
    const put = (name: string, value: unknown) =>
      deps.objects.put(
        planObjectKey(batchRef, planId, name),
        JSON.stringify(value),
        'application/json',
      );
    await put(REJECTIONS_NAME, spec.rejections);
    await limit.map(shards, (jobs, i) => put(shardJobsName(i), { jobs }));
    plan = await deps.jobs.createPlan(
      batchRef,
      {
        planId,
        shards: shards.length,
        jobs: sorted.length,
        batch,
        ...(budgetNanoUsd !== undefined ? { budgetNanoUsd } : {}),
      },
      deps.clock.now(),
    );
  }
  const recorded = plan;
  const todo = Array.from({ length: recorded.shards }, (_, i) => i).filter(
    (i) => !recorded.done.includes(i),
  );
  await deps.queues.send(
    deps.queueUrls.plan as string,
    todo.map((shard) => ({
      body: JSON.stringify({
        type: 'plan-shard',
        team: spec.team,
        batchId: spec.batchId,
        planId: recorded.planId,
        shard,
      } satisfies PlanShardBody),
    })),
  );
  if (todo.length === 0) await queueFinishIfDone(batchRef, recorded, deps);
  deps.logger?.info('batch planned in shards', {
    team: spec.team,
    batchId: spec.batchId,
    planId: recorded.planId,
    jobs: recorded.jobs,
    shards: recorded.shards,
    sent: todo.length,
  });
  return result(recorded.shards, existing === undefined);
}

/** Whether a job reads and writes only its own batch's and project's objects. */
function ownKeys(job: Job, batch: BatchRef, project: string): boolean {
  const reads = [batchPrefixFor(batch), `${PREFIXES.intake}${batch.team}/${project}/`];
  const readable = (key: string) => reads.some((prefix) => key.startsWith(prefix));
  return (
    readable(job.inputKey) &&
    job.contextKeys.every(readable) &&
    job.outputKey.startsWith(outputPrefixFor({ ...batch, project }))
  );
}

/** The plan a message names, or undefined (logged) when the batch's plan is another one. */
async function planOf(
  body: { team: string; batchId: string; planId: string },
  deps: PipelineDeps,
): Promise<PlanRecord | undefined> {
  const plan = await deps.jobs.getPlan({ team: body.team, batchId: body.batchId });
  if (plan?.planId === body.planId) return plan;
  deps.logger?.warn('planning message of another plan ignored', {
    team: body.team,
    batchId: body.batchId,
    planId: body.planId,
    recorded: plan?.planId ?? null,
  });
  return undefined;
}

/** Decides one shard's jobs and stores the decisions, then marks the shard done. */
export async function planShard(body: PlanShardBody, deps: PipelineDeps): Promise<void> {
  const batchRef = { team: body.team, batchId: body.batchId };
  const plan = await planOf(body, deps);
  if (!plan) return;
  if (body.shard >= plan.shards) throw new RangeError(`shard ${body.shard} of ${plan.shards}`);
  let after = plan;
  if (!plan.done.includes(body.shard)) {
    const text = await deps.objects.getText(
      planObjectKey(batchRef, plan.planId, shardJobsName(body.shard)),
    );
    if (text === undefined)
      throw new Error(`shard ${body.shard} of ${body.team}/${body.batchId} has no stored jobs`);
    // Shard objects and the plan item are under the team's own prefix and partition, which its
    // credentials may write: the team, keys and sensitivity are checked again here, as the
    // planner checks them when it builds jobs.
    const { project, kind } = plan.batch;
    const floor = sensitivityFloor(deps.settings, body.team, project);
    const jobs = (JSON.parse(text) as { jobs: Job[] }).jobs.map((job) => ({
      ...job,
      team: body.team,
      batchId: body.batchId,
      project,
      kind,
      sensitivity: strictest(job.sensitivity, plan.batch.sensitivity, floor),
    }));
    const spec: BatchSpec = { ...plan.batch, jobs, rejections: [], messageIds: [] };
    const decisions = await decideJobs(
      spec,
      jobs.filter((job) => ownKeys(job, batchRef, project)),
      deps,
    );
    for (const job of jobs)
      if (!decisions.has(job.jobId))
        decisions.set(job.jobId, {
          kind: 'failed',
          code: 'bad_key',
          reason: `the job's keys are not under batch ${body.team}/${body.batchId}: refused`,
        });
    const stored: ShardDecisions = {
      decided: jobs.map((job) => ({
        job: commitJobOf(job),
        decision: decisions.get(job.jobId) as PlanDecision,
      })),
      rejections: spec.rejections,
    };
    await deps.objects.put(
      planObjectKey(batchRef, plan.planId, shardDecisionsName(body.shard)),
      JSON.stringify(stored),
      'application/json',
    );
    // The shard writes its own jobs (if absent), so the commit writes only the batch item.
    await deps.jobs.createJobs(
      { ...batchRef, createdAt: plan.batch.createdAt },
      newJobsOf(
        stored.decided.map((d) => d.job),
        decisions,
      ),
    );
    after = await deps.jobs.markShardDone(batchRef, body.shard);
  }
  await queueFinishIfDone(batchRef, after, deps);
}

/**
 * Sends the finish step once every shard is done: the caller that marks the plan first sends
 * it; a caller that finds it marked but the batch not planned sends it again (the first sender
 * may have failed to), which the finish step's idempotence makes harmless.
 */
async function queueFinishIfDone(
  batch: BatchRef,
  plan: PlanRecord,
  deps: PipelineDeps,
): Promise<void> {
  if (plan.done.length < plan.shards) return;
  const first = await deps.jobs.markPlanFinishQueued(batch);
  if (!first && (await deps.jobs.getBatch(batch))?.plannedAt !== undefined) return;
  await deps.queues.send(deps.queueUrls.plan as string, [
    {
      body: JSON.stringify({
        type: 'plan-finish',
        ...batch,
        planId: plan.planId,
      } satisfies PlanFinishBody),
    },
  ]);
}

/**
 * The last step: commits the batch from every shard's stored decisions, in path order, exactly
 * as a batch planned whole is committed.
 * @throws BatchPlanningPendingError while a shard is not done (cannot happen unless the plan
 *   item was changed by hand; the message comes back).
 */
export async function finishShardedBatch(
  body: PlanFinishBody,
  deps: PipelineDeps,
): Promise<PlannedBatch | undefined> {
  const batchRef = { team: body.team, batchId: body.batchId };
  const plan = await planOf(body, deps);
  if (!plan) return undefined;
  if (plan.done.length < plan.shards)
    throw new BatchPlanningPendingError(
      `batch ${body.batchId}: ${plan.done.length} of ${plan.shards} shards decided`,
    );
  if ((await deps.jobs.getBatch(batchRef))?.plannedAt !== undefined) return undefined;
  const limit = pLimit(deps.settings.concurrency.planning);
  const read = async <T>(name: string): Promise<T> => {
    const text = await deps.objects.getText(planObjectKey(batchRef, plan.planId, name));
    if (text === undefined) throw new Error(`${body.batchId}: plan object ${name} is missing`);
    return JSON.parse(text) as T;
  };
  const shards = await limit.map(
    Array.from({ length: plan.shards }, (_, i) => i),
    (i) => read<ShardDecisions>(shardDecisionsName(i)),
  );
  const rejections = [...(await read<Rejection[]>(REJECTIONS_NAME))];
  const seen = new Set(rejections.map((r) => JSON.stringify(r)));
  for (const shard of shards)
    for (const r of shard.rejections) {
      // Every shard that read a bad context file reports it: keep it once.
      if (seen.has(JSON.stringify(r))) continue;
      seen.add(JSON.stringify(r));
      rejections.push(r);
    }
  await deps.objects.put(
    rejectionsKeyFor(batchRef),
    JSON.stringify(rejections),
    'application/json',
  );
  const decisions = new Map<string, PlanDecision>();
  const jobs: CommitJob[] = [];
  for (const shard of shards)
    for (const { job, decision } of shard.decided) {
      jobs.push(job);
      decisions.set(job.jobId, decision);
    }
  const committed = await commitBatch(
    {
      ...plan.batch,
      ...(plan.budgetNanoUsd !== undefined ? { budgetNanoUsd: plan.budgetNanoUsd } : {}),
    },
    inPathOrder(jobs),
    decisions,
    deps,
    { jobsWritten: true },
  );
  return { ...committed, rejections: rejections.length, shards: plan.shards };
}
