/**
 * The jobs table: one batch item per batch, one item per job, and result-reuse items. The
 * conditional writes here carry the pipeline's invariants: a job is claimed by one worker at a
 * time, ends in exactly one terminal state, and is counted once on its batch.
 */

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import type { JobState, Kind, Sensitivity, Usage } from '../types';
import {
  assertCount,
  type CancelledItem,
  type ConflictRetryOptions,
  conditionalWrite,
  conditionFailed,
  names,
  num,
  queryAll,
  readTotals,
  TOTAL_FIELDS,
  type Totals,
  type TransactItem,
  transact,
} from './dynamo';

export type BatchStatus = 'open' | 'cancelled' | 'finalizing' | 'done';

/** Terminal states counted on the batch item; their sum is `ended`. */
export const END_COUNTERS = [
  'succeeded',
  'failed',
  'skipped_budget',
  'reused',
  'cancelled',
] as const;
export type EndState = (typeof END_COUNTERS)[number];

/** What the planner knows about a batch when it creates it. */
export interface NewBatch {
  batchId: string;
  team: string;
  project: string;
  kind: Kind;
  model: string;
  sensitivity: Sensitivity;
  /** ISO timestamp. */
  createdAt: string;
  /** ISO timestamp after which the batch should not start new work. */
  deadline?: string;
  preferOffPeak?: boolean;
  /** CI metadata (repository, commit, run URL), shown in summaries. */
  ci?: Record<string, string>;
}

/** A batch as stored: its settings, lifecycle, per-state counters and spend. */
export interface BatchItem extends NewBatch {
  status: BatchStatus;
  /** Number of jobs created with the batch. */
  total: number;
  /** Jobs in a terminal state; the batch is complete when `ended === total`. */
  ended: number;
  counters: Record<EndState, number>;
  /** Every billed request of the batch, warm-ups included. */
  totals: Totals & { warmupRequests: number; warmupCostNanoUsd: number };
  finalizeQueued: boolean;
  /**
   * When the planner finished sending the batch's work messages (absent: planning has not
   * finished, perhaps failed half-way).
   */
  plannedAt?: string;
  /** Work messages the planner sent, recorded with `plannedAt`. */
  workMessages?: number;
  cancelledAt?: string;
  doneAt?: string;
}

/** What the planner knows about a job when it creates it. */
export interface NewJob {
  jobId: string;
  path: string;
  inputKey: string;
  outputKey: string;
  /** S3 key of the full request (messages and parameters) the worker sends. */
  requestKey?: string;
  /** Hash of the full request; the key of result reuse. */
  requestHash?: string;
  customId?: string;
  /** Budget reserved for this job at planning time, settled when its response is recorded. */
  reservedNanoUsd?: number;
}

/** Why a job did not succeed, in terms a person can act on. */
export interface JobError {
  code: string;
  reason: string;
}

export interface JobItem extends Omit<NewJob, 'reservedNanoUsd'> {
  batchId: string;
  state: JobState;
  /** Times the job was claimed. */
  attempts: number;
  leaseOwner?: string;
  /** Epoch ms after which another worker may take the job over. */
  leaseUntil?: number;
  reservedNanoUsd: number;
  error?: JobError;
  /** The billed response that produced the output (for `reused`, the earlier one). */
  responseId?: string;
  usage?: Usage;
  costNanoUsd?: number;
  /** ISO timestamp of the last state change. */
  updatedAt: string;
}

/** A terminal state reached without a billed response of this job. */
export type JobEnd =
  | { state: 'failed'; error: JobError }
  | { state: 'skipped_budget' | 'cancelled'; error?: JobError }
  | { state: 'reused'; responseId: string };

export type ClaimRefusal =
  /** No such job (or no such batch). */
  | 'missing'
  /** The job already reached a terminal state, or its batch is being finalized. */
  | 'finished'
  /** Another worker holds an unexpired lease. */
  | 'leased'
  /** The batch (or the job) was cancelled. */
  | 'cancelled';

export type ClaimResult = { job: JobItem } | { job: undefined; reason: ClaimRefusal };

/** Result-reuse entry: the output of an earlier identical request. */
export interface ReuseItem {
  requestHash: string;
  outputKey: string;
  responseId: string;
  createdAt: string;
  /** Epoch seconds; DynamoDB TTL deletes the item some time after. */
  expiresAt: number;
}

