/**
 * Reuse entries: an identical request's earlier output (see JobsStore.putReuse and getReuse).
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ReuseItem } from '../../ports/jobs';
import { num } from '../dynamo';
import type { DropTable } from './drops';
import { newReuseItem, toReuse } from './items';
import { reuseKey } from './keys';

/** See JobsStore.putReuse: last writer wins, identical requests have interchangeable outputs. */
export async function putReuse({ ddb, table }: DropTable, entry: ReuseItem): Promise<void> {
  await ddb.send(new PutCommand({ TableName: table, Item: newReuseItem(entry) }));
}

/** See JobsStore.getReuse: none once expired (TTL deletes lazily). */
export async function getReuse(
  { ddb, table }: DropTable,
  requestHash: string,
  now: Date,
): Promise<ReuseItem | undefined> {
  const res = await ddb.send(new GetCommand({ TableName: table, Key: reuseKey(requestHash) }));
  const item = res.Item;
  if (!item || num(item, 'expiresAt') * 1000 <= now.getTime()) return undefined;
  return toReuse(item);
}
