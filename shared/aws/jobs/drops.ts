/**
 * Drops in the jobs table: the open drop of each prefix, the file events that joined it, and the
 * marker of each event naming the drop that has it, so that an event delivered again is never
 * planned (and billed) twice. A file joins in one transaction with its marker and the open
 * drop's version, and a drop closes only if that version is the one its closer read: a file
 * either joins before the close, and is planned with the drop, or finds it closed and opens the
 * next one.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type {
  ClosedDrop,
  DropEvent,
  DropFile,
  DropPrefix,
  DropsStore,
  JoinedDrop,
  OpenDrop,
} from '../../ports/jobs';
import { KINDS } from '../../types';
import {
  conditionFailed,
  names,
  queryAll,
  StoreConflictError,
  type TransactItem,
  transact,
} from '../dynamo';
import { parseItem } from './items';
import { closedDropKey, DROP_FILE_SK_PREFIX, dropFileKey, dropKey, openDropKey } from './keys';
import type { JobsTable } from './table';

/** The table drops live in, and how conflicting transactions are retried. */
export type DropTable = JobsTable;

/** Drops over the jobs table. */
export function createDropsStore(t: JobsTable): DropsStore {
  return {
    joinDrop: (prefix, events, options) => joinDrop(t, prefix, events, options),
    getOpenDrop: (prefix) => getOpenDrop(t, prefix),
    listDropFiles: (dropId) => listDropFiles(t, dropId),
    closeDrop: (drop, closed) => closeDrop(t, drop, closed),
    getClosedDrop: (dropId) => getClosedDrop(t, dropId),
  };
}

/** Joins retried when the open drop changed under them (closed, or opened by another file). */
const JOIN_ATTEMPTS = 5;

const prefixShape = { team: z.string(), project: z.string(), kind: z.enum(KINDS) };
const OpenDropSchema = z.object({
  ...prefixShape,
  status: z.enum(['open', 'closed']),
  dropId: z.string(),
  openedAt: z.string(),
  lastArrivalAt: z.string(),
  arrivals: z.number(),
});
const DropFileSchema = z.object({ key: z.string(), eventId: z.string(), arrivedAt: z.string() });
const ClosedDropSchema = z.object({
  ...prefixShape,
  dropId: z.string(),
  openedAt: z.string(),
  closedAt: z.string(),
  files: z.number(),
  batchIds: z.array(z.string()),
});

/** The open drop of a prefix, if any. */
export async function getOpenDrop(
  { ddb, table }: DropTable,
  prefix: DropPrefix,
): Promise<OpenDrop | undefined> {
  const res = await ddb.send(
    new GetCommand({
      TableName: table,
      Key: openDropKey(prefix.team, prefix.project, prefix.kind),
      ConsistentRead: true,
    }),
  );
  if (!res.Item) return undefined;
  // A closed drop's item stays (the planner may not delete), marked closed, until the next opens.
  const { status, ...drop } = parseItem(OpenDropSchema, res.Item, 'open drop');
  // The key, not an attribute, says whose drop it is: a team may update its own open drop.
  const { team, project, kind } = prefix;
  return status === 'open' ? { ...drop, team, project, kind } : undefined;
}

/** Events per join transaction: the drop's version, then a marker and a file item each (<= 100). */
const EVENTS_PER_TRANSACTION = 40;

/** See JobsStore.joinDrop. */
export async function joinDrop(
  t: DropTable,
  prefix: DropPrefix,
  events: readonly DropEvent[],
  { now, newDropId }: { now: Date; newDropId: string },
): Promise<JoinedDrop> {
  const result: JoinedDrop = { joined: [], owned: [], opened: [] };
  // One transaction may not touch an item twice: an event given twice joins once, for both.
  const first = new Map<string, number>();
  const twins: { index: number; of: number }[] = [];
  events.forEach((e, index) => {
    const id = `${e.key}\0${e.eventId}`;
    const seen = first.get(id);
    if (seen === undefined) first.set(id, index);
    else twins.push({ index, of: seen });
  });
  const unique = [...first.values()];
  for (let i = 0; i < unique.length; i += EVENTS_PER_TRANSACTION) {
    let chunk = unique.slice(i, i + EVENTS_PER_TRANSACTION);
    let changes = 0;
    while (chunk.length > 0) {
      const open = await getOpenDrop(t, prefix);
      const dropId = open?.dropId ?? newDropId;
      const outcome = await transact(
        t.ddb,
        [
          versionWrite(t.table, prefix, open, dropId, chunk.length, now),
          ...chunk.flatMap((index) =>
            eventWrites(t.table, events[index] as DropEvent, dropId, now),
          ),
        ],
        t.retry,
      );
      if (outcome.ok) {
        for (const index of chunk) result.joined.push({ index, dropId });
        if (!open) result.opened.push(dropId);
        break;
      }
      // Item 0 is the drop's version; then each event's marker and file item.
      const owned = chunk.filter((_, k) => conditionFailed(outcome.reasons, 1 + 2 * k));
      for (const index of owned) {
        const k = chunk.indexOf(index);
        result.owned.push({ index, owner: outcome.reasons[1 + 2 * k]?.item?.batchId?.S ?? '' });
      }
      if (owned.length > 0) {
        chunk = chunk.filter((index) => !owned.includes(index));
        continue;
      }
      // The open drop changed between the read and the write (closed, or opened by another
      // planner): read it again.
      if (++changes >= JOIN_ATTEMPTS)
        throw new StoreConflictError(
          `the open drop of ${prefix.team}/${prefix.project}/${prefix.kind} kept changing while files joined it`,
        );
    }
  }
  for (const { index, of } of twins) {
    const joined = result.joined.find((j) => j.index === of);
    const owned = result.owned.find((o) => o.index === of);
    if (joined) result.joined.push({ index, dropId: joined.dropId });
    if (owned) result.owned.push({ index, owner: owned.owner });
  }
  return result;
}

