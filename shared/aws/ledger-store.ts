/**
 * The ledger table: one cost record per billed provider response, monthly roll-ups per team /
 * project / model / kind, and budgets per team and month. A billed response is written in one
 * transaction with everything it changes, keyed by the provider's response id, so it is in the
 * ledger exactly once whatever retries or redeliveries happen. Attempt records account for the
 * calls in between: written before each call, settled with its billed response. Budgets are in
 * ledger-budgets.ts, quality counters in ledger-quality.ts, the items themselves in
 * ledger-items.ts.
 */

import {
  DeleteCommand,
  GetCommand,
  type NativeAttributeValue,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  type AttemptRecord,
  type CostRecord,
  isoUtc,
  type LedgerStore,
  type Rollup,
  WARMUP_JOB_ID,
} from '../ports/ledger';
import { QUALITY_FIELDS, type QualityTotals } from '../quality/verdicts';
import { type Kind, LANES, type Lane } from '../types';
import {
  assertCount,
  conditionFailed,
  num,
  queryAll,
  readTotals,
  type TransactItem,
  transact,
} from './dynamo';
import { jobKey } from './jobs';
import { budgetMethods } from './ledger-budgets';
import {
  attemptKey,
  attemptsPk,
  checkMonth,
  checkRecord,
  type LedgerStoreOptions,
  type LedgerTables,
  recordItems,
  repriceItems,
  toAttempt,
  toRecord,
  unrecordedRecordOf,
} from './ledger-items';
import { recordQuality } from './ledger-quality';

export {
  attemptKey,
  attemptsPk,
  budgetKey,
  dailyRollupKey,
  type LedgerStoreOptions,
  recordKey,
  responseMarkerKey,
  rollupKey,
  unpricedMarkerKey,
  unrecordedRecordOf,
} from './ledger-items';

/** The quality counters of a roll-up item; absent ones read 0. */
function readQuality(item: Record<string, unknown>): QualityTotals {
  return Object.fromEntries(QUALITY_FIELDS.map((f) => [f, num(item, f)])) as QualityTotals;
}

/** A monthly or daily roll-up item as the domain sees it. */
function toRollup(item: Record<string, unknown>, month: string): Rollup {
  return {
    month,
    ...(typeof item.day === 'string' ? { day: item.day } : {}),
    team: item.team as string,
    project: item.project as string,
    model: item.model as string,
    kind: item.kind as Kind,
    lane: LANES.includes(item.lane as Lane) ? (item.lane as Lane) : 'primary',
    ...readTotals(item),
    ...readQuality(item),
    ...(item.unpriced === true ? { unpriced: true } : {}),
  };
}

const tablesOf = (o: LedgerStoreOptions): LedgerTables => ({
  ledgerTable: o.ledgerTable,
  jobsTable: o.jobsTable,
});

/** See LedgerStore.recordBilledResponse. */
async function recordBilledResponse(
  o: LedgerStoreOptions,
  { record, job, attempt, reserved }: Parameters<LedgerStore['recordBilledResponse']>[0],
): ReturnType<LedgerStore['recordBilledResponse']> {
  checkRecord(record);
  if (reserved) {
    assertCount(reserved.nanoUsd, 'reserved.nanoUsd');
    checkMonth(reserved.month);
    if (job) throw new RangeError('a job answer settles the job reservation, not a call one');
  }
  if (job) assertCount(job.reservedNanoUsd, 'reservedNanoUsd');
  if (job?.latencyMs !== undefined) assertCount(job.latencyMs, 'latencyMs');
  if (job?.reservedMonth !== undefined) checkMonth(job.reservedMonth);
  if (job && (record.jobId === WARMUP_JOB_ID || record.purpose !== 'job')) {
    throw new RangeError('only a job answer completes a job');
  }
  const t = tablesOf(o);
  // The attempt this response settles goes in the same transaction: it never outlives it.
  const settle: TransactItem[] = attempt
    ? [{ Delete: { TableName: o.ledgerTable, Key: attemptKey(attempt) } }]
    : [];
  const first = await transact(
    o.ddb,
    [...recordItems(t, record, job, reserved), ...settle],
    o.retry,
  );
  if (first.ok) return { duplicate: false, jobUpdated: job !== undefined };
  if (conditionFailed(first.reasons, 0) || conditionFailed(first.reasons, 1)) {
    return { duplicate: true, jobUpdated: false };
  }
  // Only the job's lease condition can remain: another worker owns the job now. The tokens
  // were billed all the same, so record them; the new owner settles the reservation.
  const second = await transact(o.ddb, [...recordItems(t, record, undefined), ...settle], o.retry);
  if (second.ok) return { duplicate: false, jobUpdated: false };
  return { duplicate: true, jobUpdated: false };
}

/** See LedgerStore.repriceRecord. */
async function repriceRecord(
  o: LedgerStoreOptions,
  record: CostRecord,
  priced: Parameters<LedgerStore['repriceRecord']>[1],
): Promise<boolean> {
  if (!record.unpriced) throw new RangeError(`record ${record.responseId} is not unpriced`);
  assertCount(priced.costNanoUsd, 'costNanoUsd');
  assertCount(priced.counterfactualNanoUsd, 'counterfactualNanoUsd');
  if (!priced.price) throw new RangeError('a repriced record needs the row that priced it');
  const out = await transact(o.ddb, repriceItems(tablesOf(o), record, priced), o.retry);
  if (out.ok) {
    await repriceJob(o, record, priced.costNanoUsd);
    return true;
  }
  if (conditionFailed(out.reasons, 0)) return false;
  throw new Error(`reprice of ${record.responseId} was cancelled: ${JSON.stringify(out.reasons)}`);
}

