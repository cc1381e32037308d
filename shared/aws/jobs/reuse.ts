/**
 * Reuse entries: an identical request's earlier output (see JobsStore.putReuse and getReuse).
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ReuseItem, ReuseStore } from '../../ports/jobs';
import { num } from '../dynamo';
import { newReuseItem, toReuse } from './items';
import { reuseKey } from './keys';
import type { JobsTable } from './table';

/** See JobsStore.putReuse: last writer wins, identical requests have interchangeable outputs. */
export async function putReuse({ ddb, table }: JobsTable, entry: ReuseItem): Promise<void> {
  await ddb.send(new PutCommand({ TableName: table, Item: newReuseItem(entry) }));
}

/** See JobsStore.getReuse: none once expired (TTL deletes lazily). */
export async function getReuse(
  { ddb, table }: JobsTable,
  requestHash: string,
  now: Date,
): Promise<ReuseItem | undefined> {
  const res = await ddb.send(new GetCommand({ TableName: table, Key: reuseKey(requestHash) }));
  const item = res.Item;
  if (!item || num(item, 'expiresAt') * 1000 <= now.getTime()) return undefined;
  return toReuse(item);
}

/** Reuse entries over the jobs table. */
export function createReuseStore(t: JobsTable): ReuseStore {
  return {
    putReuse: (entry) => putReuse(t, entry),
    getReuse: (requestHash, now) => getReuse(t, requestHash, now),
  };
}
