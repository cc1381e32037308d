/**
 * The in-memory ledger table, and the writes a billed response makes to it and to the jobs
 * table (a job's success, a batch's totals), as the adapter's one transaction makes them.
 */
import { assertCount } from '../../../shared/aws/dynamo';
import {
  attemptKey,
  checkMonth,
  dailyRollupKey,
  recordKey,
  rollupKey,
} from '../../../shared/aws/ledger-items';
import {
  type AttemptRecord,
  type CallReservation,
  type CompletedJob,
  type CostRecord,
  isoUtc,
  recordDay,
  recordMonth,
} from '../../../shared/ports/ledger';
import { totalsOfAwsLine, totalsOfResponse } from '../../../shared/totals';
import type { Kind, Lane } from '../../../shared/types';
import { batchKeyOf, type FakeJobsTable, jobsOf } from './table';

export interface FakeRollup {
  month: string;
  day?: string;
  team: string;
  project: string;
  model: string;
  kind: Kind;
  lane: Lane;
  unpriced: boolean;
  counters: Record<string, number>;
}

export interface FakeLedgerTable {
  /** Stored cost records by their key (`pk|sk`), as the adapter writes them. */
  records: Map<string, Record<string, unknown>>;
  /** Response ids in the ledger: what makes one unique. */
  responses: Set<string>;
  /** Keys of unpriced records, by month. */
  unpriced: Map<string, Set<string>>;
  rollups: Map<string, FakeRollup>;
  budgets: Map<string, { capNanoUsd?: number; committedNanoUsd: number; spentNanoUsd: number }>;
  attempts: Map<string, AttemptRecord>;
  quality: Map<string, { version: number; rows: unknown[] }>;
  jobs: FakeJobsTable;
}

export const keyOf = (k: { pk: string; sk: string }) => `${k.pk}|${k.sk}`;
export const budgetKeyOf = (team: string, month: string) => `${team}#${month}`;
export const attemptKeyOf = (ref: Parameters<typeof attemptKey>[0]) => keyOf(attemptKey(ref));

export function totalsOf(record: CostRecord, cost = record.costNanoUsd) {
  return record.purpose === 'aws'
    ? totalsOfAwsLine(cost)
    : totalsOfResponse(record.usage, cost, record.counterfactualNanoUsd, {
        overhead: record.purpose !== 'job',
        estimated: record.estimated !== undefined,
      });
}

/** Adds `counters` to a team's budget for a month, creating it. */
export function addToBudget(
  ledger: FakeLedgerTable,
  team: string,
  month: string,
  counters: { committedNanoUsd?: number; spentNanoUsd?: number },
): void {
  checkMonth(month);
  const key = budgetKeyOf(team, month);
  const budget = ledger.budgets.get(key) ?? { committedNanoUsd: 0, spentNanoUsd: 0 };
  budget.committedNanoUsd += counters.committedNanoUsd ?? 0;
  budget.spentNanoUsd += counters.spentNanoUsd ?? 0;
  ledger.budgets.set(key, budget);
}

/** Adds counters to a record's monthly roll-up and (when it has a day) its daily one. */
export function addToRollups(
  ledger: FakeLedgerTable,
  r: Pick<CostRecord, 'team' | 'project' | 'model' | 'kind' | 'lane'> & {
    sentAt?: string;
    day?: string;
  },
  counters: Record<string, number>,
  unpriced: boolean,
  month: string,
  only?: 'monthly' | 'daily',
): void {
  const day = r.day ?? (r.sentAt ? recordDay({ sentAt: r.sentAt }) : undefined);
  const add = (key: { pk: string; sk: string }, daily: boolean) => {
    const rollup = ledger.rollups.get(keyOf(key)) ?? {
      month,
      team: r.team,
      project: r.project,
      model: r.model,
      kind: r.kind,
      lane: r.lane ?? 'primary',
      unpriced,
      counters: {},
    };
    if (daily && day) rollup.day = day;
    for (const [k, v] of Object.entries(counters))
      rollup.counters[k] = (rollup.counters[k] ?? 0) + v;
    ledger.rollups.set(keyOf(key), rollup);
  };
  if (only !== 'daily') add(rollupKey(month, r, unpriced), false);
  if (day && only !== 'monthly') add(dailyRollupKey(day, r, unpriced), true);
}

/** Spend of `cost` in the record's month; a reservation returned where it was made. */
export function settle(
  ledger: FakeLedgerTable,
  record: CostRecord,
  cost: number,
  reserved: number,
  reservedMonth: string,
): void {
  const month = recordMonth(record);
  if (reservedMonth === month) {
    addToBudget(ledger, record.team, month, {
      committedNanoUsd: cost - reserved,
      spentNanoUsd: cost,
    });
    return;
  }
  addToBudget(ledger, record.team, month, { committedNanoUsd: cost, spentNanoUsd: cost });
  addToBudget(ledger, record.team, reservedMonth, { committedNanoUsd: -reserved });
}