export interface JobsStore {
  /**
   * Creates the batch and its jobs, idempotently: jobs that exist are left as they are (a
   * redelivered planner message neither duplicates nor resets them). Jobs are written before the
   * batch item, so a batch that exists has all its jobs. `created` is false when the batch existed.
   */
  createBatch(batch: NewBatch, jobs: readonly NewJob[]): Promise<{ created: boolean }>;
  /**
   * Leases a job to `owner` for `leaseMs`: pending, or running with an expired lease, becomes
   * running with attempts + 1, only while the batch is open. A refusal means: make no LLM call.
   */
  claimJob(
    batchId: string,
    jobId: string,
    owner: string,
    leaseMs: number,
    now: Date,
  ): Promise<ClaimResult>;
  /**
   * Gives a running job back (not started, or a retryable failure): running -> pending, only by
   * its lease owner. In a cancelled batch the job is cancelled instead, so none stays pending.
   */
  releaseJob(
    batchId: string,
    jobId: string,
    owner: string,
    now: Date,
  ): Promise<'released' | 'cancelled' | 'not_owner'>;
  /**
   * Ends a job without a billed response of its own, counting it on the batch in the same
   * transaction. With `owner` the job must be running under that lease; without, it must be
   * pending. False when the job was not in that state (nothing changed).
   */
  endJob(
    batchId: string,
    jobId: string,
    end: JobEnd,
    options: { now: Date; owner?: string },
  ): Promise<boolean>;
  /**
   * Cancels the batch: no job can be claimed afterwards, every pending job becomes cancelled,
   * running jobs finish. Idempotent; `undefined` when there is no such batch.
   */
  cancelBatch(batchId: string, now: Date): Promise<{ cancelled: number } | undefined>;
  getBatch(batchId: string): Promise<BatchItem | undefined>;
  /** Every job of the batch (strongly consistent, all pages), in job id order. */
  listJobs(batchId: string): Promise<JobItem[]>;
  getJob(batchId: string, jobId: string): Promise<JobItem | undefined>;
  /** Stores a reuse entry (last writer wins: identical requests have interchangeable outputs). */
  putReuse(entry: ReuseItem): Promise<void>;
  /** The reuse entry of a request hash, unless it expired (TTL deletes lazily). */
  getReuse(requestHash: string, now: Date): Promise<ReuseItem | undefined>;
  /**
   * True exactly once, for the caller that should enqueue finalization: when every job is in a
   * terminal state and no one queued it before. Moves the batch to `finalizing`.
   */
  markFinalizeQueued(batchId: string): Promise<boolean>;
  /** Marks a finalized batch `done`. False unless finalization was queued. */
  finishBatch(batchId: string, now: Date): Promise<boolean>;
  /**
   * Records that the planner sent the batch's work messages, so a batch left half-planned (jobs
   * created, messages never sent) can be told apart and planned again. The first time is kept;
   * false when there is no such batch.
   */
  markPlanned(batchId: string, plan: { workMessages: number; now: Date }): Promise<boolean>;
  /**
   * Claims one S3 object event for a batch, so the same event delivered again in a later
   * batching window is recognized. True when the marker was absent, expired, already this
   * batch's, or left by a planning that never created its batch (claimed longer than
   * `staleAfterMs` ago, batch absent); otherwise `owner` names the batch that has the event.
   */
  claimDrop(
    claim: DropClaim,
    options: { now: Date; staleAfterMs: number },
  ): Promise<DropClaimResult>;
}

/** One S3 object event claimed by the batch that plans it. */
export interface DropClaim {
  /** The object key, decoded. */
  key: string;
  /** What tells two events of one key apart: the S3 sequencer, or the eTag without one. */
  eventId: string;
  batchId: string;
  /** Epoch seconds; DynamoDB TTL deletes the marker some time after. */
  expiresAt: number;
}

export type DropClaimResult = { claimed: true } | { claimed: false; owner: string };

export interface JobsStoreOptions {
  ddb: DynamoDBDocumentClient;
  /** Physical name of the jobs table. */
  table: string;
  retry?: ConflictRetryOptions;
  /** Parallel writes when cancelling a batch. Default 8. */
  concurrency?: number;
}

/** Key of a batch item. */
export function batchKey(batchId: string): { pk: string; sk: string } {
  return { pk: `BATCH#${batchId}`, sk: 'META' };
}

/** Key of a job item. */
export function jobKey(batchId: string, jobId: string): { pk: string; sk: string } {
  return { pk: `BATCH#${batchId}`, sk: `JOB#${jobId}` };
}

/** Key of a result-reuse item. */
export function reuseKey(requestHash: string): { pk: string; sk: string } {
  return { pk: `REUSE#${requestHash}`, sk: 'REUSE' };
}

