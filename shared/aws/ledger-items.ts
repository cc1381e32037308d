/**
 * The ledger table's items and the transactions that write them: keys, the items a billed
 * response writes (priced or unpriced), and the items a reprice writes. The store
 * (ledger-store.ts) runs them; keeping them here keeps each file readable.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  type AttemptRecord,
  type AttemptRef,
  type CallReservation,
  type CompletedJob,
  type CostRecord,
  isoUtc,
  recordDay,
  recordMonth,
  WARMUP_JOB_ID,
} from '../ports/ledger';
import { type Totals, totalsOfAwsLine, totalsOfResponse } from '../totals';
import type { BatchRef } from '../types';
import type { ConflictRetryOptions } from './dynamo';
import { assertCount, names, type TransactItem } from './dynamo';
import { batchKey, jobKey } from './jobs';

/** Key of a cost record: the team's month of `sentAt`, sorted by `sentAt`. */
export function recordKey(record: Pick<CostRecord, 'team' | 'sentAt' | 'responseId'>): {
  pk: string;
  sk: string;
} {
  return {
    pk: `REC#${record.team}#${recordMonth(record)}`,
    sk: `${isoUtc(record.sentAt)}#${record.responseId}`,
  };
}

/** Key of the marker that makes a response id unique in the ledger. */
export function responseMarkerKey(responseId: string): { pk: string; sk: string } {
  return { pk: `RESP#${responseId}`, sk: 'RESP' };
}

/** Key of the marker that lists an unpriced record under its month, for `reprice`. */
export function unpricedMarkerKey(record: Pick<CostRecord, 'team' | 'sentAt' | 'responseId'>): {
  pk: string;
  sk: string;
} {
  return { pk: `UNPRICED#${recordMonth(record)}`, sk: `${record.team}#${recordKey(record).sk}` };
}

/**
 * Key of a monthly roll-up; unpriced records roll up apart, as requests and tokens only, and so
 * do repairs and shadow runs (their lane), so that chargeback can tell them apart. The primary
 * lane keeps the key it always had.
 */
export function rollupKey(
  month: string,
  r: Pick<CostRecord, 'team' | 'project' | 'model' | 'kind' | 'lane'>,
  unpriced = false,
): { pk: string; sk: string } {
  return { pk: `ROLLUP#${month}`, sk: rollupSortKey(r, unpriced) };
}

/** A roll-up's group in its sort key: team, project, model, kind, then lane and unpriced. */
function rollupSortKey(
  r: Pick<CostRecord, 'team' | 'project' | 'model' | 'kind' | 'lane'>,
  unpriced: boolean,
): string {
  const lane = r.lane && r.lane !== 'primary' ? `#${r.lane}` : '';
  const sk = `${r.team}#${r.project}#${r.model}#${r.kind}${lane}`;
  return unpriced ? `${sk}#unpriced` : sk;
}

/**
 * Key of a daily roll-up: one partition per month (one Query reads a month's days), sorted by
 * day. Written in the same transaction as the monthly one, so both always agree.
 */
export function dailyRollupKey(
  day: string,
  r: Pick<CostRecord, 'team' | 'project' | 'model' | 'kind' | 'lane'>,
  unpriced = false,
): { pk: string; sk: string } {
  return { pk: `ROLLUPDAY#${day.slice(0, 7)}`, sk: `${day}#${rollupSortKey(r, unpriced)}` };
}

/** Key of the marker that holds the quality counters a batch's verdicts put in the roll-ups. */
export function qualityMarkerKey(batch: BatchRef): { pk: string; sk: string } {
  return { pk: `QUALITY#${batch.team}#${batch.batchId}`, sk: 'QUALITY' };
}

/** Partition of a batch's open attempts; a batch id is unique only within its team. */
export function attemptsPk(batch: BatchRef): string {
  return `ATTEMPT#${batch.team}#${batch.batchId}`;
}

/** Key of an open attempt: queried by batch, and by job within it. */
export function attemptKey(ref: AttemptRef): { pk: string; sk: string } {
  return { pk: attemptsPk(ref), sk: `${ref.jobId}#${ref.attemptId}` };
}

/**
 * The estimated cost record an attempt left open becomes when it is reconciled. It is booked
 * like any record, in the month of its `sentAt` (the attempt's, known exactly), priced at that
 * instant; an attempt the catalog could not price becomes an unpriced record, repriced later.
 */
