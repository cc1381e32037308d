/**
 * Plans of sharded batches in the jobs table: one item beside the batch's own (same partition,
 * so a team's LeadingKeys condition covers it), written once, whose set of finished shards
 * grows idempotently (a number set: adding a shard twice changes nothing), and whose
 * `finishQueued` flag is set by exactly one caller once every shard is done.
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type { NewPlan, PlanRecord, PlansStore } from '../../ports/jobs';
import type { BatchRef } from '../../types';
import { assertCount, conditionalWrite, names } from '../dynamo';
import { NewBatchSchema, parseItem } from './items';
import { batchKey } from './keys';
import type { JobsTable } from './table';

/** Sort key of a batch's plan item, beside its `META` item. */
const PLAN_SK = 'PLAN';

const planKey = (batch: BatchRef) => ({ pk: batchKey(batch).pk, sk: PLAN_SK });

const PlanItemSchema = z.object({
  planId: z.string(),
  shards: z.number().int().positive(),
  jobs: z.number().int().nonnegative(),
  batch: NewBatchSchema,
  budgetNanoUsd: z.number().int().nonnegative().optional(),
  // A number set comes back as a Set; absent until the first shard is done.
  done: z
    .custom<Set<number>>((v) => v instanceof Set)
    .optional()
    .transform((v) => [...(v ?? new Set<number>())].sort((a, b) => a - b)),
  finishQueued: z.boolean().default(false),
  createdAt: z.string(),
});

function toPlan(item: Record<string, unknown>, batch: BatchRef): PlanRecord {
  const plan = parseItem(PlanItemSchema, item, 'plan');
  // The key, not an attribute, says whose batch it is: a team may update its own items.
  return { ...plan, batch: { ...plan.batch, team: batch.team, batchId: batch.batchId } };
}

/** See JobsStore.createPlan. */
export async function createPlan(
  { ddb, table }: JobsTable,
  batch: BatchRef,
  plan: NewPlan,
  now: Date,
): Promise<PlanRecord> {
  assertCount(plan.jobs, 'jobs');
  if (plan.budgetNanoUsd !== undefined) assertCount(plan.budgetNanoUsd, 'budgetNanoUsd');
  await conditionalWrite(
    ddb.send(
      new PutCommand({
        TableName: table,
        Item: {
          ...planKey(batch),
          type: 'plan',
          ...plan,
          finishQueued: false,
          createdAt: now.toISOString(),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ),
  );
  const stored = await getPlan({ ddb, table }, batch);
  if (!stored) throw new Error(`the plan of ${batch.team}/${batch.batchId} was not stored`);
  return stored;
}

/** See JobsStore.getPlan. */
export async function getPlan(
  { ddb, table }: JobsTable,
  batch: BatchRef,
): Promise<PlanRecord | undefined> {
  const res = await ddb.send(
    new GetCommand({ TableName: table, Key: planKey(batch), ConsistentRead: true }),
  );
  return res.Item ? toPlan(res.Item, batch) : undefined;
}

/** See JobsStore.markShardDone. */
export async function markShardDone(
  { ddb, table }: JobsTable,
  batch: BatchRef,
  shard: number,
): Promise<PlanRecord> {
  assertCount(shard, 'shard');
  const res = await ddb.send(
    new UpdateCommand({
      TableName: table,
      Key: planKey(batch),
      UpdateExpression: 'ADD #done :shard',
      // Only a shard of the plan: an index past it would make `done` never equal `shards`.
      ConditionExpression: 'attribute_exists(pk) AND shards > :shardIndex',
      ExpressionAttributeNames: names('done'),
      ExpressionAttributeValues: { ':shard': new Set([shard]), ':shardIndex': shard },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return toPlan(res.Attributes ?? {}, batch);
}

/** See JobsStore.markPlanFinishQueued. */
export function markPlanFinishQueued({ ddb, table }: JobsTable, batch: BatchRef): Promise<boolean> {
  return conditionalWrite(
    ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: planKey(batch),
        UpdateExpression: 'SET finishQueued = :true',
        ConditionExpression: 'finishQueued = :false AND size(#done) = shards',
        ExpressionAttributeNames: names('done'),
        ExpressionAttributeValues: { ':true': true, ':false': false },
      }),
    ),
  );
}

/** Plans of sharded batches over the jobs table. */
export function createPlansStore(t: JobsTable): PlansStore {
  return {
    createPlan: (batch, plan, now) => createPlan(t, batch, plan, now),
    getPlan: (batch) => getPlan(t, batch),
    markShardDone: (batch, shard) => markShardDone(t, batch, shard),
    markPlanFinishQueued: (batch) => markPlanFinishQueued(t, batch),
  };
}
