/**
 * Batches over DynamoDB: the batch item with its counters, the project's index of batches, and
 * the one-way steps of a batch's life (planned, cancelled, finalizing, done). Job leases are in
 * leases.ts; verdicts in verdicts.ts.
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import pLimit, { type LimitFunction } from 'p-limit';
import { DEFAULT_CONCURRENCY } from '../../concurrency';
import type { BatchesStore, BatchItem, JobItem, NewBatch, NewJob } from '../../ports/jobs';
import type { BatchRef } from '../../types';
import { assertCount, conditionalWrite, names, queryAll } from '../dynamo';
import { newBatchItem, newJobItem, toBatch, toJob } from './items';
import { batchKey, JOB_SK_PREFIX, projectBatchKey, projectBatchPk } from './keys';
import { endJob, leaseMethods } from './leases';
import type { JobsTable } from './table';
import { recordVerdicts } from './verdicts';

export interface BatchesStoreOptions extends JobsTable {
  /** Parallel writes when cancelling a batch or recording verdicts. */
  concurrency?: number;
}

/** Job items a batch's creation writes at once. */
const JOB_PUTS_IN_FLIGHT = 32;

/** See BatchesStore.getBatch. */
export async function getBatch(
  { ddb, table }: JobsTable,
  batch: BatchRef,
): Promise<BatchItem | undefined> {
  const res = await ddb.send(
    new GetCommand({ TableName: table, Key: batchKey(batch), ConsistentRead: true }),
  );
  // The key, not an attribute, says whose batch it is: a team may update its own items.
  return res.Item ? { ...toBatch(res.Item), team: batch.team, batchId: batch.batchId } : undefined;
}

/**
 * Every job of a batch, read as 17 key ranges side by side (job ids are hex hashes, so the
 * ranges split a large batch evenly): a batch of 100,000 jobs is 40 pages of 1 MB, which one
 * Query reads one after another. Ranges share their bounds, so an id equal to a bound is read
 * twice and kept once.
 */
export async function listJobs({ ddb, table }: JobsTable, batch: BatchRef): Promise<JobItem[]> {
  const bounds = ['', ...'0123456789abcdef', '\uffff'];
  const pages = await Promise.all(
    bounds.slice(0, -1).map((lo, i) =>
      queryAll(ddb, {
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
        ExpressionAttributeValues: {
          ':pk': batchKey(batch).pk,
          ':lo': `${JOB_SK_PREFIX}${lo}`,
          ':hi': `${JOB_SK_PREFIX}${bounds[i + 1]}`,
        },
        ConsistentRead: true,
      }),
    ),
  );
  const bySk = new Map<string, Record<string, unknown>>();
  for (const items of pages) for (const item of items) bySk.set(String(item.sk), item);
  return [...bySk.keys()]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((sk) => toJob(bySk.get(sk) as Record<string, unknown>));
}

/**
 * Jobs if absent, each its own conditional PutItem, many side by side: a job that exists is
 * kept as it is (a redelivered planning may meet jobs already running). Not a transaction:
 * nothing here needs two items to change together, and a transaction bills every item twice.
 */
