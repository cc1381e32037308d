/**
 * The local SQL engine: DuckDB's Node API over line-item files copied out of the local bucket,
 * as Athena reads them out of S3 (a `day=` Hive partition per folder, one schema by name).
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { LINE_ITEMS_PREFIX } from '../../shared/chargeback/export';
import { LINE_ITEMS_TABLE } from '../../shared/chargeback/queries';
import type { ObjectStore } from '../../shared/ports/objects';

export interface LineItemDb {
  /** Rows of a query, values as JSON (BIGINT as strings, so nano-USD stay exact). */
  rows(sql: string): Promise<Record<string, unknown>[]>;
  /** The object keys the view reads. */
  keys: string[];
  close(): void;
}

/** Copies every line-item object to a temporary folder and opens a view `line_items` over it. */
export async function lineItemDb(objects: Pick<ObjectStore, 'list' | 'get'>): Promise<LineItemDb> {
  const dir = await mkdtemp(join(tmpdir(), 'line-items-'));
  const keys = await objects.list(LINE_ITEMS_PREFIX);
  for (const key of keys) {
    const bytes = await objects.get(key);
    if (!bytes) throw new Error(`${key} vanished`);
    const path = join(dir, key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  if (keys.length > 0)
    await connection.run(
      `CREATE VIEW ${LINE_ITEMS_TABLE} AS SELECT * FROM read_parquet('${join(dir, LINE_ITEMS_PREFIX)}*/*.parquet', hive_partitioning = true, hive_types = {'day': VARCHAR}, union_by_name = true)`,
    );
  return {
    keys,
    async rows(sql) {
      const reader = await connection.runAndReadAll(sql);
      return reader.getRowObjectsJson() as Record<string, unknown>[];
    },
    close() {
      connection.closeSync();
      instance.closeSync();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
