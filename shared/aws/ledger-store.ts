/**
 * The ledger table: one cost record per billed provider response, monthly roll-ups per team /
 * project / model / kind, and budgets per team and month. A billed response is written in one
 * transaction with everything it changes, keyed by the provider's response id, so it is in the
 * ledger exactly once whatever retries or redeliveries happen.
 */

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  type AttemptRecord,
  type AttemptRef,
  type Budget,
  type CompletedJob,
  type CostRecord,
  isoUtc,
  type LedgerStore,
  monthOf,
  WARMUP_JOB_ID,
} from '../ports/ledger';
import { type Totals, totalsOfResponse } from '../totals';
import type { BatchRef, Kind, Usage } from '../types';
import {
  assertCount,
  type ConflictRetryOptions,
  conditionFailed,
  names,
  num,
  queryAll,
  readTotals,
  type TransactItem,
  transact,
} from './dynamo';
import { batchKey, jobKey } from './jobs';

export interface LedgerStoreOptions {
  ddb: DynamoDBDocumentClient;
  /** Physical name of the ledger table. */
  ledgerTable: string;
  /** Physical name of the jobs table, whose job and batch items a billed response updates. */
  jobsTable: string;
  retry?: ConflictRetryOptions;
}

/** Key of a cost record. */
export function recordKey(record: Pick<CostRecord, 'team' | 'created' | 'responseId'>): {
  pk: string;
  sk: string;
} {
  return {
    pk: `REC#${record.team}#${monthOf(record.created)}`,
    sk: `${isoUtc(record.created)}#${record.responseId}`,
  };
}

/** Key of the marker that makes a response id unique in the ledger. */
export function responseMarkerKey(responseId: string): { pk: string; sk: string } {
  return { pk: `RESP#${responseId}`, sk: 'RESP' };
}

/** Key of a monthly roll-up. */
export function rollupKey(
  month: string,
  r: Pick<CostRecord, 'team' | 'project' | 'model' | 'kind'>,
): { pk: string; sk: string } {
  return { pk: `ROLLUP#${month}`, sk: `${r.team}#${r.project}#${r.model}#${r.kind}` };
}

/** Partition of a batch's open attempts; a batch id is unique only within its team. */
export function attemptsPk(batch: BatchRef): string {
  return `ATTEMPT#${batch.team}#${batch.batchId}`;
}

/** Key of an open attempt: queried by batch, and by job within it. */
export function attemptKey(ref: AttemptRef): { pk: string; sk: string } {
  return { pk: attemptsPk(ref), sk: `${ref.jobId}#${ref.attemptId}` };
}

/** The estimated cost record an attempt left open becomes when it is reconciled. */
export function unrecordedRecordOf(attempt: AttemptRecord): CostRecord {
  return {
    responseId: `unrecorded:${attempt.attemptId}`,
    team: attempt.team,
    project: attempt.project,
    batchId: attempt.batchId,
    jobId: attempt.jobId,
    model: attempt.model,
    kind: attempt.kind,
    endpoint: 'unknown',
    usage: attempt.estimatedUsage,
    costNanoUsd: attempt.estimatedCostNanoUsd,
    counterfactualNanoUsd: attempt.estimatedCounterfactualNanoUsd,
    referenceModel: attempt.referenceModel,
    created: attempt.sentAt,
    estimated: 'billed_unrecorded',
  };
}

/** Key of a team's budget for a month. */
export function budgetKey(team: string, month: string): { pk: string; sk: string } {
  return { pk: `BUDGET#${team}`, sk: month };
}

// Reservations re-read the cap when it changed between the read and the conditional write.
const RESERVE_ATTEMPTS = 5;

function checkRecord(record: CostRecord): void {
  assertCount(record.costNanoUsd, 'costNanoUsd');
  assertCount(record.counterfactualNanoUsd, 'counterfactualNanoUsd');
  for (const [field, value] of Object.entries(record.usage)) assertCount(value, `usage.${field}`);
  if (!record.responseId) throw new RangeError('a cost record needs the provider response id');
  monthOf(record.created);
}

