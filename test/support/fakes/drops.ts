/**
 * An in-memory DropsStore with the adapter's rules: an event belongs to exactly one drop (its
 * marker names it, until the marker expires), a redelivered event of the open drop joins it
 * again, and a drop closes only if no file joined since its closer read it.
 */
import type { DropEvent, DropsStore, JoinedDrop, OpenDrop } from '../../../shared/ports/jobs';
import { byCodeUnit, copy, type FakeJobsTable, newFakeJobsTable } from './table';

const prefixKey = (p: { team: string; project: string; kind: string }) =>
  `${p.team}/${p.project}/${p.kind}`;
const eventKey = (e: { key: string; eventId: string }) => `${e.key}\0${e.eventId}`;

function openDrop(table: FakeJobsTable, prefix: Parameters<DropsStore['getOpenDrop']>[0]) {
  const drop = table.openDrops.get(prefixKey(prefix));
  if (drop?.status !== 'open') return undefined;
  const { status: _status, ...open } = drop;
  return open;
}

function joinDrop(
  table: FakeJobsTable,
  prefix: Parameters<DropsStore['joinDrop']>[0],
  events: readonly DropEvent[],
  { now, newDropId }: { now: Date; newDropId: string },
): JoinedDrop {
  const result: JoinedDrop = { joined: [], owned: [], opened: [] };
  const nowS = Math.floor(now.getTime() / 1000);
  const at = now.toISOString();
  const dropId = openDrop(table, prefix)?.dropId ?? newDropId;
  const seen = new Map<string, { dropId?: string; owner?: string }>();
  let arrivals = 0;
  events.forEach((event, index) => {
    const id = eventKey(event);
    const twin = seen.get(id);
    if (twin) {
      // An event given twice joins once, for both, as one transaction cannot touch it twice.
      if (twin.dropId) result.joined.push({ index, dropId: twin.dropId });
      else result.owned.push({ index, owner: twin.owner ?? '' });
      return;
    }
    const marker = table.markers.get(id);
    // TTL deletes lazily, so an expired marker counts as absent.
    if (marker && marker.owner !== dropId && marker.expiresAt >= nowS) {
      result.owned.push({ index, owner: marker.owner });
      seen.set(id, { owner: marker.owner });
      return;
    }
    table.markers.set(id, { owner: dropId, expiresAt: event.expiresAt });
    const files = table.dropFiles.get(dropId) ?? new Map();
    files.set(id, { key: event.key, eventId: event.eventId, arrivedAt: at });
    table.dropFiles.set(dropId, files);
    result.joined.push({ index, dropId });
    seen.set(id, { dropId });
    arrivals += 1;
  });
  if (arrivals === 0) return result;
  const open = openDrop(table, prefix);
  if (open) {
    table.openDrops.set(prefixKey(prefix), {
      ...open,
      status: 'open',
      lastArrivalAt: at,
      arrivals: open.arrivals + arrivals,
    });
  } else {
    const { team, project, kind } = prefix;
    table.openDrops.set(prefixKey(prefix), {
      team,
      project,
      kind,
      dropId,
      status: 'open',
      openedAt: at,
      lastArrivalAt: at,
      arrivals,
    });
    result.opened.push(dropId);
  }
  return result;
}

function closeDrop(
  table: FakeJobsTable,
  drop: OpenDrop,
  closed: { closedAt: Date; files: number; batchIds: string[] },
): boolean {
  const current = table.openDrops.get(prefixKey(drop));
  if (
    current?.status !== 'open' ||
    current.dropId !== drop.dropId ||
    current.arrivals !== drop.arrivals ||
    table.closedDrops.has(drop.dropId)
  )
    return false;
  current.status = 'closed';
  table.closedDrops.set(drop.dropId, {
    dropId: drop.dropId,
    team: drop.team,
    project: drop.project,
    kind: drop.kind,
    openedAt: drop.openedAt,
    closedAt: closed.closedAt.toISOString(),
    files: closed.files,
    batchIds: [...closed.batchIds],
  });
  return true;
}

/** Drops in memory, in `table` (a fresh one unless given). */
export function fakeDropsStore(table: FakeJobsTable = newFakeJobsTable()): DropsStore {
  return {
    joinDrop: async (prefix, events, options) => joinDrop(table, prefix, events, options),
    getOpenDrop: async (prefix) => copy(openDrop(table, prefix)),
    listDropFiles: async (dropId) =>
      [...(table.dropFiles.get(dropId)?.values() ?? [])]
        .map(copy)
        .sort((a, b) => byCodeUnit(a.key, b.key) || byCodeUnit(a.eventId, b.eventId)),
    closeDrop: async (drop, closed) => closeDrop(table, drop, closed),
    getClosedDrop: async (dropId) => copy(table.closedDrops.get(dropId)),
  };
}