export function unrecordedRecordOf(attempt: AttemptRecord): CostRecord {
  return {
    responseId: `unrecorded:${attempt.attemptId}`,
    team: attempt.team,
    project: attempt.project,
    batchId: attempt.batchId,
    jobId: attempt.jobId,
    model: attempt.model,
    kind: attempt.kind,
    ...(attempt.lane && attempt.lane !== 'primary' ? { lane: attempt.lane } : {}),
    purpose: attempt.jobId === WARMUP_JOB_ID ? 'warmup' : 'job',
    endpoint: 'unknown',
    ...(attempt.group ? { group: attempt.group } : {}),
    ...(attempt.tags ? { tags: attempt.tags } : {}),
    usage: attempt.estimatedUsage,
    costNanoUsd: attempt.estimatedCostNanoUsd,
    counterfactualNanoUsd: attempt.estimatedCounterfactualNanoUsd,
    referenceModel: attempt.referenceModel,
    sentAt: attempt.sentAt,
    created: attempt.sentAt,
    pricedAt: attempt.sentAt,
    ...(attempt.price ? { price: attempt.price } : {}),
    ...(attempt.unpriced ? { unpriced: attempt.unpriced } : {}),
    estimated: 'billed_unrecorded',
  };
}

/** Key of a team's budget for a month. */
export function budgetKey(team: string, month: string): { pk: string; sk: string } {
  return { pk: `BUDGET#${team}`, sk: month };
}

/** `ADD #a :a, #b :b` over a set of counters, with its names and values. */
export function addAll(counters: Record<string, number>): {
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

/** Checks the integers and keys of a record before anything is written. */
export function checkRecord(record: CostRecord): void {
  assertCount(record.costNanoUsd, 'costNanoUsd');
  assertCount(record.counterfactualNanoUsd, 'counterfactualNanoUsd');
  for (const [field, value] of Object.entries(record.usage)) assertCount(value, `usage.${field}`);
  if (!record.responseId) throw new RangeError('a cost record needs the provider response id');
  if (record.unpriced && (record.costNanoUsd !== 0 || record.price))
    throw new RangeError('an unpriced record carries no cost and no price');
  for (const t of [record.sentAt, record.created, record.pricedAt]) isoUtc(t);
}

const totalsOf = (record: CostRecord, cost = record.costNanoUsd) =>
  record.purpose === 'aws'
    ? totalsOfAwsLine(cost)
    : totalsOfResponse(record.usage, cost, record.counterfactualNanoUsd, {
        overhead: record.purpose !== 'job',
        estimated: record.estimated !== undefined,
      });

const negated = (t: Partial<Totals>) =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [k, -(v as number)]));

/** The tables a billed response writes to: the ledger, and the jobs table it settles into. */
export interface LedgerTables {
  ledgerTable: string;
  jobsTable: string;
}

export interface LedgerStoreOptions {
  ddb: DynamoDBDocumentClient;
  /** Physical name of the ledger table. */
  ledgerTable: string;
  /** Physical name of the jobs table, whose job and batch items a billed response updates. */
  jobsTable: string;
  retry?: ConflictRetryOptions;
}

export function checkMonth(month: string): void {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new RangeError(`not a month: ${month}`);
}

/** The update that adds `counters` to a team's budget for a month, creating the item. */
export function budgetUpdate(
  { ledgerTable }: LedgerTables,
  team: string,
  month: string,
  counters: Record<string, number>,
) {
  const add = addAll(counters);
  return {
    TableName: ledgerTable,
    Key: budgetKey(team, month),
    UpdateExpression: `SET #team = :team, #month = :month ${add.expression}`,
    ExpressionAttributeNames: { ...add.names, ...names('team', 'month') },
    ExpressionAttributeValues: { ...add.values, ':team': team, ':month': month },
  } satisfies TransactItem['Update'];
}

/**
 * The monthly roll-up's update and, for a billed record, the daily one's: the same counters on
 * both. Quality counters come with a month and no record: they go to the monthly roll-up, and
 * to the daily one of `day` when given (`only` picks one of the two, when they differ).
 */