async function createJobs(
  { ddb, table }: JobsTable,
  putLimit: LimitFunction,
  batch: BatchRef & { createdAt: string },
  jobs: readonly NewJob[],
): Promise<void> {
  await putLimit.map(jobs, (job) =>
    conditionalWrite(
      ddb.send(
        new PutCommand({
          TableName: table,
          Item: newJobItem(batch, job, batch.createdAt),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    ),
  );
}

/** See BatchesStore.createBatch. */
async function createBatch(
  t: JobsTable,
  putLimit: LimitFunction,
  batch: NewBatch,
  jobs: readonly NewJob[],
  options: { jobsWritten?: boolean } = {},
): Promise<{ created: boolean }> {
  const { ddb, table } = t;
  if (await getBatch(t, batch)) return { created: false };
  const ids = new Set(jobs.map((j) => j.jobId));
  if (ids.size !== jobs.length) throw new RangeError('a batch cannot hold two jobs with one id');
  if (!options.jobsWritten) await createJobs(t, putLimit, batch, jobs);
  const created = await conditionalWrite(
    ddb.send(
      new PutCommand({
        TableName: table,
        Item: newBatchItem(batch, jobs.length),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ),
  );
  // The project's index, for `status --latest`; written again harmlessly on a redelivery.
  // Repair and shadow batches belong to the batch they follow, not to the project's list.
  if ((batch.lane ?? 'primary') === 'primary')
    await ddb.send(
      new PutCommand({
        TableName: table,
        Item: {
          ...projectBatchKey(batch.team, batch.project, batch.createdAt, batch.batchId),
          type: 'project-batch',
          batchId: batch.batchId,
        },
      }),
    );
  return { created };
}

/** See BatchesStore.cancelBatch. */
async function cancelBatch(
  t: JobsTable,
  limit: LimitFunction,
  batch: BatchRef,
  now: Date,
): Promise<{ cancelled: number } | undefined> {
  const marked = await conditionalWrite(
    t.ddb.send(
      new UpdateCommand({
        TableName: t.table,
        Key: batchKey(batch),
        UpdateExpression:
          'SET #status = :cancelled, cancelledAt = if_not_exists(cancelledAt, :now)',
        ConditionExpression: 'attribute_exists(pk) AND #status IN (:open, :cancelled)',
        ExpressionAttributeNames: names('status'),
        ExpressionAttributeValues: {
          ':cancelled': 'cancelled',
          ':open': 'open',
          ':now': now.toISOString(),
        },
      }),
    ),
  );
  // Missing, or already finalizing: every job has ended, nothing to cancel.
  if (!marked) return (await getBatch(t, batch)) ? { cancelled: 0 } : undefined;
  // Claims check the batch status, so no job can leave `pending` from here on.
  const pending = (await listJobs(t, batch)).filter((j) => j.state === 'pending');
  const ended = await limit.map(pending, (j) =>
    endJob(t, batch, j.jobId, { state: 'cancelled' }, { now }),
  );
  return { cancelled: ended.filter(Boolean).length };
}

/** One conditional update of a batch item: true when its condition held. */
function updateBatch(
  { ddb, table }: JobsTable,
  batch: BatchRef,
  update: {
    UpdateExpression: string;
    ConditionExpression: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues: Record<string, unknown>;
  },
): Promise<boolean> {
  return conditionalWrite(
    ddb.send(new UpdateCommand({ TableName: table, Key: batchKey(batch), ...update })),
  );
}

/** See BatchesStore.latestBatch. */
async function latestBatch(
  t: JobsTable,
  team: string,
  project: string,
): Promise<BatchItem | undefined> {
  const res = await t.ddb.send(
    new QueryCommand({
      TableName: t.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': projectBatchPk(team, project) },
      ScanIndexForward: false,
      Limit: 1,
    }),
  );
  const batchId = res.Items?.[0]?.batchId;
  return typeof batchId === 'string' ? getBatch(t, { team, batchId }) : undefined;
}

/** Batches and their jobs over the jobs table; the document client is built by the caller, once. */
export function createBatchesStore(options: BatchesStoreOptions): BatchesStore {
  const t: JobsTable = {
    ddb: options.ddb,
    table: options.table,
    ...(options.retry ? { retry: options.retry } : {}),
  };
  const limit = pLimit(options.concurrency ?? DEFAULT_CONCURRENCY.jobEnds);
  // Job items are written one request each: more of them in flight than of the other writes.
  const putLimit = pLimit(JOB_PUTS_IN_FLIGHT);
  return {
    ...leaseMethods(t),
    getBatch: (batch) => getBatch(t, batch),
    listJobs: (batch) => listJobs(t, batch),
    createJobs: (batch, jobs) => createJobs(t, putLimit, batch, jobs),
    createBatch: (batch, jobs, opts) => createBatch(t, putLimit, batch, jobs, opts),
    cancelBatch: (batch, now) => cancelBatch(t, limit, batch, now),
    latestBatch: (team, project) => latestBatch(t, team, project),
    recordVerdicts: (batch, verdicts, quality) =>
      recordVerdicts(t, limit, batch, verdicts, quality),
    markFinalizeQueued: (batch) =>
      updateBatch(t, batch, {
        UpdateExpression: 'SET finalizeQueued = :true, #status = :finalizing',
        // Conditions cannot add, so `ended` is kept beside the per-state counters.
        ConditionExpression: 'finalizeQueued = :false AND #ended = #total',
        ExpressionAttributeNames: names('status', 'ended', 'total'),
        ExpressionAttributeValues: { ':true': true, ':false': false, ':finalizing': 'finalizing' },
      }),
    finishBatch: (batch, now) =>
      updateBatch(t, batch, {
        UpdateExpression: 'SET #status = :done, doneAt = :now',
        ConditionExpression: 'finalizeQueued = :true',
        ExpressionAttributeNames: names('status'),
        ExpressionAttributeValues: { ':done': 'done', ':true': true, ':now': now.toISOString() },
      }),
    markPlanned: async (batch, { workMessages, now }) => {
      assertCount(workMessages, 'workMessages');
      return updateBatch(t, batch, {
        UpdateExpression:
          'SET plannedAt = if_not_exists(plannedAt, :now), workMessages = if_not_exists(workMessages, :n)',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':now': now.toISOString(), ':n': workMessages },
      });
    },
  };
}
