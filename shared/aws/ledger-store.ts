/**
 * The ledger table: one cost record per billed provider response, monthly roll-ups per team /
 * project / model / kind, and budgets per team and month. A billed response is written in one
 * transaction with everything it changes, keyed by the provider's response id, so it is in the
 * ledger exactly once whatever retries or redeliveries happen. Attempt records account for the
 * calls in between: written before each call, settled with its billed response.
 */

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  type Budget,
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
  type ConflictRetryOptions,
  conditionFailed,
  names,
  num,
  queryAll,
  readTotals,
  type TransactItem,
  transact,
} from './dynamo';
import { jobKey } from './jobs';
import {
  attemptKey,
  attemptsPk,
  budgetKey,
  checkRecord,
  ledgerItems,
  qualityMarkerKey,
  toAttempt,
  toRecord,
  unrecordedRecordOf,
} from './ledger-items';
import { dailyQualityDeltas, type QualityMarkerRow } from './quality-days';

export {
  attemptKey,
  attemptsPk,
  budgetKey,
  dailyRollupKey,
  recordKey,
  responseMarkerKey,
  rollupKey,
  unpricedMarkerKey,
  unrecordedRecordOf,
} from './ledger-items';

export interface LedgerStoreOptions {
  ddb: DynamoDBDocumentClient;
  /** Physical name of the ledger table. */
  ledgerTable: string;
  /** Physical name of the jobs table, whose job and batch items a billed response updates. */
  jobsTable: string;
  retry?: ConflictRetryOptions;
}

// Reservations re-read the cap when it changed between the read and the conditional write.
const RESERVE_ATTEMPTS = 5;

// Items returned with a failed condition may come back marshalled ({ N: '5' }) or plain.
function rawNumber(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  if (value && typeof value === 'object' && 'N' in value) return String(value.N);
  return undefined;
}