export function rollupUpdate(
  { ledgerTable }: LedgerTables,
  record: Pick<CostRecord, 'team' | 'project' | 'model' | 'kind' | 'lane'> &
    Partial<Pick<CostRecord, 'sentAt'>> & { month?: string; day?: string },
  counters: Record<string, number>,
  unpriced: boolean,
  month = record.month ?? recordMonth(record as CostRecord),
  only?: 'monthly' | 'daily',
): TransactItem[] {
  const day = record.day ?? (record.sentAt ? recordDay({ sentAt: record.sentAt }) : undefined);
  const add = addAll(counters);
  const lane = record.lane ?? 'primary';
  const update = (Key: { pk: string; sk: string }, daily: boolean) =>
    ({
      Update: {
        TableName: ledgerTable,
        Key,
        UpdateExpression: `SET #team = :team, #project = :project, #model = :model, #kind = :kind, #month = :month, #lane = :lane${daily ? ', #day = :day' : ''}${unpriced ? ', #unpriced = :true' : ''} ${add.expression}`,
        ExpressionAttributeNames: {
          ...add.names,
          ...names(
            'team',
            'project',
            'model',
            'kind',
            'month',
            'lane',
            ...(daily ? ['day'] : []),
            ...(unpriced ? ['unpriced'] : []),
          ),
        },
        ExpressionAttributeValues: {
          ...add.values,
          ':team': record.team,
          ':project': record.project,
          ':model': record.model,
          ':kind': record.kind,
          ':month': month,
          ':lane': lane,
          ...(daily ? { ':day': day } : {}),
          ...(unpriced ? { ':true': true } : {}),
        },
      },
    }) satisfies TransactItem;
  return [
    ...(only === 'daily' ? [] : [update(rollupKey(month, record, unpriced), false)]),
    ...(day && only !== 'monthly' ? [update(dailyRollupKey(day, record, unpriced), true)] : []),
  ];
}

/** Spend of `cost` in the record's month; a reservation returned where it was made. */
function settle(
  t: LedgerTables,
  record: CostRecord,
  cost: number,
  reserved: number,
  reservedMonth: string,
) {
  const month = recordMonth(record);
  if (reservedMonth === month)
    return [
      {
        Update: budgetUpdate(t, record.team, month, {
          committedNanoUsd: cost - reserved,
          spentNanoUsd: cost,
        }),
      },
    ];
  return [
    { Update: budgetUpdate(t, record.team, month, { committedNanoUsd: cost, spentNanoUsd: cost }) },
    { Update: budgetUpdate(t, record.team, reservedMonth, { committedNanoUsd: -reserved }) },
  ];
}

function batchUpdate(
  { jobsTable }: LedgerTables,
  batch: BatchRef,
  counters: Record<string, number>,
): TransactItem {
  const add = addAll(counters);
  return {
    Update: {
      TableName: jobsTable,
      Key: batchKey(batch),
      UpdateExpression: add.expression,
      ExpressionAttributeNames: add.names,
      ExpressionAttributeValues: add.values,
    },
  };
}

/** The job an answer completed: succeeded with its response, only under its owner's lease. */
function jobSucceeded(
  { jobsTable }: LedgerTables,
  record: CostRecord,
  job: CompletedJob,
): TransactItem {
  const unpriced = record.unpriced !== undefined;
  return {
    Update: {
      TableName: jobsTable,
      Key: jobKey(record, record.jobId),
      // An unpriced answer's cost is unknown, never 0: the job says why until reprice.
      UpdateExpression: `SET #state = :succeeded, responseId = :responseId, #usage = :usage, ${unpriced ? 'costUnpriced' : 'costNanoUsd'} = :cost, outputKey = :outputKey, updatedAt = :now, latencyMs = :latency, servedModel = :servedModel, servedBy = :servedBy${job.finishReason !== undefined ? ', finishReason = :finishReason' : ''} REMOVE #error, leaseOwner, leaseUntil, ${unpriced ? 'costNanoUsd' : 'costUnpriced'}`,
      ConditionExpression: '#state = :running AND leaseOwner = :owner',
      ExpressionAttributeNames: names('state', 'error', 'usage'),
      ExpressionAttributeValues: {
        ':succeeded': 'succeeded',
        ':running': 'running',
        ':owner': job.owner,
        ':responseId': record.responseId,
        ':usage': record.usage,
        ':cost': record.unpriced ? record.unpriced.reason : record.costNanoUsd,
        ':outputKey': job.outputKey,
        ':now': isoUtc(record.sentAt),
        ':latency': job.latencyMs ?? 0,
        // What actually served the answer: the model the response named and the endpoint.
        ':servedModel': record.model,
        ':servedBy': record.endpoint,
        ...(job.finishReason !== undefined ? { ':finishReason': job.finishReason } : {}),
      },
    },
  };
}

/**
 * Everything a billed response writes, in one transaction; items 0 and 1 carry the
 * conditions that make a response id unique. An unpriced response is recorded all the same:
 * its tokens roll up apart, a marker lists it for reprice, and the job's reservation stays
 * committed until it is priced.
 */