/** Key of the marker of one S3 object event (`eventId`: sequencer, or eTag without one). */
export function dropKey(key: string, eventId: string): { pk: string; sk: string } {
  return { pk: `DROP#${key}`, sk: eventId };
}

// TransactWriteItems takes at most 100 actions.
const TRANSACTION_LIMIT = 100;

function str(item: Record<string, unknown>, key: string): string | undefined {
  const v = item[key];
  return typeof v === 'string' ? v : undefined;
}

function toBatch(item: Record<string, unknown>): BatchItem {
  const totals = readTotals(item);
  return {
    batchId: item.batchId as string,
    team: item.team as string,
    project: item.project as string,
    kind: item.kind as Kind,
    model: item.model as string,
    sensitivity: item.sensitivity as Sensitivity,
    createdAt: item.createdAt as string,
    ...(item.deadline !== undefined ? { deadline: item.deadline as string } : {}),
    ...(item.preferOffPeak !== undefined ? { preferOffPeak: item.preferOffPeak as boolean } : {}),
    ...(item.ci !== undefined ? { ci: item.ci as Record<string, string> } : {}),
    status: item.status as BatchStatus,
    total: num(item, 'total'),
    ended: num(item, 'ended'),
    counters: Object.fromEntries(END_COUNTERS.map((c) => [c, num(item, c)])) as Record<
      EndState,
      number
    >,
    totals: {
      ...totals,
      warmupRequests: num(item, 'warmupRequests'),
      warmupCostNanoUsd: num(item, 'warmupCostNanoUsd'),
    },
    finalizeQueued: item.finalizeQueued === true,
    ...(typeof item.plannedAt === 'string' ? { plannedAt: item.plannedAt } : {}),
    ...(typeof item.workMessages === 'number' ? { workMessages: item.workMessages } : {}),
    ...(item.cancelledAt !== undefined ? { cancelledAt: item.cancelledAt as string } : {}),
    ...(item.doneAt !== undefined ? { doneAt: item.doneAt as string } : {}),
  };
}

const OPTIONAL_JOB_STRINGS = [
  'requestKey',
  'requestHash',
  'customId',
  'leaseOwner',
  'responseId',
] as const;

function toJob(item: Record<string, unknown>): JobItem {
  const job: JobItem = {
    batchId: item.batchId as string,
    jobId: item.jobId as string,
    state: item.state as JobState,
    attempts: num(item, 'attempts'),
    path: item.path as string,
    inputKey: item.inputKey as string,
    outputKey: item.outputKey as string,
    reservedNanoUsd: num(item, 'reservedNanoUsd'),
    updatedAt: item.updatedAt as string,
  };
  for (const key of OPTIONAL_JOB_STRINGS) {
    const v = str(item, key);
    if (v !== undefined) job[key] = v;
  }
  if (typeof item.leaseUntil === 'number') job.leaseUntil = item.leaseUntil;
  if (item.error) job.error = item.error as JobError;
  if (item.usage) job.usage = item.usage as Usage;
  if (typeof item.costNanoUsd === 'number') job.costNanoUsd = item.costNanoUsd;
  return job;
}

function newJobItem(batchId: string, job: NewJob, updatedAt: string): Record<string, unknown> {
  const reserved = job.reservedNanoUsd ?? 0;
  assertCount(reserved, 'reservedNanoUsd');
  return {
    ...jobKey(batchId, job.jobId),
    type: 'job',
    batchId,
    jobId: job.jobId,
    state: 'pending' satisfies JobState,
    attempts: 0,
    path: job.path,
    inputKey: job.inputKey,
    outputKey: job.outputKey,
    ...(job.requestKey !== undefined ? { requestKey: job.requestKey } : {}),
    ...(job.requestHash !== undefined ? { requestHash: job.requestHash } : {}),
    ...(job.customId !== undefined ? { customId: job.customId } : {}),
    reservedNanoUsd: reserved,
    updatedAt,
  };
}

