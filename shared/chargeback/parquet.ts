/**
 * Line items as a Parquet file, written with hyparquet-writer (pure JavaScript, no native code,
 * small enough for a Lambda bundle): an explicit schema so that every file has the same column
 * types whatever its rows hold (Athena reads the files through one Glue schema), nullable
 * where a record may have no value, tags as a Parquet MAP.
 */
import type { SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { LINE_ITEM_COLUMNS, type LineItem, tagColumn } from './line-items';

type SqlType = (typeof LINE_ITEM_COLUMNS)[number][1];

const REQUIRED = new Set([
  'line_item_id',
  'billing_period',
  'usage_date',
  'usage_start_time',
  'team',
  'project',
  'batch_id',
  'job_id',
  'purpose',
  'charge',
  'lane',
  'kind',
  'model',
  'endpoint',
  'hit_tokens',
  'miss_tokens',
  'output_tokens',
  'reasoning_tokens',
  'cost_nano_usd',
  'cost_usd',
  'warmup_share_nano_usd',
  'amortised_cost_nano_usd',
  'amortised_cost_usd',
  'counterfactual_nano_usd',
  'counterfactual_usd',
  'reference_model',
  'currency',
  'unpriced',
  'estimated',
]);

function element(name: string, type: SqlType): SchemaElement[] {
  const repetition_type = REQUIRED.has(name) ? 'REQUIRED' : 'OPTIONAL';
  switch (type) {
    case 'string':
      return [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type }];
    case 'bigint':
      return [{ name, type: 'INT64', repetition_type }];
    case 'decimal(18,9)':
      // USD exactly: the nano-USD integer as an INT64 DECIMAL of scale 9 (SUM is exact).
      return [
        {
          name,
          type: 'INT64',
          repetition_type,
          converted_type: 'DECIMAL',
          scale: 9,
          precision: 18,
          logical_type: { type: 'DECIMAL', scale: 9, precision: 18 },
        },
      ];
    case 'boolean':
      return [{ name, type: 'BOOLEAN', repetition_type }];
    case 'timestamp':
      return [
        {
          name,
          type: 'INT64',
          repetition_type,
          converted_type: 'TIMESTAMP_MILLIS',
          logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
        },
      ];
    case 'map<string,string>':
      return [
        { name, repetition_type: 'OPTIONAL', converted_type: 'MAP', num_children: 1 },
        { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
        { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
        { name: 'value', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      ];
  }
}

/** Every column of a line-item file: the fixed ones, then one per activated tag key. */
export function lineItemColumns(tagKeys: readonly string[]): [string, SqlType][] {
  return [
    ...LINE_ITEM_COLUMNS.map(([name, type]) => [name, type] as [string, SqlType]),
    ...tagKeys.map((k) => [tagColumn(k), 'string'] as [string, SqlType]),
  ];
}

/** The line items as one Parquet file (Snappy-compressed). */
export function lineItemsParquet(
  items: readonly LineItem[],
  tagKeys: readonly string[],
): Uint8Array {
  const columns = lineItemColumns(tagKeys);
  const schema: SchemaElement[] = [
    { name: 'root', num_children: columns.length },
    ...columns.flatMap(([name, type]) => element(name, type)),
  ];
  const buffer = parquetWriteBuffer({
    schema,
    columnData: columns.map(([name]) => ({
      name,
      data: items.map((item) => (item as unknown as Record<string, unknown>)[name] ?? null),
    })),
    createdBy: 'warmbatch line-item export',
  });
  return new Uint8Array(buffer);
}
