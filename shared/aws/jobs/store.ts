/**
 * The jobs table over DynamoDB: one batch item per batch, one item per job, result-reuse items
 * and drop markers. The conditional writes here carry the pipeline's invariants: a job is
 * claimed by one worker at a time, ends in exactly one terminal state, and is counted once on
 * its batch. Keys, item shapes and drop markers are in the files beside this one.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import { DEFAULT_CONCURRENCY } from '../../concurrency';
import type {
  BatchItem,
  ClaimRefusal,
  EndState,
  JobEnd,
  JobItem,
  JobsStore,
  NewJob,
} from '../../ports/jobs';
import type { BatchRef } from '../../types';
import {
  assertCount,
  type CancelledItem,
  type ConflictRetryOptions,
  conditionalWrite,
  conditionFailed,
  names,
  queryAll,
  type TransactItem,
  transact,
} from '../dynamo';
import {
  closeDrop,
  type DropTable,
  getClosedDrop,
  getOpenDrop,
  joinDrop,
  listDropFiles,
} from './drops';
import { holdRequest, letGoRequest } from './inflight';
import { newBatchItem, newJobItem, toBatch, toJob } from './items';
import { batchKey, JOB_SK_PREFIX, jobKey, projectBatchKey, projectBatchPk } from './keys';
import { createPlan, getPlan, markPlanFinishQueued, markShardDone } from './plans';
import { getReuse, putReuse } from './reuse';
import { recordVerdicts } from './verdicts';

export interface JobsStoreOptions {
  ddb: DynamoDBDocumentClient;
  /** Physical name of the jobs table. */
  table: string;
  retry?: ConflictRetryOptions;
  /** Parallel writes when cancelling a batch. Default 8. */
  concurrency?: number;
}

/** Job items a batch's creation writes at once. */
const JOB_PUTS_IN_FLIGHT = 32;

function refusalOf(reasons: readonly CancelledItem[]): ClaimRefusal {
  // Index 0 is the batch check, index 1 the job update (see claimJob).
  if (conditionFailed(reasons, 0) && reasons[0]?.item?.status?.S === 'cancelled') {
    return 'cancelled';
  }
  if (conditionFailed(reasons, 1)) {
    const state = reasons[1]?.item?.state?.S;
    if (state === undefined) return 'missing';
    if (state === 'cancelled') return 'cancelled';
    return state === 'running' ? 'leased' : 'finished';
  }
  return reasons[0]?.item ? 'finished' : 'missing';
}

