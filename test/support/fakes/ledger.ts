/**
 * An in-memory LedgerStore with the adapter's rules: a response is in the ledger once whatever
 * retries happen, a job completes only under its owner's lease (its cost is recorded all the
 * same), reservations never take a team past its cap, a reprice happens once, and quality
 * counters move only by the difference. It shares the jobs table of the fake JobsStore, as the
 * adapter's transaction spans both tables.
 */
import { assertCount } from '../../../shared/aws/dynamo';
import {
  checkMonth,
  checkRecord,
  qualityMarkerKey,
  recordKey,
  unrecordedRecordOf,
} from '../../../shared/aws/ledger-items';
import { toRecord } from '../../../shared/aws/ledger-records';
import { dailyQualityDeltas, type QualityMarkerRow } from '../../../shared/aws/quality-days';
import {
  type CostRecord,
  type LedgerStore,
  type Rollup,
  recordMonth,
  WARMUP_JOB_ID,
} from '../../../shared/ports/ledger';
import { QUALITY_FIELDS } from '../../../shared/quality/verdicts';
import { TOTAL_FIELDS } from '../../../shared/totals';
import {
  addToBatch,
  addToBudget,
  addToRollups,
  attemptKeyOf,
  budgetKeyOf,
  checkAttempt,
  type FakeLedgerTable,
  type FakeRollup,
  inLedger,
  keyOf,
  leaseHolds,
  settle,
  totalsOf,
  writeRecord,
} from './ledger-state';
import { byCodeUnit, copy, type FakeJobsTable, jobsOf, newFakeJobsTable } from './table';

export function newFakeLedgerTable(jobs: FakeJobsTable = newFakeJobsTable()): FakeLedgerTable {
  return {
    records: new Map(),
    responses: new Set(),
    unpriced: new Map(),
    rollups: new Map(),
    budgets: new Map(),
    attempts: new Map(),
    quality: new Map(),
    jobs,
  };
}

function toRollup(rollup: FakeRollup, month: string): Rollup {
  const n = (f: string) => rollup.counters[f] ?? 0;
  return {
    month,
    ...(rollup.day ? { day: rollup.day } : {}),
    team: rollup.team,
    project: rollup.project,
    model: rollup.model,
    kind: rollup.kind,
    lane: rollup.lane,
    ...(Object.fromEntries(TOTAL_FIELDS.map((f) => [f, n(f)])) as Record<
      (typeof TOTAL_FIELDS)[number],
      number
    >),
    ...(Object.fromEntries(QUALITY_FIELDS.map((f) => [f, n(f)])) as Record<
      (typeof QUALITY_FIELDS)[number],
      number
    >),
    ...(rollup.unpriced ? { unpriced: true } : {}),
  };
}

/** Stored items under a key prefix, in key order, as a Query reads a partition. */
function partition<T>(map: Map<string, T>, pk: string): T[] {
  return [...map.keys()]
    .filter((k) => k.startsWith(`${pk}|`))
    .sort(byCodeUnit)
    .map((k) => map.get(k) as T);
}

function recordBilledResponse(
  ledger: FakeLedgerTable,
  { record, job, attempt, reserved }: Parameters<LedgerStore['recordBilledResponse']>[0],
) {
  checkRecord(record);
  if (reserved) {
    assertCount(reserved.nanoUsd, 'reserved.nanoUsd');
    checkMonth(reserved.month);
    if (job) throw new RangeError('a job answer settles the job reservation, not a call one');
  }
  if (job) assertCount(job.reservedNanoUsd, 'reservedNanoUsd');
  if (job?.latencyMs !== undefined) assertCount(job.latencyMs, 'latencyMs');
  if (job?.reservedMonth !== undefined) checkMonth(job.reservedMonth);
  if (job && (record.jobId === WARMUP_JOB_ID || record.purpose !== 'job'))
    throw new RangeError('only a job answer completes a job');
  if (inLedger(ledger, record)) return { duplicate: true, jobUpdated: false };
  if (attempt) ledger.attempts.delete(attemptKeyOf(attempt));
  if (job && !leaseHolds(ledger, record, job)) {
    // Another worker owns the job now: the tokens were billed all the same, so record them;
    // the new owner settles the reservation.
    writeRecord(ledger, record, undefined);
    return { duplicate: false, jobUpdated: false };
  }
  writeRecord(ledger, record, job, reserved);
  return { duplicate: false, jobUpdated: job !== undefined };
}

