/**
 * The line-item export from the ledger's change stream: each cost record ends up in the line
 * items exactly once whether a stream batch arrives once, twice, twice at once, or again after
 * a crash half-way; a reprice restates its record in place. Real DynamoDB Local and S3
 * emulator; the files are read back with DuckDB.
 */
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { changedKeys, createExportHandler } from '../../lambdas/export/handler';
import { LOCAL_CREDENTIALS } from '../../local/runtime/clients';
import { startStreamSource } from '../../local/runtime/stream-source';
import { createLedgerStore, recordKey } from '../../shared/aws/ledger-store';
import { createS3ObjectStore } from '../../shared/aws/object-store';
import { lineItemsKey, touchedTeamDays } from '../../shared/chargeback/export';
import { type CostRecord, WARMUP_JOB_ID } from '../../shared/ports/ledger';
import type { ObjectStore } from '../../shared/ports/objects';
import { aCostRecord } from '../aws/factories';
import { useLocalAws } from '../support/emulators';
import { lineItemDb } from './duckdb';

const aws = useLocalAws();
const TAG_KEYS = ['cost-centre', 'environment'];

function stores() {
  const { ledger: ledgerTable, jobs: jobsTable } = aws.resources.tables;
  return {
    ledger: createLedgerStore({ ddb: aws.clients.doc, ledgerTable, jobsTable }),
    objects: createS3ObjectStore(aws.clients.s3, aws.resources.bucket),
  };
}

/** A stream batch naming these records' keys, as Lambda delivers it (keys only). */
function streamEvent(records: readonly CostRecord[]): DynamoDBStreamEvent {
  return {
    Records: records.map((r, i) => {
      const key = recordKey(r);
      return {
        eventID: `e${i}`,
        eventName: 'INSERT',
        dynamodb: { Keys: { pk: { S: key.pk }, sk: { S: key.sk } }, SequenceNumber: String(i) },
      };
    }),
  };
}

/** Two teams over a UTC midnight, warm-ups among the jobs, one tagged batch. */
async function someRecords(): Promise<CostRecord[]> {
  const tags = { 'cost-centre': 'cc-7', environment: 'prod' };
  const records = [
    aCostRecord({
      team: 'alpha',
      batchId: 'b1',
      group: 'g1',
      jobId: WARMUP_JOB_ID,
      costNanoUsd: 1_001,
      sentAt: '2026-11-30T23:58:00.000Z',
      tags,
    }),
    aCostRecord({
      team: 'alpha',
      batchId: 'b1',
      group: 'g1',
      jobId: 'j1',
      sentAt: '2026-11-30T23:59:00.000Z',
      tags,
    }),
    aCostRecord({
      team: 'alpha',
      batchId: 'b1',
      group: 'g1',
      jobId: 'j2',
      sentAt: '2026-11-30T23:59:30.000Z',
      tags,
    }),
    aCostRecord({
      team: 'alpha',
      batchId: 'b1',
      group: 'g1',
      jobId: 'j3',
      sentAt: '2026-12-01T00:00:10.000Z',
      tags,
    }),
    aCostRecord({ team: 'beta', batchId: 'b2', jobId: 'j1', sentAt: '2026-11-30T12:00:00.000Z' }),
  ];
  const { ledger } = stores();
  for (const record of records) await ledger.recordBilledResponse({ record });
  return records;
}

/** Line item ids and costs as the files hold them, via the local SQL engine. */
async function exported(objects: ObjectStore) {
  const db = await lineItemDb(objects);
  try {
    const rows =
      db.keys.length === 0
        ? []
        : await db.rows(
            'SELECT line_item_id, cost_nano_usd, amortised_cost_nano_usd, tag_cost_centre, day FROM line_items ORDER BY line_item_id',
          );
    return { keys: db.keys, rows };
  } finally {
    db.close();
  }
}

const idsOf = (rows: Record<string, unknown>[]) => rows.map((r) => r.line_item_id);

describe('touched team-days', () => {
  it('are the team and UTC day of each changed cost record, and nothing else', () => {
    // Act
    const days = touchedTeamDays([
      { pk: 'REC#alpha#2026-11', sk: '2026-11-30T23:59:59.999Z#r1' },
      { pk: 'REC#alpha#2026-12', sk: '2026-12-01T00:00:00.000Z#r2' },
      { pk: 'REC#alpha#2026-11', sk: '2026-11-30T01:00:00.000Z#r3' },
      { pk: 'ROLLUP#2026-11', sk: 'alpha#p#m#docs' },
      { pk: 'BUDGET#alpha', sk: '2026-11' },
    ]);

    // Assess
    expect(days).toEqual([
      { team: 'alpha', day: '2026-11-30' },
      { team: 'alpha', day: '2026-12-01' },
    ]);
  });
});