/** A JobsStore over the jobs table; the document client is built by the caller, once. */
export function createJobsStore(options: JobsStoreOptions): JobsStore {
  const { ddb, table, retry } = options;
  const drops: DropTable = { ddb, table, ...(retry ? { retry } : {}) };
  const limit = pLimit(options.concurrency ?? DEFAULT_CONCURRENCY.jobEnds);
  // Job items are written one request each: more of them in flight than of the other writes.
  const putLimit = pLimit(JOB_PUTS_IN_FLIGHT);

  const batchIsOpen = (batch: BatchRef): TransactItem => ({
    ConditionCheck: {
      TableName: table,
      Key: batchKey(batch),
      ConditionExpression: '#status = :open',
      ExpressionAttributeNames: names('status'),
      ExpressionAttributeValues: { ':open': 'open' },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  });

  const countEnd = (batch: BatchRef, state: EndState): TransactItem => ({
    Update: {
      TableName: table,
      Key: batchKey(batch),
      UpdateExpression: 'ADD #c :one, #ended :one',
      ExpressionAttributeNames: { '#c': state, '#ended': 'ended' },
      ExpressionAttributeValues: { ':one': 1 },
    },
  });

  async function getBatch(batch: BatchRef): Promise<BatchItem | undefined> {
    const res = await ddb.send(
      new GetCommand({ TableName: table, Key: batchKey(batch), ConsistentRead: true }),
    );
    // The key, not an attribute, says whose batch it is: a team may update its own items.
    return res.Item
      ? { ...toBatch(res.Item), team: batch.team, batchId: batch.batchId }
      : undefined;
  }

  /**
   * Every job of a batch, read as 17 key ranges side by side (job ids are hex hashes, so the
   * ranges split a large batch evenly): a batch of 100,000 jobs is 40 pages of 1 MB, which one
   * Query reads one after another. Ranges share their bounds, so an id equal to a bound is read
   * twice and kept once.
   */
  async function listJobs(batch: BatchRef): Promise<JobItem[]> {
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

  async function getJob(batch: BatchRef, jobId: string): Promise<JobItem | undefined> {
    const res = await ddb.send(
      new GetCommand({ TableName: table, Key: jobKey(batch, jobId), ConsistentRead: true }),
    );
    return res.Item ? toJob(res.Item) : undefined;
  }

  /**
   * Jobs if absent, each its own conditional PutItem, many side by side: a job that exists is
   * kept as it is (a redelivered planning may meet jobs already running). Not a transaction:
   * nothing here needs two items to change together, and a transaction bills every item twice.
   */
  async function createJobs(
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

  async function endJob(
    batch: BatchRef,
    jobId: string,
    end: JobEnd,
    opts: { now: Date; owner?: string },
  ): Promise<boolean> {
    const values: Record<string, unknown> = {
      ':state': end.state,
      ':now': opts.now.toISOString(),
    };
    const sets = ['#state = :state', 'updatedAt = :now'];
    if ('error' in end && end.error) {
      sets.push('#error = :error');
      values[':error'] = { code: end.error.code, reason: end.error.reason };
    }
    if (end.state === 'reused') {
      sets.push('responseId = :responseId');
      values[':responseId'] = end.responseId;
    }
    let condition: string;
    if (opts.owner !== undefined) {
      condition = '#state = :running AND leaseOwner = :owner';
      values[':running'] = 'running';
      values[':owner'] = opts.owner;
    } else {
      condition = '#state = :pending';
      values[':pending'] = 'pending';
    }
    const outcome = await transact(
      ddb,
      [
        {
          Update: {
            TableName: table,
            Key: jobKey(batch, jobId),
            UpdateExpression: `SET ${sets.join(', ')} REMOVE leaseOwner, leaseUntil`,
            ConditionExpression: `attribute_exists(pk) AND ${condition}`,
            ExpressionAttributeNames: {
              ...names('state'),
              ...('error' in end && end.error ? names('error') : {}),
            },
            ExpressionAttributeValues: values,
          },
        },
        countEnd(batch, end.state),
      ],
      retry,
    );
    return outcome.ok;
  }

  return {
    getBatch,
    listJobs,
    getJob,
    endJob,
    createJobs,

    async createBatch(batch, jobs, options = {}) {
      if (await getBatch(batch)) return { created: false };
      const ids = new Set(jobs.map((j) => j.jobId));
      if (ids.size !== jobs.length)
        throw new RangeError('a batch cannot hold two jobs with one id');
      if (!options.jobsWritten) await createJobs(batch, jobs);
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
    },

    recordVerdicts: (batch, verdicts, quality) =>
      recordVerdicts(drops, limit, batch, verdicts, quality),

    async claimJob(batch, jobId, owner, leaseMs, now) {
      const nowMs = now.getTime();
      const outcome = await transact(
        ddb,
        [
          batchIsOpen(batch),
          {
            Update: {
              TableName: table,
              Key: jobKey(batch, jobId),
              UpdateExpression:
                'SET #state = :running, leaseOwner = :owner, leaseUntil = :until, updatedAt = :now ADD attempts :one',
              ConditionExpression:
                'attribute_exists(pk) AND (#state = :pending OR (#state = :running AND leaseUntil < :nowMs))',
              ExpressionAttributeNames: names('state'),
              ExpressionAttributeValues: {
                ':running': 'running',
                ':pending': 'pending',
                ':owner': owner,
                ':until': nowMs + leaseMs,
                ':nowMs': nowMs,
                ':now': now.toISOString(),
                ':one': 1,
              },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ],
        retry,
      );
      if (!outcome.ok) {
        const reason = refusalOf(outcome.reasons);
        const until = Number(outcome.reasons[1]?.item?.leaseUntil?.N);
        return {
          job: undefined,
          reason,
          ...(reason === 'leased' && Number.isFinite(until) ? { leaseUntil: until } : {}),
        };
      }
      const job = await getJob(batch, jobId);
      // Only this owner can change a fresh lease; a missing item here means it was deleted.
      return job ? { job } : { job: undefined, reason: 'missing' };
    },

    async releaseJob(batch, jobId, owner, now, options = {}) {
      // A pending job holds no reservation: the caller gave it back to the budget.
      const outcome = await transact(
        ddb,
        [
          batchIsOpen(batch),
          {
            Update: {
              TableName: table,
              Key: jobKey(batch, jobId),
              UpdateExpression: `SET #state = :pending, updatedAt = :now, reservedNanoUsd = :zero REMOVE leaseOwner, leaseUntil, reservedMonth${options.uncounted ? ' ADD attempts :minusOne' : ''}`,
              ConditionExpression: '#state = :running AND leaseOwner = :owner',
              ExpressionAttributeNames: names('state'),
              ExpressionAttributeValues: {
                ':pending': 'pending',
                ':running': 'running',
                ':owner': owner,
                ':now': now.toISOString(),
                ':zero': 0,
                ...(options.uncounted ? { ':minusOne': -1 } : {}),
              },
            },
          },
        ],
        retry,
      );
      if (outcome.ok) return 'released';
      if (conditionFailed(outcome.reasons, 1)) return 'not_owner';
      // The batch was cancelled while the job ran: cancel the job rather than leave it pending.
      const ended = await endJob(batch, jobId, { state: 'cancelled' }, { now, owner });
      return ended ? 'cancelled' : 'not_owner';
    },

    async setReservation(batch, jobId, owner, reservation) {
      assertCount(reservation.nanoUsd, 'nanoUsd');
      return conditionalWrite(
        ddb.send(
          new UpdateCommand({
            TableName: table,
            Key: jobKey(batch, jobId),
            UpdateExpression: 'SET reservedNanoUsd = :nano, reservedMonth = :month',
            ConditionExpression: '#state = :running AND leaseOwner = :owner',
            ExpressionAttributeNames: names('state'),
            ExpressionAttributeValues: {
              ':nano': reservation.nanoUsd,
              ':month': reservation.month,
              ':running': 'running',
              ':owner': owner,
            },
          }),
        ),
      );
    },

    holdRequest: (requestHash, holder, untilMs, now) =>
      holdRequest({ ddb, table }, requestHash, holder, untilMs, now),
    letGoRequest: (requestHash, holder) => letGoRequest({ ddb, table }, requestHash, holder),

    async cancelBatch(batch, now) {
      const marked = await conditionalWrite(
        ddb.send(
          new UpdateCommand({
            TableName: table,
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
      if (!marked) return (await getBatch(batch)) ? { cancelled: 0 } : undefined;
      // Claims check the batch status, so no job can leave `pending` from here on.
      const pending = (await listJobs(batch)).filter((j) => j.state === 'pending');
      const ended = await limit.map(pending, (j) =>
        endJob(batch, j.jobId, { state: 'cancelled' }, { now }),
      );
      return { cancelled: ended.filter(Boolean).length };
    },

    putReuse: (entry) => putReuse(drops, entry),
    getReuse: (requestHash, now) => getReuse(drops, requestHash, now),

    async markFinalizeQueued(batch) {
      return conditionalWrite(
        ddb.send(
          new UpdateCommand({
            TableName: table,
            Key: batchKey(batch),
            UpdateExpression: 'SET finalizeQueued = :true, #status = :finalizing',
            // Conditions cannot add, so `ended` is kept beside the per-state counters.
            ConditionExpression: 'finalizeQueued = :false AND #ended = #total',
            ExpressionAttributeNames: names('status', 'ended', 'total'),
            ExpressionAttributeValues: {
              ':true': true,
              ':false': false,
              ':finalizing': 'finalizing',
            },
          }),
        ),
      );
    },

    joinDrop: (prefix, events, options) => joinDrop(drops, prefix, events, options),
    getOpenDrop: (prefix) => getOpenDrop(drops, prefix),
    listDropFiles: (dropId) => listDropFiles(drops, dropId),
    closeDrop: (drop, closed) => closeDrop(drops, drop, closed),
    getClosedDrop: (dropId) => getClosedDrop(drops, dropId),

    createPlan: (batch, plan, now) => createPlan(drops, batch, plan, now),
    getPlan: (batch) => getPlan(drops, batch),
    markShardDone: (batch, shard) => markShardDone(drops, batch, shard),
    markPlanFinishQueued: (batch) => markPlanFinishQueued(drops, batch),

    async latestBatch(team, project) {
      const res = await ddb.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': projectBatchPk(team, project) },
          ScanIndexForward: false,
          Limit: 1,
        }),
      );
      const batchId = res.Items?.[0]?.batchId;
      return typeof batchId === 'string' ? getBatch({ team, batchId }) : undefined;
    },

    async markPlanned(batch, { workMessages, now }) {
      assertCount(workMessages, 'workMessages');
      return conditionalWrite(
        ddb.send(
          new UpdateCommand({
            TableName: table,
            Key: batchKey(batch),
            UpdateExpression:
              'SET plannedAt = if_not_exists(plannedAt, :now), workMessages = if_not_exists(workMessages, :n)',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':now': now.toISOString(), ':n': workMessages },
          }),
        ),
      );
    },

    async finishBatch(batch, now) {
      return conditionalWrite(
        ddb.send(
          new UpdateCommand({
            TableName: table,
            Key: batchKey(batch),
            UpdateExpression: 'SET #status = :done, doneAt = :now',
            ConditionExpression: 'finalizeQueued = :true',
            ExpressionAttributeNames: names('status'),
            ExpressionAttributeValues: {
              ':done': 'done',
              ':true': true,
              ':now': now.toISOString(),
            },
          }),
        ),
      );
    },
  };
}