function repriceRecord(
  ledger: FakeLedgerTable,
  record: CostRecord,
  priced: Parameters<LedgerStore['repriceRecord']>[1],
): boolean {
  if (!record.unpriced) throw new RangeError(`record ${record.responseId} is not unpriced`);
  assertCount(priced.costNanoUsd, 'costNanoUsd');
  assertCount(priced.counterfactualNanoUsd, 'counterfactualNanoUsd');
  if (!priced.price) throw new RangeError('a repriced record needs the row that priced it');
  const key = keyOf(recordKey(record));
  const stored = ledger.records.get(key);
  if (!stored?.unpriced) return false;
  const { unpriced: _u, reservation: _r, ...rest } = stored;
  ledger.records.set(key, { ...rest, ...copy(priced) });
  ledger.unpriced.get(recordMonth(record))?.delete(key);
  const now = { ...record, ...priced };
  const tokens = totalsOf(record, 0);
  const full = totalsOf(now);
  const reservation = record.reservation ?? { nanoUsd: 0, month: recordMonth(record) };
  const month = recordMonth(record);
  const negated = Object.fromEntries(Object.entries(tokens).map(([k, v]) => [k, -v]));
  addToRollups(ledger, record, negated, true, month);
  addToRollups(ledger, now, { ...full }, false, month);
  settle(ledger, record, priced.costNanoUsd, reservation.nanoUsd, reservation.month);
  addToBatch(ledger, record, {
    costNanoUsd: full.costNanoUsd,
    counterfactualNanoUsd: full.counterfactualNanoUsd,
    warmupCostNanoUsd: full.warmupCostNanoUsd,
    estimatedCostNanoUsd: full.estimatedCostNanoUsd,
    unpricedRequests: -1,
  });
  if (record.purpose === 'job' && !record.estimated && record.jobId !== WARMUP_JOB_ID) {
    const job = jobsOf(ledger.jobs, record).get(record.jobId);
    if (job?.responseId === record.responseId) {
      job.costNanoUsd = priced.costNanoUsd;
      delete job.costUnpriced;
    }
  }
  return true;
}

function recordQuality(
  ledger: FakeLedgerTable,
  { batch, month, day, rows }: Parameters<LedgerStore['recordQuality']>[0],
): { changed: boolean } {
  checkMonth(month);
  if (day !== undefined && !(/^\d{4}-\d{2}-\d{2}$/.test(day) && day.startsWith(month)))
    throw new RangeError(`not a day of ${month}: ${day}`);
  for (const r of rows)
    for (const [field, value] of Object.entries(r.quality))
      assertCount(value as number, `quality.${field}`);
  const rowKey = (r: { project: string; model: string; kind: string; lane: string }) =>
    [r.project, r.model, r.kind, r.lane].join('#');
  const markerKey = keyOf(qualityMarkerKey(batch));
  const marker = ledger.quality.get(markerKey);
  const before = new Map(((marker?.rows ?? []) as QualityMarkerRow[]).map((r) => [rowKey(r), r]));
  const fresh = new Map(rows.map((r) => [rowKey(r), r]));
  let changed = false;
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
    changed = true;
    addToRollups(
      ledger,
      { team: batch.team, ...row },
      delta,
      false,
      was?.month ?? month,
      'monthly',
    );
    for (const moved of dailyQualityDeltas(was, now && day ? { ...now, day } : undefined))
      addToRollups(
        ledger,
        { team: batch.team, ...moved.row, day: moved.day },
        moved.delta,
        false,
        moved.day.slice(0, 7),
        'daily',
      );
  }
  if (!changed) return { changed: false };
  const stored = rows.map((r) => ({ ...copy(r), month, ...(day ? { day } : {}) }));
  ledger.quality.set(markerKey, { version: (marker?.version ?? 0) + 1, rows: stored });
  return { changed: true };
}