function checkMonth(month: string): void {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new RangeError(`not a month: ${month}`);
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

/** A LedgerStore over the ledger table (and the jobs table it settles into). */
export function createLedgerStore(options: LedgerStoreOptions): LedgerStore {
  const { ddb, ledgerTable, jobsTable, retry } = options;

  const { budgetUpdate, recordItems, repriceItems, rollupUpdate } = ledgerItems(
    ledgerTable,
    jobsTable,
  );

  /** The daily quality roll-up updates of a batch's re-recorded verdicts (quality-days.ts). */
  const dailyQualityUpdates = (
    team: string,
    was: QualityMarkerRow | undefined,
    now: (QualityMarkerRow & { day: string }) | undefined,
  ): TransactItem[] =>
    dailyQualityDeltas(was, now).flatMap(({ day, row, delta }) =>
      rollupUpdate(
        { team, ...row, month: day.slice(0, 7), day },
        delta,
        false,
        day.slice(0, 7),
        'daily',
      ),
    );

  /**
   * The job a repriced answer completed gets its cost (it had none while unpriced), if that
   * answer is still the job's: every figure derived from job costs reads the priced one.
   */
  async function repriceJob(record: CostRecord, costNanoUsd: number): Promise<void> {
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

    async recordBilledResponse({ record, job, attempt, reserved }) {
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
      // The attempt this response settles goes in the same transaction: it never outlives it.
      const settle: TransactItem[] = attempt
        ? [{ Delete: { TableName: ledgerTable, Key: attemptKey(attempt) } }]
        : [];
      const first = await transact(ddb, [...recordItems(record, job, reserved), ...settle], retry);
      if (first.ok) return { duplicate: false, jobUpdated: job !== undefined };
      if (conditionFailed(first.reasons, 0) || conditionFailed(first.reasons, 1)) {
        return { duplicate: true, jobUpdated: false };
      }
      // Only the job's lease condition can remain: another worker owns the job now. The tokens
      // were billed all the same, so record them; the new owner settles the reservation.
      const second = await transact(ddb, [...recordItems(record, undefined), ...settle], retry);
      if (second.ok) return { duplicate: false, jobUpdated: false };
      return { duplicate: true, jobUpdated: false };
    },

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

    async reconcileAttempt(attempt, reserved) {
      const record = unrecordedRecordOf(attempt);
      checkRecord(record);
      const out = await transact(
        ddb,
        [
          ...recordItems(record, undefined, reserved ?? attempt.reserved),
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
      return items.map((item) => toRollup(item, month));
    },

    async dailyRollups(month) {
      checkMonth(month);
      const items = await queryAll(ddb, {
        TableName: ledgerTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `ROLLUPDAY#${month}` },
      });
      return items.map((item) => toRollup(item, month));
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
      const items = await queryAll(ddb, {
        TableName: ledgerTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `REC#${team}#${month}` },
      });
      return items.map(toRecord);
    },

    async unpricedRecords(month) {
      checkMonth(month);
      const markers = await queryAll(ddb, {
        TableName: ledgerTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `UNPRICED#${month}` },
      });
      const records = [];
      for (const m of markers) {
        const res = await ddb.send(
          new GetCommand({
            TableName: ledgerTable,
            Key: { pk: m.recordPk, sk: m.recordSk },
            ConsistentRead: true,
          }),
        );
        if (res.Item?.unpriced) records.push(toRecord(res.Item));
      }
      return records;
    },

    async recordQuality({ batch, month, day, rows }) {
      checkMonth(month);
      if (day !== undefined && !(/^\d{4}-\d{2}-\d{2}$/.test(day) && day.startsWith(month)))
        throw new RangeError(`not a day of ${month}: ${day}`);
      const rowKey = (r: { project: string; model: string; kind: string; lane: string }) =>
        [r.project, r.model, r.kind, r.lane].join('#');
      const fresh = new Map(rows.map((r) => [rowKey(r), r]));
      for (const r of rows)
        for (const [field, value] of Object.entries(r.quality))
          assertCount(value as number, `quality.${field}`);
      for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
        const got = await ddb.send(
          new GetCommand({
            TableName: ledgerTable,
            Key: qualityMarkerKey(batch),
            ConsistentRead: true,
          }),
        );
        const version = num(got.Item ?? {}, 'version');
        const before = new Map(
          ((got.Item?.rows as QualityMarkerRow[] | undefined) ?? []).map((r) => [rowKey(r), r]),
        );
        // What changes in each roll-up: the new counters minus those recorded before.
        const updates: TransactItem[] = [];
        for (const key of new Set([...before.keys(), ...fresh.keys()])) {
          const now = fresh.get(key);
          const was = before.get(key);
          const row = (now ?? was) as QualityMarkerRow;
          const delta: Record<string, number> = {};
          for (const f of QUALITY_FIELDS) {
            const d = (now?.quality[f] ?? 0) - (was?.quality[f] ?? 0);
            if (d !== 0) delta[f] = d;
          }
          if (Object.keys(delta).length === 0) continue;
          updates.push(
            ...rollupUpdate(
              { team: batch.team, ...row, month },
              delta,
              false,
              was?.month ?? month,
              'monthly',
            ),
            ...dailyQualityUpdates(batch.team, was, now && day ? { ...now, day } : undefined),
          );
        }
        if (updates.length === 0) return { changed: false };
        const stored: QualityMarkerRow[] = rows.map((r) => ({
          ...r,
          month,
          ...(day ? { day } : {}),
        }));
        const out = await transact(
          ddb,
          [
            {
              Put: {
                TableName: ledgerTable,
                Item: {
                  ...qualityMarkerKey(batch),
                  type: 'quality',
                  rows: stored,
                  version: version + 1,
                },
                ConditionExpression:
                  version === 0 ? 'attribute_not_exists(pk)' : 'version = :version',
                ...(version === 0 ? {} : { ExpressionAttributeValues: { ':version': version } }),
              },
            },
            ...updates,
          ],
          retry,
        );
        if (out.ok) return { changed: true };
        if (!conditionFailed(out.reasons, 0))
          throw new Error(`recording quality of ${batch.team}/${batch.batchId} was cancelled`);
      }
      throw new Error(`recording quality of ${batch.team}/${batch.batchId} kept conflicting`);
    },

    async repriceRecord(record, priced) {
      if (!record.unpriced) throw new RangeError(`record ${record.responseId} is not unpriced`);
      assertCount(priced.costNanoUsd, 'costNanoUsd');
      assertCount(priced.counterfactualNanoUsd, 'counterfactualNanoUsd');
      if (!priced.price) throw new RangeError('a repriced record needs the row that priced it');
      const out = await transact(ddb, repriceItems(record, priced), retry);
      if (out.ok) {
        await repriceJob(record, priced.costNanoUsd);
        return true;
      }
      if (conditionFailed(out.reasons, 0)) return false;
      throw new Error(
        `reprice of ${record.responseId} was cancelled: ${JSON.stringify(out.reasons)}`,
      );
    },
  };
}

/** The quality counters of a roll-up item; absent ones read 0. */
function readQuality(item: Record<string, unknown>): QualityTotals {
  return Object.fromEntries(QUALITY_FIELDS.map((f) => [f, num(item, f)])) as QualityTotals;
}