describe('the export', () => {
  it('writes one file per team and UTC day, holding each of its records once', async () => {
    // Prepare
    const records = await someRecords();
    const deps = { ...stores(), tagKeys: TAG_KEYS };

    // Act
    await createExportHandler(deps)(streamEvent(records));

    // Assess
    const out = await exported(deps.objects);
    expect(out.keys.sort()).toEqual(
      [
        lineItemsKey({ team: 'alpha', day: '2026-11-30' }),
        lineItemsKey({ team: 'alpha', day: '2026-12-01' }),
        lineItemsKey({ team: 'beta', day: '2026-11-30' }),
      ].sort(),
    );
    expect(idsOf(out.rows)).toEqual(records.map((r) => r.responseId).sort());
    expect(out.rows.find((r) => r.line_item_id === records[3]?.responseId)).toMatchObject({
      day: '2026-12-01',
      tag_cost_centre: 'cc-7',
    });
  });

  it('is exactly once when a batch is redelivered, and when two deliveries run at once', async () => {
    // Prepare
    const records = await someRecords();
    const deps = { ...stores(), tagKeys: TAG_KEYS };
    const handler = createExportHandler(deps);
    const event = streamEvent(records);

    // Act
    await handler(event);
    await handler(event);
    await Promise.all([handler(event), handler(event)]);

    // Assess
    const out = await exported(deps.objects);
    expect(idsOf(out.rows)).toEqual(records.map((r) => r.responseId).sort());
    const sum = out.rows.reduce((s, r) => s + BigInt(String(r.cost_nano_usd)), 0n);
    expect(sum).toBe(BigInt(records.reduce((s, r) => s + r.costNanoUsd, 0)));
  });

  it('loses nothing and doubles nothing when a delivery crashes half-way and is retried', async () => {
    // Prepare
    const records = await someRecords();
    const { ledger, objects } = stores();
    let puts = 0;
    const crashing: Pick<ObjectStore, 'put'> = {
      put: async (key, body, type) => {
        if (++puts === 2) throw new Error('the function timed out');
        await objects.put(key, body, type);
      },
    };
    const event = streamEvent(records);

    // Act
    await expect(
      createExportHandler({ ledger, objects: crashing, tagKeys: TAG_KEYS })(event),
    ).rejects.toThrow('timed out');
    const half = await exported(objects);
    await createExportHandler({ ledger, objects, tagKeys: TAG_KEYS })(event);

    // Assess
    expect(half.keys).toHaveLength(1);
    const out = await exported(objects);
    expect(idsOf(out.rows)).toEqual(records.map((r) => r.responseId).sort());
  });

  it('restates a repriced record in place instead of adding a second line', async () => {
    // Prepare
    const { ledger, objects } = stores();
    const unpriced = aCostRecord({
      team: 'alpha',
      costNanoUsd: 0,
      counterfactualNanoUsd: 0,
      unpriced: { reason: 'unknown_model', detail: 'no row' },
    });
    delete unpriced.price;
    await ledger.recordBilledResponse({ record: unpriced });
    const handler = createExportHandler({ ledger, objects, tagKeys: TAG_KEYS });
    await handler(streamEvent([unpriced]));

    // Act
    await ledger.repriceRecord(unpriced, {
      costNanoUsd: 4_242,
      counterfactualNanoUsd: 9_000,
      price: { rowId: 'r@1', origin: 'test', billedAs: 'deepseek-flash', tier: 'flat' },
    });
    await handler(streamEvent([unpriced]));

    // Assess
    const out = await exported(objects);
    expect(out.rows).toEqual([
      expect.objectContaining({ line_item_id: unpriced.responseId, cost_nano_usd: '4242' }),
    ]);
  });

  it("is fed by the ledger's own change stream, cost records only", async () => {
    // Prepare
    const { ledger, objects } = stores();
    const events: DynamoDBStreamEvent[] = [];
    const handler = createExportHandler({ ledger, objects, tagKeys: TAG_KEYS });
    const source = await startStreamSource({
      ddb: aws.clients.ddb,
      endpoint: aws.emulators.endpoints.dynamodb,
      region: aws.emulators.region,
      credentials: LOCAL_CREDENTIALS,
      table: aws.resources.tables.ledger,
      handler: async (event) => {
        events.push(event);
        await handler(event);
      },
      filter: ({ pk }) => pk?.startsWith('REC#') === true,
      batchSize: 100,
      pollMs: 50,
    });

    try {
      // Act
      const records = await someRecords();
      await source.settle();

      // Assess
      const keys = events.flatMap(changedKeys);
      expect(keys.every((k) => k.pk?.startsWith('REC#'))).toBe(true);
      expect(keys.map((k) => k.sk).sort()).toEqual(records.map((r) => recordKey(r).sk).sort());
      const out = await exported(objects);
      expect(idsOf(out.rows)).toEqual(records.map((r) => r.responseId).sort());
    } finally {
      await source.stop();
    }
  });
});