function newBatchItem(batch: NewBatch, total: number): Record<string, unknown> {
  const zeros = (keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, 0]));
  return {
    ...batchKey(batch.batchId),
    type: 'batch',
    ...batch,
    status: 'open' satisfies BatchStatus,
    total,
    ended: 0,
    ...zeros(END_COUNTERS),
    ...zeros(TOTAL_FIELDS),
    warmupRequests: 0,
    warmupCostNanoUsd: 0,
    finalizeQueued: false,
  };
}

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
  const limit = pLimit(options.concurrency ?? 8);

  const batchIsOpen = (batchId: string): TransactItem => ({
    ConditionCheck: {
      TableName: table,
      Key: batchKey(batchId),
      ConditionExpression: '#status = :open',
      ExpressionAttributeNames: names('status'),
      ExpressionAttributeValues: { ':open': 'open' },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  });

  const countEnd = (batchId: string, state: EndState): TransactItem => ({
    Update: {
      TableName: table,
      Key: batchKey(batchId),
      UpdateExpression: 'ADD #c :one, #ended :one',
      ExpressionAttributeNames: { '#c': state, '#ended': 'ended' },
      ExpressionAttributeValues: { ':one': 1 },
    },
  });

  async function getBatch(batchId: string): Promise<BatchItem | undefined> {
    const res = await ddb.send(
      new GetCommand({ TableName: table, Key: batchKey(batchId), ConsistentRead: true }),
    );
    return res.Item ? toBatch(res.Item) : undefined;
  }

  async function listJobs(batchId: string): Promise<JobItem[]> {
    const items = await queryAll(ddb, {
      TableName: table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :job)',
      ExpressionAttributeValues: { ':pk': batchKey(batchId).pk, ':job': 'JOB#' },
      ConsistentRead: true,
    });
    return items.map(toJob);
  }

  async function getJob(batchId: string, jobId: string): Promise<JobItem | undefined> {
    const res = await ddb.send(
      new GetCommand({ TableName: table, Key: jobKey(batchId, jobId), ConsistentRead: true }),
    );
    return res.Item ? toJob(res.Item) : undefined;
  }

  async function putJobsIfAbsent(items: Record<string, unknown>[]): Promise<void> {
    let pending = items;
    while (pending.length > 0) {
      const outcome = await transact(
        ddb,
        pending.map((Item) => ({
          Put: { TableName: table, Item, ConditionExpression: 'attribute_not_exists(pk)' },
        })),
        retry,
      );
      if (outcome.ok) return;
      // Jobs that exist are kept as they are; write the rest again.
      const remaining = pending.filter((_, i) => !conditionFailed(outcome.reasons, i));
      if (remaining.length === pending.length) {
        throw new Error('job creation was refused without a failed condition to explain it');
      }
      pending = remaining;
    }
  }

  async function endJob(
    batchId: string,
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
            Key: jobKey(batchId, jobId),
            UpdateExpression: `SET ${sets.join(', ')} REMOVE leaseOwner, leaseUntil`,
            ConditionExpression: `attribute_exists(pk) AND ${condition}`,
            ExpressionAttributeNames: {
              ...names('state'),
              ...('error' in end && end.error ? names('error') : {}),
            },
            ExpressionAttributeValues: values,
          },
        },
        countEnd(batchId, end.state),
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

    async createBatch(batch, jobs) {
      if (await getBatch(batch.batchId)) return { created: false };
      const ids = new Set(jobs.map((j) => j.jobId));
      if (ids.size !== jobs.length)
        throw new RangeError('a batch cannot hold two jobs with one id');
      const items = jobs.map((j) => newJobItem(batch.batchId, j, batch.createdAt));
      for (let i = 0; i < items.length; i += TRANSACTION_LIMIT) {
        await putJobsIfAbsent(items.slice(i, i + TRANSACTION_LIMIT));
      }
      const created = await conditionalWrite(
        ddb.send(
          new PutCommand({
            TableName: table,
            Item: newBatchItem(batch, jobs.length),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      return { created };
    },

    async claimJob(batchId, jobId, owner, leaseMs, now) {
      const nowMs = now.getTime();
      const outcome = await transact(
        ddb,
        [
          batchIsOpen(batchId),
          {
            Update: {
              TableName: table,
              Key: jobKey(batchId, jobId),
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
      if (!outcome.ok) return { job: undefined, reason: refusalOf(outcome.reasons) };
      const job = await getJob(batchId, jobId);
      // Only this owner can change a fresh lease; a missing item here means it was deleted.
      return job ? { job } : { job: undefined, reason: 'missing' };
    },

    async releaseJob(batchId, jobId, owner, now) {
      const outcome = await transact(
        ddb,
        [
          batchIsOpen(batchId),
          {
            Update: {
              TableName: table,
              Key: jobKey(batchId, jobId),
              UpdateExpression:
                'SET #state = :pending, updatedAt = :now REMOVE leaseOwner, leaseUntil',
              ConditionExpression: '#state = :running AND leaseOwner = :owner',
              ExpressionAttributeNames: names('state'),
              ExpressionAttributeValues: {
                ':pending': 'pending',
                ':running': 'running',
                ':owner': owner,
                ':now': now.toISOString(),
              },
            },
          },
        ],
        retry,
      );
      if (outcome.ok) return 'released';
      if (conditionFailed(outcome.reasons, 1)) return 'not_owner';
      // The batch was cancelled while the job ran: cancel the job rather than leave it pending.
      const ended = await endJob(batchId, jobId, { state: 'cancelled' }, { now, owner });
      return ended ? 'cancelled' : 'not_owner';
    },

    async cancelBatch(batchId, now) {
      const marked = await conditionalWrite(
        ddb.send(
          new UpdateCommand({
            TableName: table,
            Key: batchKey(batchId),
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
      if (!marked) return (await getBatch(batchId)) ? { cancelled: 0 } : undefined;
      // Claims check the batch status, so no job can leave `pending` from here on.
      const pending = (await listJobs(batchId)).filter((j) => j.state === 'pending');
      const ended = await Promise.all(
        pending.map((j) => limit(() => endJob(batchId, j.jobId, { state: 'cancelled' }, { now }))),
      );
      return { cancelled: ended.filter(Boolean).length };
    },

    async putReuse(entry) {
      await ddb.send(
        new PutCommand({
          TableName: table,
          Item: { ...reuseKey(entry.requestHash), type: 'reuse', ...entry },
        }),
      );
    },

    async getReuse(requestHash, now) {
      const res = await ddb.send(new GetCommand({ TableName: table, Key: reuseKey(requestHash) }));
      const item = res.Item;
      if (!item || num(item, 'expiresAt') * 1000 <= now.getTime()) return undefined;
      return {
        requestHash: item.requestHash as string,
        outputKey: item.outputKey as string,
        responseId: item.responseId as string,
        createdAt: item.createdAt as string,
        expiresAt: num(item, 'expiresAt'),
      };
    },

    async markFinalizeQueued(batchId) {
      return conditionalWrite(
        ddb.send(
          new UpdateCommand({
            TableName: table,
            Key: batchKey(batchId),
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

    async claimDrop(claim, { now, staleAfterMs }) {
      const claimedAt = now.toISOString();
      const item = { ...dropKey(claim.key, claim.eventId), type: 'drop', ...claim, claimedAt };
      const nowS = Math.floor(now.getTime() / 1000);
      let old: Record<string, { S?: string }> | undefined;
      try {
        await ddb.send(
          new PutCommand({
            TableName: table,
            Item: item,
            // TTL deletes lazily, so an expired marker counts as absent.
            ConditionExpression: 'attribute_not_exists(pk) OR batchId = :mine OR expiresAt < :nowS',
            ExpressionAttributeValues: { ':mine': claim.batchId, ':nowS': nowS },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { claimed: true };
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        // The old item comes back raw: the document client does not convert errors.
        old = err.Item as typeof old;
      }
      const owner = old?.batchId?.S ?? '';
      const ownerClaimedAt = old?.claimedAt?.S ?? '';
      if (!owner || !ownerClaimedAt || Date.parse(ownerClaimedAt) > now.getTime() - staleAfterMs)
        return { claimed: false, owner };
      // A planning that claimed the event but never created its batch has ended by now (its
      // invocation timed out or failed): its records come back in another window, which takes
      // the event over so that the file is not lost. The batch check and the marker's unchanged
      // claim make the take-over atomic.
      const outcome = await transact(
        ddb,
        [
          {
            ConditionCheck: {
              TableName: table,
              Key: batchKey(owner),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: table,
              Item: item,
              ConditionExpression: 'batchId = :owner AND claimedAt = :claimedAt',
              ExpressionAttributeValues: { ':owner': owner, ':claimedAt': ownerClaimedAt },
            },
          },
        ],
        retry,
      );
      return outcome.ok ? { claimed: true } : { claimed: false, owner };
    },

    async markPlanned(batchId, { workMessages, now }) {
      assertCount(workMessages, 'workMessages');
      return conditionalWrite(
        ddb.send(
          new UpdateCommand({
            TableName: table,
            Key: batchKey(batchId),
            UpdateExpression:
              'SET plannedAt = if_not_exists(plannedAt, :now), workMessages = if_not_exists(workMessages, :n)',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':now': now.toISOString(), ':n': workMessages },
          }),
        ),
      );
    },

    async finishBatch(batchId, now) {
      return conditionalWrite(
        ddb.send(
          new UpdateCommand({
            TableName: table,
            Key: batchKey(batchId),
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