// Items returned with a failed condition may come back marshalled ({ N: '5' }) or plain.
function rawNumber(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  if (value && typeof value === 'object' && 'N' in value) return String(value.N);
  return undefined;
}

function checkMonth(month: string): void {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new RangeError(`not a month: ${month}`);
}

function totalsOf(record: CostRecord): Totals {
  return totalsOfResponse(
    record.usage,
    record.costNanoUsd,
    record.counterfactualNanoUsd,
    record.estimated !== undefined,
  );
}

/** `ADD #a :a, #b :b` over a set of counters, with its names and values. */
function addAll(counters: Record<string, number>): {
  expression: string;
  names: Record<string, string>;
  values: Record<string, number>;
} {
  const keys = Object.keys(counters);
  return {
    expression: `ADD ${keys.map((k) => `#${k} :${k}`).join(', ')}`,
    names: names(...keys),
    values: Object.fromEntries(keys.map((k) => [`:${k}`, counters[k] as number])),
  };
}

function toRecord(item: Record<string, unknown>): CostRecord {
  return {
    responseId: item.responseId as string,
    team: item.team as string,
    project: item.project as string,
    batchId: item.batchId as string,
    jobId: item.jobId as string,
    model: item.model as string,
    kind: item.kind as Kind,
    endpoint: item.endpoint as string,
    usage: item.usage as Usage,
    costNanoUsd: num(item, 'costNanoUsd'),
    counterfactualNanoUsd: num(item, 'counterfactualNanoUsd'),
    referenceModel: item.referenceModel as string,
    created: item.created as string,
    ...(item.estimated === 'billed_unrecorded' ? { estimated: 'billed_unrecorded' as const } : {}),
  };
}

function toAttempt(item: Record<string, unknown>): AttemptRecord {
  const { pk: _pk, sk: _sk, type: _type, ...attempt } = item;
  return attempt as unknown as AttemptRecord;
}

