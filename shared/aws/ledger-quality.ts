/**
 * A batch's quality counters in the ledger's roll-ups: a marker per batch keeps what its
 * verdicts put there, so recording them again moves only the difference, monthly and daily.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { LedgerStore } from '../ports/ledger';
import { QUALITY_FIELDS } from '../quality/verdicts';
import { assertCount, conditionFailed, num, type TransactItem, transact } from './dynamo';
import {
  checkMonth,
  type LedgerStoreOptions,
  type LedgerTables,
  qualityMarkerKey,
  rollupUpdate,
} from './ledger-items';
import { dailyQualityDeltas, type QualityMarkerRow } from './quality-days';

// Markers re-read when another recording changed them between the read and the write.
const RECORD_ATTEMPTS = 5;

type QualityInput = Parameters<LedgerStore['recordQuality']>[0];

const rowKey = (r: { project: string; model: string; kind: string; lane: string }) =>
  [r.project, r.model, r.kind, r.lane].join('#');

/** The daily quality roll-up updates of a batch's re-recorded verdicts (quality-days.ts). */
function dailyQualityUpdates(
  t: LedgerTables,
  team: string,
  was: QualityMarkerRow | undefined,
  now: (QualityMarkerRow & { day: string }) | undefined,
): TransactItem[] {
  return dailyQualityDeltas(was, now).flatMap(({ day, row, delta }) =>
    rollupUpdate(
      t,
      { team, ...row, month: day.slice(0, 7), day },
      delta,
      false,
      day.slice(0, 7),
      'daily',
    ),
  );
}

/** What changes in each roll-up: the new counters minus those recorded before. */
function qualityUpdates(
  t: LedgerTables,
  { batch, month, day, rows }: QualityInput,
  recorded: QualityMarkerRow[],
): TransactItem[] {
  const fresh = new Map(rows.map((r) => [rowKey(r), r]));
  const before = new Map(recorded.map((r) => [rowKey(r), r]));
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
        t,
        { team: batch.team, ...row, month },
        delta,
        false,
        was?.month ?? month,
        'monthly',
      ),
      ...dailyQualityUpdates(t, batch.team, was, now && day ? { ...now, day } : undefined),
    );
  }
  return updates;
}

/** See LedgerStore.recordQuality. */
export async function recordQuality(
  o: LedgerStoreOptions,
  input: QualityInput,
): Promise<{ changed: boolean }> {
  const { batch, month, day, rows } = input;
  checkMonth(month);
  if (day !== undefined && !(/^\d{4}-\d{2}-\d{2}$/.test(day) && day.startsWith(month)))
    throw new RangeError(`not a day of ${month}: ${day}`);
  for (const r of rows)
    for (const [field, value] of Object.entries(r.quality))
      assertCount(value as number, `quality.${field}`);
  const t = { ledgerTable: o.ledgerTable, jobsTable: o.jobsTable };
  for (let attempt = 0; attempt < RECORD_ATTEMPTS; attempt++) {
    const got = await o.ddb.send(
      new GetCommand({
        TableName: o.ledgerTable,
        Key: qualityMarkerKey(batch),
        ConsistentRead: true,
      }),
    );
    const version = num(got.Item ?? {}, 'version');
    const recorded = (got.Item?.rows as QualityMarkerRow[] | undefined) ?? [];
    const updates = qualityUpdates(t, input, recorded);
    if (updates.length === 0) return { changed: false };
    const stored: QualityMarkerRow[] = rows.map((r) => ({ ...r, month, ...(day ? { day } : {}) }));
    const out = await transact(
      o.ddb,
      [
        {
          Put: {
            TableName: o.ledgerTable,
            Item: {
              ...qualityMarkerKey(batch),
              type: 'quality',
              rows: stored,
              version: version + 1,
            },
            ConditionExpression: version === 0 ? 'attribute_not_exists(pk)' : 'version = :version',
            ...(version === 0 ? {} : { ExpressionAttributeValues: { ':version': version } }),
          },
        },
        ...updates,
      ],
      o.retry,
    );
    if (out.ok) return { changed: true };
    if (!conditionFailed(out.reasons, 0))
      throw new Error(`recording quality of ${batch.team}/${batch.batchId} was cancelled`);
  }
  throw new Error(`recording quality of ${batch.team}/${batch.batchId} kept conflicting`);
}