/** Adds to a batch's counters and totals (nothing, for a batch that does not exist). */
export function addToBatch(
  ledger: FakeLedgerTable,
  batch: { team: string; batchId: string },
  counters: Record<string, number>,
): void {
  const item = ledger.jobs.batches.get(batchKeyOf(batch));
  if (!item) return;
  const totals = item.totals as unknown as Record<string, number>;
  const ends = item.counters as unknown as Record<string, number>;
  for (const [k, v] of Object.entries(counters)) {
    if (k === 'ended') item.ended += v;
    else if (k in ends) ends[k] = (ends[k] ?? 0) + v;
    else totals[k] = (totals[k] ?? 0) + v;
  }
}

/** True when `job`'s lease holds: the job is running under its owner. */
export function leaseHolds(
  ledger: FakeLedgerTable,
  record: CostRecord,
  job: CompletedJob,
): boolean {
  const stored = jobsOf(ledger.jobs, record).get(record.jobId);
  return stored?.state === 'running' && stored.leaseOwner === job.owner;
}

function completeJob(ledger: FakeLedgerTable, record: CostRecord, job: CompletedJob): void {
  const jobs = jobsOf(ledger.jobs, record);
  const stored = jobs.get(record.jobId);
  if (!stored) return;
  const {
    error: _e,
    leaseOwner: _o,
    leaseUntil: _u,
    costNanoUsd: _c,
    costUnpriced: _cu,
    ...rest
  } = stored;
  jobs.set(record.jobId, {
    ...rest,
    state: 'succeeded',
    responseId: record.responseId,
    usage: { ...record.usage },
    // An unpriced answer's cost is unknown, never 0: the job says why until reprice.
    ...(record.unpriced
      ? { costUnpriced: record.unpriced.reason }
      : { costNanoUsd: record.costNanoUsd }),
    outputKey: job.outputKey,
    updatedAt: isoUtc(record.sentAt),
    latencyMs: job.latencyMs ?? 0,
    servedModel: record.model,
    servedBy: record.endpoint,
    ...(job.finishReason !== undefined ? { finishReason: job.finishReason } : {}),
  });
}

/** Everything a billed response writes; the caller checked that it may. */
export function writeRecord(
  ledger: FakeLedgerTable,
  record: CostRecord,
  job: CompletedJob | undefined,
  held?: CallReservation,
): void {
  const month = recordMonth(record);
  const key = keyOf(recordKey(record));
  const unpriced = record.unpriced !== undefined;
  const reserved = job?.reservedNanoUsd ?? held?.nanoUsd ?? 0;
  const reservedMonth = job?.reservedMonth ?? held?.month ?? month;
  const stored: Record<string, unknown> = {
    ...structuredClone(record),
    sentAt: isoUtc(record.sentAt),
    created: isoUtc(record.created),
    pricedAt: isoUtc(record.pricedAt),
    month,
    ...(unpriced && reserved > 0
      ? { reservation: { nanoUsd: reserved, month: reservedMonth } }
      : {}),
  };
  for (const [k, v] of Object.entries(stored)) if (v === undefined) delete stored[k];
  ledger.records.set(key, stored);
  ledger.responses.add(record.responseId);
  addToRollups(ledger, record, { ...totalsOf(record) }, unpriced, month);
  if (unpriced) {
    const marks = ledger.unpriced.get(month) ?? new Set<string>();
    marks.add(key);
    ledger.unpriced.set(month, marks);
  } else if (record.purpose !== 'aws')
    settle(ledger, record, record.costNanoUsd, reserved, reservedMonth);
  const batchCounters: Record<string, number> = { ...totalsOf(record) };
  if (unpriced) batchCounters.unpricedRequests = 1;
  if (job) {
    batchCounters.succeeded = 1;
    batchCounters.ended = 1;
    completeJob(ledger, record, job);
  }
  addToBatch(ledger, record, batchCounters);
}

/** True when a record of this response (or of its key) is in the ledger already. */
export function inLedger(ledger: FakeLedgerTable, record: CostRecord): boolean {
  return ledger.responses.has(record.responseId) || ledger.records.has(keyOf(recordKey(record)));
}

export function checkAttempt(attempt: AttemptRecord): void {
  assertCount(attempt.estimatedCostNanoUsd, 'estimatedCostNanoUsd');
  assertCount(attempt.estimatedCounterfactualNanoUsd, 'estimatedCounterfactualNanoUsd');
  isoUtc(attempt.sentAt);
}