/**
 * The job a repriced answer completed gets its cost (it had none while unpriced), if that
 * answer is still the job's: every figure derived from job costs reads the priced one.
 */
async function repriceJob(
  { ddb, jobsTable }: LedgerStoreOptions,
  record: CostRecord,
  costNanoUsd: number,
): Promise<void> {
  if (record.purpose !== 'job' || record.estimated || record.jobId === WARMUP_JOB_ID) return;
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: jobsTable,
        Key: jobKey(record, record.jobId),
        UpdateExpression: 'SET costNanoUsd = :cost REMOVE costUnpriced',
        ConditionExpression: 'responseId = :responseId',
        ExpressionAttributeValues: { ':cost': costNanoUsd, ':responseId': record.responseId },
      }),
    );
  } catch (err) {
    if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
  }
}

/** Attempt records: written before a call, closed by its answer or reconciled as an estimate. */
function attemptMethods(
  o: LedgerStoreOptions,
): Pick<LedgerStore, 'recordAttempt' | 'closeAttempt' | 'openAttempts' | 'reconcileAttempt'> {
  const { ddb, ledgerTable } = o;
  return {
    async recordAttempt(attempt) {
      assertCount(attempt.estimatedCostNanoUsd, 'estimatedCostNanoUsd');
      assertCount(attempt.estimatedCounterfactualNanoUsd, 'estimatedCounterfactualNanoUsd');
      isoUtc(attempt.sentAt);
      await ddb.send(
        new PutCommand({
          TableName: ledgerTable,
          Item: { ...attemptKey(attempt), type: 'attempt', ...attempt },
        }),
      );
    },
    async closeAttempt(ref) {
      await ddb.send(new DeleteCommand({ TableName: ledgerTable, Key: attemptKey(ref) }));
    },
    async openAttempts(batch, jobId): Promise<AttemptRecord[]> {
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
    async reconcileAttempt(attempt, reserved) {
      const record = unrecordedRecordOf(attempt);
      checkRecord(record);
      const out = await transact(
        ddb,
        [
          ...recordItems(tablesOf(o), record, undefined, reserved ?? attempt.reserved),
          {
            Delete: {
              TableName: ledgerTable,
              Key: attemptKey(attempt),
              ConditionExpression: 'attribute_exists(pk)',
            },
          },
        ],
        o.retry,
      );
      return out.ok;
    },
  };
}

/** Reads of records and roll-ups, by Query on their partitions (never Scan). */
function readMethods(
  o: LedgerStoreOptions,
): Pick<LedgerStore, 'rollups' | 'dailyRollups' | 'records' | 'recordsOfDay' | 'unpricedRecords'> {
  const { ddb, ledgerTable } = o;
  const partition = (pk: string, consistent = false) =>
    queryAll(ddb, {
      TableName: ledgerTable,
      ...(consistent ? { ConsistentRead: true } : {}),
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
    });
  return {
    async rollups(month) {
      checkMonth(month);
      return (await partition(`ROLLUP#${month}`)).map((item) => toRollup(item, month));
    },
    async dailyRollups(month) {
      checkMonth(month);
      return (await partition(`ROLLUPDAY#${month}`)).map((item) => toRollup(item, month));
    },
    async recordsOfDay(team, day) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`not a day: ${day}`);
      // Record keys sort by sentAt: the day is the range from its midnight to the next one's.
      const items = await queryAll(ddb, {
        TableName: ledgerTable,
        ConsistentRead: true,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: {
          ':pk': `REC#${team}#${day.slice(0, 7)}`,
          ':from': `${day}T`,
          ':to': `${day}T\uffff`,
        },
      });
      return items.map(toRecord);
    },
    async records(team, month) {
      checkMonth(month);
      return (await partition(`REC#${team}#${month}`)).map(toRecord);
    },
    async unpricedRecords(month) {
      checkMonth(month);
      const records = [];
      for (const m of await partition(`UNPRICED#${month}`)) {
        const key: Record<string, NativeAttributeValue> = { pk: m.recordPk, sk: m.recordSk };
        const res = await ddb.send(
          new GetCommand({ TableName: ledgerTable, Key: key, ConsistentRead: true }),
        );
        if (res.Item?.unpriced) records.push(toRecord(res.Item));
      }
      return records;
    },
  };
}

/** A LedgerStore over the ledger table (and the jobs table it settles into). */
export function createLedgerStore(options: LedgerStoreOptions): LedgerStore {
  return {
    ...budgetMethods(options),
    ...attemptMethods(options),
    ...readMethods(options),
    recordBilledResponse: (input) => recordBilledResponse(options, input),
    recordQuality: (input) => recordQuality(options, input),
    repriceRecord: (record, priced) => repriceRecord(options, record, priced),
  };
}