/** Opens the prefix's drop, or moves the open one's version on by the events joining it. */
function versionWrite(
  table: string,
  prefix: DropPrefix,
  open: OpenDrop | undefined,
  dropId: string,
  events: number,
  now: Date,
): TransactItem {
  const key = openDropKey(prefix.team, prefix.project, prefix.kind);
  const at = now.toISOString();
  if (open)
    return {
      Update: {
        TableName: table,
        Key: key,
        UpdateExpression: 'SET lastArrivalAt = :now ADD #arrivals :n',
        ConditionExpression: 'dropId = :drop AND #status = :open',
        ExpressionAttributeNames: names('arrivals', 'status'),
        ExpressionAttributeValues: { ':now': at, ':n': events, ':drop': dropId, ':open': 'open' },
      },
    };
  return {
    Put: {
      TableName: table,
      Item: {
        ...key,
        type: 'drop-open',
        status: 'open',
        dropId,
        team: prefix.team,
        project: prefix.project,
        kind: prefix.kind,
        openedAt: at,
        lastArrivalAt: at,
        arrivals: events,
      },
      ConditionExpression: 'attribute_not_exists(pk) OR #status = :closed',
      ExpressionAttributeNames: names('status'),
      ExpressionAttributeValues: { ':closed': 'closed' },
    },
  };
}

/** An event's marker (unless an earlier drop has it) and its file item in the drop. */
function eventWrites(table: string, event: DropEvent, dropId: string, now: Date): TransactItem[] {
  const at = now.toISOString();
  return [
    {
      Put: {
        TableName: table,
        Item: {
          ...dropKey(event.key, event.eventId),
          type: 'drop',
          key: event.key,
          eventId: event.eventId,
          // The owner keeps the attribute name from when events were claimed by batches.
          batchId: dropId,
          claimedAt: at,
          expiresAt: event.expiresAt,
        },
        // TTL deletes lazily, so an expired marker counts as absent.
        ConditionExpression: 'attribute_not_exists(pk) OR batchId = :drop OR expiresAt < :nowS',
        ExpressionAttributeValues: { ':drop': dropId, ':nowS': Math.floor(now.getTime() / 1000) },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    {
      Put: {
        TableName: table,
        Item: {
          ...dropFileKey(dropId, event.key, event.eventId),
          type: 'drop-file',
          dropId,
          key: event.key,
          eventId: event.eventId,
          arrivedAt: at,
        },
      },
    },
  ];
}

/** Every file event of a drop, in key order, then event order. */
export async function listDropFiles(
  { ddb, table }: DropTable,
  dropId: string,
): Promise<DropFile[]> {
  const items = await queryAll(ddb, {
    TableName: table,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :file)',
    ExpressionAttributeValues: { ':pk': closedDropKey(dropId).pk, ':file': DROP_FILE_SK_PREFIX },
    ConsistentRead: true,
  });
  return items
    .map((item) => parseItem(DropFileSchema, item, 'drop file'))
    .sort((a, b) =>
      a.key < b.key
        ? -1
        : a.key > b.key
          ? 1
          : a.eventId < b.eventId
            ? -1
            : a.eventId > b.eventId
              ? 1
              : 0,
    );
}

/** See JobsStore.closeDrop. */
export async function closeDrop(
  t: DropTable,
  drop: OpenDrop,
  closed: { closedAt: Date; files: number; batchIds: string[] },
): Promise<boolean> {
  const record: ClosedDrop = {
    dropId: drop.dropId,
    team: drop.team,
    project: drop.project,
    kind: drop.kind,
    openedAt: drop.openedAt,
    closedAt: closed.closedAt.toISOString(),
    files: closed.files,
    batchIds: closed.batchIds,
  };
  const outcome = await transact(
    t.ddb,
    [
      {
        // Marked closed rather than deleted: the pipeline's roles may not delete items.
        Update: {
          TableName: t.table,
          Key: openDropKey(drop.team, drop.project, drop.kind),
          UpdateExpression: 'SET #status = :closed, closedAt = :at',
          ConditionExpression: 'dropId = :drop AND #arrivals = :arrivals AND #status = :open',
          ExpressionAttributeNames: names('arrivals', 'status'),
          ExpressionAttributeValues: {
            ':drop': drop.dropId,
            ':arrivals': drop.arrivals,
            ':open': 'open',
            ':closed': 'closed',
            ':at': record.closedAt,
          },
        },
      },
      {
        Put: {
          TableName: t.table,
          Item: { ...closedDropKey(drop.dropId), type: 'drop-closed', ...record },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ],
    t.retry,
  );
  return outcome.ok;
}

/** A closed drop's record, if `dropId` names one. */
export async function getClosedDrop(
  { ddb, table }: DropTable,
  dropId: string,
): Promise<ClosedDrop | undefined> {
  const res = await ddb.send(
    new GetCommand({ TableName: table, Key: closedDropKey(dropId), ConsistentRead: true }),
  );
  return res.Item ? parseItem(ClosedDropSchema, res.Item, 'closed drop') : undefined;
}
