/**
 * Leases of jobs: the conditional writes that let one worker at a time hold a job, give it back,
 * record its budget reservation and end it, counted once on its batch in the same transaction.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type {
  BatchesStore,
  ClaimRefusal,
  ClaimResult,
  EndState,
  JobEnd,
  JobItem,
} from '../../ports/jobs';
import type { BatchRef } from '../../types';
import {
  assertCount,
  type CancelledItem,
  conditionalWrite,
  conditionFailed,
  names,
  type TransactItem,
  transact,
} from '../dynamo';
import { toJob } from './items';
import { batchKey, jobKey } from './keys';
import type { JobsTable } from './table';

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

const batchIsOpen = (table: string, batch: BatchRef): TransactItem => ({
  ConditionCheck: {
    TableName: table,
    Key: batchKey(batch),
    ConditionExpression: '#status = :open',
    ExpressionAttributeNames: names('status'),
    ExpressionAttributeValues: { ':open': 'open' },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  },
});

const countEnd = (table: string, batch: BatchRef, state: EndState): TransactItem => ({
  Update: {
    TableName: table,
    Key: batchKey(batch),
    UpdateExpression: 'ADD #c :one, #ended :one',
    ExpressionAttributeNames: { '#c': state, '#ended': 'ended' },
    ExpressionAttributeValues: { ':one': 1 },
  },
});

/** See BatchesStore.getJob. */
export async function getJob(
  { ddb, table }: JobsTable,
  batch: BatchRef,
  jobId: string,
): Promise<JobItem | undefined> {
  const res = await ddb.send(
    new GetCommand({ TableName: table, Key: jobKey(batch, jobId), ConsistentRead: true }),
  );
  return res.Item ? toJob(res.Item) : undefined;
}

/** See BatchesStore.endJob. */
export async function endJob(
  t: JobsTable,
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
    t.ddb,
    [
      {
        Update: {
          TableName: t.table,
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
      countEnd(t.table, batch, end.state),
    ],
    t.retry,
  );
  return outcome.ok;
}

/** See BatchesStore.claimJob. */
export async function claimJob(
  t: JobsTable,
  batch: BatchRef,
  jobId: string,
  owner: string,
  leaseMs: number,
  now: Date,
): Promise<ClaimResult> {
  const nowMs = now.getTime();
  const outcome = await transact(
    t.ddb,
    [
      batchIsOpen(t.table, batch),
      {
        Update: {
          TableName: t.table,
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
    t.retry,
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
  const job = await getJob(t, batch, jobId);
  // Only this owner can change a fresh lease; a missing item here means it was deleted.
  return job ? { job } : { job: undefined, reason: 'missing' };
}

/** See BatchesStore.releaseJob. */
export async function releaseJob(
  t: JobsTable,
  batch: BatchRef,
  jobId: string,
  owner: string,
  now: Date,
  options: { uncounted?: boolean } = {},
): Promise<'released' | 'cancelled' | 'not_owner'> {
  // A pending job holds no reservation: the caller gave it back to the budget.
  const outcome = await transact(
    t.ddb,
    [
      batchIsOpen(t.table, batch),
      {
        Update: {
          TableName: t.table,
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
    t.retry,
  );
  if (outcome.ok) return 'released';
  if (conditionFailed(outcome.reasons, 1)) return 'not_owner';
  // The batch was cancelled while the job ran: cancel the job rather than leave it pending.
  const ended = await endJob(t, batch, jobId, { state: 'cancelled' }, { now, owner });
  return ended ? 'cancelled' : 'not_owner';
}

/** See BatchesStore.setReservation. */
export async function setReservation(
  { ddb, table }: JobsTable,
  batch: BatchRef,
  jobId: string,
  owner: string,
  reservation: { nanoUsd: number; month: string },
): Promise<boolean> {
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
}

/** The lease half of a BatchesStore. */
export function leaseMethods(
  t: JobsTable,
): Pick<BatchesStore, 'claimJob' | 'releaseJob' | 'setReservation' | 'endJob' | 'getJob'> {
  return {
    getJob: (batch, jobId) => getJob(t, batch, jobId),
    endJob: (batch, jobId, end, opts) => endJob(t, batch, jobId, end, opts),
    claimJob: (batch, jobId, owner, leaseMs, now) => claimJob(t, batch, jobId, owner, leaseMs, now),
    releaseJob: (batch, jobId, owner, now, options) =>
      releaseJob(t, batch, jobId, owner, now, options),
    setReservation: (batch, jobId, owner, reservation) =>
      setReservation(t, batch, jobId, owner, reservation),
  };
}