export function recordItems(
  t: LedgerTables,
  record: CostRecord,
  job: CompletedJob | undefined,
  held?: CallReservation,
): TransactItem[] {
  const { ledgerTable } = t;
  const month = recordMonth(record);
  const key = recordKey(record);
  const unpriced = record.unpriced !== undefined;
  // A job settles the job's reservation; a warm-up or probe the reservation its call held.
  const reserved = job?.reservedNanoUsd ?? held?.nanoUsd ?? 0;
  const reservedMonth = job?.reservedMonth ?? held?.month ?? month;
  const stored: Record<string, unknown> = {
    ...key,
    type: 'record',
    ...record,
    sentAt: isoUtc(record.sentAt),
    created: isoUtc(record.created),
    pricedAt: isoUtc(record.pricedAt),
    month,
    ...(unpriced && reserved > 0
      ? { reservation: { nanoUsd: reserved, month: reservedMonth } }
      : {}),
  };
  for (const [k, v] of Object.entries(stored)) if (v === undefined) delete stored[k];
  const items: TransactItem[] = [
    {
      Put: {
        TableName: ledgerTable,
        Item: stored,
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
    ...rollupUpdate(t, record, { ...totalsOf(record) }, unpriced),
  ];
  if (unpriced)
    items.push({
      Put: {
        TableName: ledgerTable,
        Item: {
          ...unpricedMarkerKey(record),
          type: 'unpriced',
          recordPk: key.pk,
          recordSk: key.sk,
        },
      },
    });
  // An unpriced job answer leaves its reservation committed: the cost is not known yet. The
  // AWS line is AWS's bill, estimated: not the provider spend the budget caps.
  else if (record.purpose !== 'aws')
    items.push(...settle(t, record, record.costNanoUsd, reserved, reservedMonth));

  const batchCounters: Record<string, number> = { ...totalsOf(record) };
  if (unpriced) batchCounters.unpricedRequests = 1;
  if (job) {
    batchCounters.succeeded = 1;
    batchCounters.ended = 1;
    items.push(jobSucceeded(t, record, job));
  }
  items.push(batchUpdate(t, record, batchCounters));
  return items;
}

/**
 * Prices an unpriced record: item 0 holds only while the record is still unpriced, so a second
 * run changes nothing. Tokens move from the unpriced roll-up to the priced one; the spend and
 * the job's reservation settle in the budget; the batch totals gain the cost.
 */
export function repriceItems(
  t: LedgerTables,
  record: CostRecord,
  priced: Pick<CostRecord, 'costNanoUsd' | 'counterfactualNanoUsd' | 'price' | 'referenceUnpriced'>,
): TransactItem[] {
  const { ledgerTable } = t;
  const key = recordKey(record);
  const now = { ...record, ...priced };
  const tokens = totalsOf(record, 0);
  const full = totalsOf(now);
  const reservation = record.reservation ?? { nanoUsd: 0, month: recordMonth(record) };
  return [
    {
      Update: {
        TableName: ledgerTable,
        Key: key,
        UpdateExpression: `SET costNanoUsd = :cost, counterfactualNanoUsd = :cf, price = :price${priced.referenceUnpriced ? ', referenceUnpriced = :ru' : ''} REMOVE unpriced, reservation`,
        ConditionExpression: 'attribute_exists(unpriced)',
        ExpressionAttributeValues: {
          ':cost': priced.costNanoUsd,
          ':cf': priced.counterfactualNanoUsd,
          ':price': priced.price,
          ...(priced.referenceUnpriced ? { ':ru': priced.referenceUnpriced } : {}),
        },
      },
    },
    { Delete: { TableName: ledgerTable, Key: unpricedMarkerKey(record) } },
    ...rollupUpdate(t, record, negated(tokens), true),
    ...rollupUpdate(t, now, { ...full }, false),
    ...settle(t, record, priced.costNanoUsd, reservation.nanoUsd, reservation.month),
    batchUpdate(t, record, {
      costNanoUsd: full.costNanoUsd,
      counterfactualNanoUsd: full.counterfactualNanoUsd,
      warmupCostNanoUsd: full.warmupCostNanoUsd,
      estimatedCostNanoUsd: full.estimatedCostNanoUsd,
      unpricedRequests: -1,
    }),
  ];
}

/** The writes of a ledger table over `ledgerTable` and `jobsTable`, bound to them. */
export function ledgerItems(ledgerTable: string, jobsTable: string) {
  const t: LedgerTables = { ledgerTable, jobsTable };
  return {
    budgetUpdate: (team: string, month: string, counters: Record<string, number>) =>
      budgetUpdate(t, team, month, counters),
    recordItems: (record: CostRecord, job: CompletedJob | undefined, held?: CallReservation) =>
      recordItems(t, record, job, held),
    repriceItems: (record: CostRecord, priced: Parameters<typeof repriceItems>[2]) =>
      repriceItems(t, record, priced),
    rollupUpdate: (
      ...args: Parameters<typeof rollupUpdate> extends [LedgerTables, ...infer R] ? R : never
    ) => rollupUpdate(t, ...args),
  };
}

export { toAttempt, toRecord } from './ledger-records';