/** A LedgerStore over the ledger table (and the jobs table it settles into). */
export function createLedgerStore(options: LedgerStoreOptions): LedgerStore {
  const { ddb, ledgerTable, jobsTable, retry } = options;

  /** The update that adds `counters` to a team's budget for a month, creating the item. */
  function budgetUpdate(team: string, month: string, counters: Record<string, number>) {
    const add = addAll(counters);
    return {
      TableName: ledgerTable,
      Key: budgetKey(team, month),
      UpdateExpression: `SET #team = :team, #month = :month ${add.expression}`,
      ExpressionAttributeNames: { ...add.names, ...names('team', 'month') },
      ExpressionAttributeValues: { ...add.values, ':team': team, ':month': month },
    } satisfies TransactItem['Update'];
  }

  function writeItems(record: CostRecord, job: CompletedJob | undefined): TransactItem[] {
    const month = monthOf(record.created);
    const created = isoUtc(record.created);
    const totals = totalsOf(record);
    const rollup = addAll(totals);
    const reserved = job?.reservedNanoUsd ?? 0;
    const reservedMonth = job?.reservedMonth ?? month;
    const warmup = record.jobId === WARMUP_JOB_ID;
    const key = recordKey(record);

    const items: TransactItem[] = [
      {
        Put: {
          TableName: ledgerTable,
          Item: { ...key, type: 'record', ...record, created, month },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: ledgerTable,
          Item: {
            ...responseMarkerKey(record.responseId),
            type: 'marker',
            recordPk: key.pk,
            recordSk: key.sk,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Update: {
          TableName: ledgerTable,
          Key: rollupKey(month, record),
          UpdateExpression: `SET #team = :team, #project = :project, #model = :model, #kind = :kind, #month = :month ${rollup.expression}`,
          ExpressionAttributeNames: {
            ...rollup.names,
            ...names('team', 'project', 'model', 'kind', 'month'),
          },
          ExpressionAttributeValues: {
            ...rollup.values,
            ':team': record.team,
            ':project': record.project,
            ':model': record.model,
            ':kind': record.kind,
            ':month': month,
          },
        },
      },
    ];

    // The reservation is returned where it was made; the spend lands in the record's month.
    if (reservedMonth === month) {
      items.push({
        Update: budgetUpdate(record.team, month, {
          committedNanoUsd: record.costNanoUsd - reserved,
          spentNanoUsd: record.costNanoUsd,
        }),
      });
    } else {
      items.push(
        {
          Update: budgetUpdate(record.team, month, {
            committedNanoUsd: record.costNanoUsd,
            spentNanoUsd: record.costNanoUsd,
          }),
        },
        { Update: budgetUpdate(record.team, reservedMonth, { committedNanoUsd: -reserved }) },
      );
    }

    const batchCounters: Record<string, number> = { ...totals };
    if (warmup) {
      batchCounters.warmupRequests = 1;
      batchCounters.warmupCostNanoUsd = record.costNanoUsd;
    }
    if (job) {
      batchCounters.succeeded = 1;
      batchCounters.ended = 1;
      items.push({
        Update: {
          TableName: jobsTable,
          Key: jobKey(record, record.jobId),
          UpdateExpression:
            'SET #state = :succeeded, responseId = :responseId, #usage = :usage, costNanoUsd = :cost, outputKey = :outputKey, updatedAt = :now REMOVE #error, leaseOwner, leaseUntil',
          ConditionExpression: '#state = :running AND leaseOwner = :owner',
          ExpressionAttributeNames: names('state', 'error', 'usage'),
          ExpressionAttributeValues: {
            ':succeeded': 'succeeded',
            ':running': 'running',
            ':owner': job.owner,
            ':responseId': record.responseId,
            ':usage': record.usage,
            ':cost': record.costNanoUsd,
            ':outputKey': job.outputKey,
            ':now': created,
          },
        },
      });
    }
    const batch = addAll(batchCounters);
    items.push({
      Update: {
        TableName: jobsTable,
        Key: batchKey(record),
        UpdateExpression: batch.expression,
        ExpressionAttributeNames: batch.names,
        ExpressionAttributeValues: batch.values,
      },
    });
    return items;
  }

  async function budget(team: string, month: string): Promise<Budget | undefined> {
    const res = await ddb.send(
      new GetCommand({ TableName: ledgerTable, Key: budgetKey(team, month), ConsistentRead: true }),
    );
    const item = res.Item;
    if (!item) return undefined;
    return {
      team,
      month,
      ...(typeof item.capNanoUsd === 'number' ? { capNanoUsd: item.capNanoUsd } : {}),
      committedNanoUsd: num(item, 'committedNanoUsd'),
      spentNanoUsd: num(item, 'spentNanoUsd'),
    };
  }

  return {
    budget,

    async recordBilledResponse({ record, job, attempt }) {
      checkRecord(record);
      if (job) assertCount(job.reservedNanoUsd, 'reservedNanoUsd');
      if (job?.reservedMonth !== undefined) checkMonth(job.reservedMonth);
      if (job && record.jobId === WARMUP_JOB_ID) {
        throw new RangeError('a warm-up response completes no job');
      }
      const settle: TransactItem[] = attempt
        ? [
            {
              Delete: {
                TableName: ledgerTable,
                Key: attemptKey(attempt),
              },
            },
          ]
        : [];
      const first = await transact(ddb, [...writeItems(record, job), ...settle], retry);
      if (first.ok) return { duplicate: false, jobUpdated: job !== undefined };
      if (conditionFailed(first.reasons, 0) || conditionFailed(first.reasons, 1)) {
        return { duplicate: true, jobUpdated: false };
      }
      // Only the job's lease condition can remain: another worker owns the job now. The tokens
      // were billed all the same, so record them; the new owner settles the reservation.
      const second = await transact(ddb, [...writeItems(record, undefined), ...settle], retry);
      if (second.ok) return { duplicate: false, jobUpdated: false };
      return { duplicate: true, jobUpdated: false };
    },

    async recordAttempt(attempt) {
      assertCount(attempt.estimatedCostNanoUsd, 'estimatedCostNanoUsd');
      isoUtc(attempt.sentAt);
      await ddb.send(
        new PutCommand({
          TableName: ledgerTable,
          Item: {
            ...attemptKey(attempt),
            type: 'attempt',
            ...attempt,
          },
        }),
      );
    },

    async closeAttempt(ref) {
      await ddb.send(new DeleteCommand({ TableName: ledgerTable, Key: attemptKey(ref) }));
    },

    async openAttempts(batch, jobId) {
      const items = await queryAll(ddb, {
        TableName: ledgerTable,
        ConsistentRead: true,
        KeyConditionExpression:
          jobId === undefined ? 'pk = :pk' : 'pk = :pk AND begins_with(sk, :job)',
        ExpressionAttributeValues: {
          ':pk': attemptsPk(batch),
          ...(jobId === undefined ? {} : { ':job': `${jobId}#` }),
        },
      });
      return items.map(toAttempt).sort((a, b) => a.sentAt.localeCompare(b.sentAt));
    },

    async reconcileAttempt(attempt) {
      const record = unrecordedRecordOf(attempt);
      checkRecord(record);
      const out = await transact(
        ddb,
        [
          ...writeItems(record, undefined),
          {
            Delete: {
              TableName: ledgerTable,
              Key: attemptKey(attempt),
              ConditionExpression: 'attribute_exists(pk)',
            },
          },
        ],
        retry,
      );
      return out.ok;
    },

    async setBudget(team, month, capNanoUsd) {
      checkMonth(month);
      assertCount(capNanoUsd, 'capNanoUsd');
      await ddb.send(
        new UpdateCommand({
          TableName: ledgerTable,
          Key: budgetKey(team, month),
          UpdateExpression:
            'SET #team = :team, #month = :month, capNanoUsd = :cap, committedNanoUsd = if_not_exists(committedNanoUsd, :zero), spentNanoUsd = if_not_exists(spentNanoUsd, :zero)',
          ExpressionAttributeNames: names('team', 'month'),
          ExpressionAttributeValues: {
            ':team': team,
            ':month': month,
            ':cap': capNanoUsd,
            ':zero': 0,
          },
        }),
      );
    },

    async reserve(team, month, estimateNanoUsd) {
      checkMonth(month);
      assertCount(estimateNanoUsd, 'estimateNanoUsd');
      for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
        const current = await budget(team, month);
        const cap = current?.capNanoUsd;
        if (cap !== undefined && estimateNanoUsd > cap) return false;
        // With a cap, the write holds only if the cap is still the one read and committed is at
        // most cap - estimate: DynamoDB conditions compare but cannot add.
        const condition =
          cap === undefined
            ? 'attribute_not_exists(capNanoUsd)'
            : 'capNanoUsd = :cap AND (attribute_not_exists(committedNanoUsd) OR committedNanoUsd <= :limit)';
        const add = budgetUpdate(team, month, { committedNanoUsd: estimateNanoUsd });
        try {
          await ddb.send(
            new UpdateCommand({
              ...add,
              ConditionExpression: condition,
              ExpressionAttributeValues: {
                ...add.ExpressionAttributeValues,
                ...(cap === undefined ? {} : { ':cap': cap, ':limit': cap - estimateNanoUsd }),
              },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          );
          return true;
        } catch (err) {
          if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
          const capNow = rawNumber((err as { Item?: Record<string, unknown> }).Item?.capNanoUsd);
          // Same cap: the budget is spent. Otherwise the cap changed under us: read again.
          if (cap !== undefined && capNow === String(cap)) return false;
        }
      }
      return false;
    },

    async release(team, month, nanoUsd) {
      checkMonth(month);
      assertCount(nanoUsd, 'nanoUsd');
      await ddb.send(new UpdateCommand(budgetUpdate(team, month, { committedNanoUsd: -nanoUsd })));
    },

    async rollups(month) {
      checkMonth(month);
      const items = await queryAll(ddb, {
        TableName: ledgerTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `ROLLUP#${month}` },
      });
      return items.map((item) => ({
        month,
        team: item.team as string,
        project: item.project as string,
        model: item.model as string,
        kind: item.kind as Kind,
        ...readTotals(item),
      }));
    },

    async records(team, month) {
      checkMonth(month);
      const items = await queryAll(ddb, {
        TableName: ledgerTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `REC#${team}#${month}` },
      });
      return items.map(toRecord);
    },
  };
}