/** Records, roll-ups and budgets in memory; a billed response settles into `ledger.jobs`. */
export function fakeLedgerStore(ledger: FakeLedgerTable = newFakeLedgerTable()): LedgerStore {
  const budgetOf = (team: string, month: string) => ledger.budgets.get(budgetKeyOf(team, month));
  const readRecords = (items: Record<string, unknown>[]) => items.map((i) => toRecord(copy(i)));
  return {
    recordBilledResponse: async (input) => recordBilledResponse(ledger, input),
    async recordAttempt(attempt) {
      checkAttempt(attempt);
      ledger.attempts.set(attemptKeyOf(attempt), copy(attempt));
    },
    async closeAttempt(ref) {
      ledger.attempts.delete(attemptKeyOf(ref));
    },
    async openAttempts(batch, jobId) {
      return [...ledger.attempts.values()]
        .filter((a) => a.team === batch.team && a.batchId === batch.batchId)
        .filter((a) => jobId === undefined || a.jobId === jobId)
        .map(copy)
        .sort((a, b) => a.sentAt.localeCompare(b.sentAt));
    },
    async reconcileAttempt(attempt, reserved) {
      const record = unrecordedRecordOf(attempt);
      checkRecord(record);
      if (!ledger.attempts.has(attemptKeyOf(attempt)) || inLedger(ledger, record)) return false;
      ledger.attempts.delete(attemptKeyOf(attempt));
      writeRecord(ledger, record, undefined, reserved ?? attempt.reserved);
      return true;
    },
    async setBudget(team, month, capNanoUsd) {
      checkMonth(month);
      assertCount(capNanoUsd, 'capNanoUsd');
      addToBudget(ledger, team, month, {});
      (budgetOf(team, month) as { capNanoUsd?: number }).capNanoUsd = capNanoUsd;
    },
    async reserve(team, month, estimateNanoUsd) {
      checkMonth(month);
      assertCount(estimateNanoUsd, 'estimateNanoUsd');
      const current = budgetOf(team, month);
      const cap = current?.capNanoUsd;
      if (cap !== undefined && (current?.committedNanoUsd ?? 0) + estimateNanoUsd > cap)
        return false;
      addToBudget(ledger, team, month, { committedNanoUsd: estimateNanoUsd });
      return true;
    },
    async release(team, month, nanoUsd) {
      checkMonth(month);
      assertCount(nanoUsd, 'nanoUsd');
      addToBudget(ledger, team, month, { committedNanoUsd: -nanoUsd });
    },
    async rollups(month) {
      checkMonth(month);
      return partition(ledger.rollups, `ROLLUP#${month}`).map((r) => toRollup(r, month));
    },
    async dailyRollups(month) {
      checkMonth(month);
      return partition(ledger.rollups, `ROLLUPDAY#${month}`).map((r) => toRollup(r, month));
    },
    async records(team, month) {
      checkMonth(month);
      return readRecords(partition(ledger.records, `REC#${team}#${month}`));
    },
    async recordsOfDay(team, day) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`not a day: ${day}`);
      return readRecords(
        partition(ledger.records, `REC#${team}#${day.slice(0, 7)}`).filter((r) =>
          String(r.sentAt).startsWith(`${day}T`),
        ),
      );
    },
    async unpricedRecords(month) {
      checkMonth(month);
      const keys = [...(ledger.unpriced.get(month) ?? [])];
      // The adapter's unpriced index sorts by team, then the record's key.
      const sortKey = (k: string) => {
        const r = ledger.records.get(k) as { team: string };
        return `${r.team}#${k.split('|')[1]}`;
      };
      return readRecords(
        keys
          .sort((a, b) => byCodeUnit(sortKey(a), sortKey(b)))
          .map((k) => ledger.records.get(k) as Record<string, unknown>)
          .filter((r) => r.unpriced),
      );
    },
    async budget(team, month) {
      const b = budgetOf(team, month);
      if (!b) return undefined;
      return {
        team,
        month,
        ...(b.capNanoUsd !== undefined ? { capNanoUsd: b.capNanoUsd } : {}),
        committedNanoUsd: b.committedNanoUsd,
        spentNanoUsd: b.spentNanoUsd,
      };
    },
    recordQuality: async (input) => recordQuality(ledger, input),
    repriceRecord: async (record, priced) => repriceRecord(ledger, record, priced),
  };
}
