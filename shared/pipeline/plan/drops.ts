/**
 * One drop = one batch. Files dropped under one `intake/<team>/<project>/<kind>/` prefix join
 * that prefix's open drop as their events arrive, whatever planner invocation (batching window)
 * they come in; the drop is closed and planned once no file has arrived for the quiet period
 * (close.ts). Here: which drop a dropped key belongs to, the join, and how a closed drop's
 * files become batch specs, split deterministically when there are more than one batch takes.
 */
import { randomBytes } from 'node:crypto';
import { isKind, type Job, jobFromIntakeKey, parseIntakeKey, type Rejection } from '../../inputs';
import type { ClosedDrop, DropFile, DropPrefix } from '../../ports/jobs';
import { sha256Hex } from '../../prompts/keys';
import { PREFIXES } from '../../resources';
import { sensitivityFloor } from '../sensitivity';
import type { PipelineDeps } from '../types';
import type { DropItem } from './records';
import type { BatchSpec } from './spec';

/**
 * Days a drop marker is kept: SQS keeps a message at most 14 days, so no delivery of an event
 * outlives its marker.
 */
export const DROP_MARKER_TTL_DAYS = 14;

/**
 * The drop a dropped key belongs to, or undefined for shared context (read when a drop is
 * planned, never planned itself). A key that is not a valid source still joins the drop of its
 * team and project (`docs` when its kind is unknown), so the person who dropped it sees why in
 * that batch's errors.
 */
export function dropPrefixOf(key: string): DropPrefix | undefined {
  const parsed = parseIntakeKey(key);
  if (parsed.ok) {
    if (parsed.value.role === 'context') return undefined;
    const { team, project, kind } = parsed.value;
    return { team, project, kind };
  }
  const [team = 'unknown', project = 'unknown', kind = ''] = key
    .slice(PREFIXES.intake.length)
    .split('/');
  return {
    team: team.toLowerCase(),
    project: project.toLowerCase(),
    kind: isKind(kind) ? kind : 'docs',
  };
}

/** Where a window's dropped files went: the drops they joined, and earlier owners of repeats. */
export interface DropJoins {
  /** Drop id -> its prefix and the message ids of the records whose files joined it. */
  joined: Map<string, { prefix: DropPrefix; messageIds: string[] }>;
  /**
   * Earlier drops (or batches), by `<team>/<id>`: the team of the files' prefix (a batch id is
   * unique only within its team), the owner's id, and the message ids of records whose events it
   * already had.
   */
  owned: Map<string, { team: string; ownerId: string; messageIds: string[] }>;
}

/**
 * Adds a window's dropped files to the open drops of their prefixes, one join per prefix. An
 * event with neither sequencer nor eTag is told apart by its SQS message id.
 */
export async function joinDrops(
  drops: readonly DropItem[],
  deps: Pick<PipelineDeps, 'jobs' | 'clock' | 'logger'>,
): Promise<DropJoins> {
  const now = deps.clock.now();
  const expiresAt = Math.floor(now.getTime() / 1000) + DROP_MARKER_TTL_DAYS * 86_400;
  const byPrefix = new Map<string, { prefix: DropPrefix; items: DropItem[] }>();
  for (const drop of drops) {
    const prefix = dropPrefixOf(drop.key);
    if (!prefix) continue;
    const id = `${prefix.team}/${prefix.project}/${prefix.kind}`;
    const group = byPrefix.get(id) ?? { prefix, items: [] };
    group.items.push(drop);
    byPrefix.set(id, group);
  }
  const result: DropJoins = { joined: new Map(), owned: new Map() };
  for (const { prefix, items } of byPrefix.values()) {
    const events = items.map((d) => ({
      key: d.key,
      eventId: d.sequencer || d.messageId,
      expiresAt,
    }));
    // A fresh id each time: a drop is opened by one committed join, which every later join then
    // reads, so nothing needs to name it again; and an event of a closed drop, delivered again,
    // must not reopen a drop of the same name.
    const newDropId = `drop-${randomBytes(16).toString('hex')}`;
    const out = await deps.jobs.joinDrop(prefix, events, { now, newDropId });
    for (const { index, dropId } of out.joined) {
      const entry = result.joined.get(dropId) ?? { prefix, messageIds: [] };
      const messageId = items[index]?.messageId;
      if (messageId !== undefined && !entry.messageIds.includes(messageId))
        entry.messageIds.push(messageId);
      result.joined.set(dropId, entry);
    }
    for (const { index, owner } of out.owned) {
      const item = items[index];
      if (!item) continue;
      const entry = result.owned.get(`${prefix.team}/${owner}`) ?? {
        team: prefix.team,
        ownerId: owner,
        messageIds: [],
      };
      if (!entry.messageIds.includes(item.messageId)) entry.messageIds.push(item.messageId);
      result.owned.set(`${prefix.team}/${owner}`, entry);
      deps.logger?.info('duplicate S3 event skipped', {
        keyHash: sha256Hex(item.key).slice(0, 16),
        team: prefix.team,
        ownerId: owner,
        messageId: item.messageId,
      });
    }
    for (const dropId of out.opened)
      deps.logger?.info('drop opened', { dropId, team: prefix.team, project: prefix.project });
  }
  return result;
}

/** The batch ids a drop of `sources` source files is planned as: itself, or numbered parts. */
export function batchIdsOf(dropId: string, sources: number, maxFilesPerBatch: number): string[] {
  const parts = Math.max(1, Math.ceil(sources / maxFilesPerBatch));
  if (parts === 1) return [dropId];
  return Array.from({ length: parts }, (_, i) => `${dropId}-${i + 1}`);
}

/**
 * A drop's distinct keys in code-point order: sources to plan, and keys that cannot be. Only keys
 * of the drop's own prefix count: a drop's batches are its team's, and the open drop's item
 * (whose dropId names where files go) is one a team's own credentials may update.
 */
function sortedKeys(
  files: readonly DropFile[],
  prefix: DropPrefix,
): { sources: string[]; bad: string[] } {
  const ofPrefix = (key: string) => {
    const p = dropPrefixOf(key);
    return p?.team === prefix.team && p.project === prefix.project && p.kind === prefix.kind;
  };
  const keys = [...new Set(files.map((f) => f.key))]
    .filter(ofPrefix)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const sources: string[] = [];
  const bad: string[] = [];
  for (const key of keys) {
    const parsed = parseIntakeKey(key);
    if (parsed.ok && parsed.value.role === 'source') sources.push(key);
    else if (!parsed.ok) bad.push(key);
  }
  return { sources, bad };
}

/** The batch ids of a drop's files, as `dropSpecs` will name them. */
export function batchIdsOfFiles(
  drop: DropPrefix & { dropId: string },
  files: readonly DropFile[],
  maxFilesPerBatch: number,
): string[] {
  return batchIdsOf(drop.dropId, sortedKeys(files, drop).sources.length, maxFilesPerBatch);
}

/**
 * The batches of a closed drop: its source files in key order, cut into parts of at most
 * `maxFilesPerBatch` (so the same files always give the same batches), keys that are not valid
 * sources as rejections of the first. Every batch is created at the drop's close.
 */
export async function dropSpecs(
  drop: Pick<ClosedDrop, 'dropId' | 'team' | 'project' | 'kind' | 'closedAt'>,
  files: readonly DropFile[],
  deps: Pick<PipelineDeps, 'objects' | 'settings'>,
  messageIds: readonly string[],
): Promise<BatchSpec[]> {
  const { maxFilesPerBatch } = deps.settings.drops;
  const { sources, bad } = sortedKeys(files, drop);
  const batchIds = batchIdsOf(drop.dropId, sources.length, maxFilesPerBatch);
  const contextKeys = await contextKeysOf(deps.objects, drop.team, drop.project);
  const model = deps.settings.defaultModel;
  const sensitivity = sensitivityFloor(deps.settings, drop.team, drop.project);
  return batchIds.map((batchId, part) => {
    const jobs: Job[] = [];
    const rejections: Rejection[] = [];
    const keys = sources.slice(part * maxFilesPerBatch, (part + 1) * maxFilesPerBatch);
    for (const key of part === 0 ? [...keys, ...bad] : keys) {
      const made = jobFromIntakeKey(key, { batchId, model, sensitivity, contextKeys });
      if (made.ok) jobs.push(made.value);
      else rejections.push(made.rejection);
    }
    return {
      batchId,
      team: drop.team,
      project: drop.project,
      kind: drop.kind,
      model,
      sensitivity,
      createdAt: drop.closedAt,
      jobs,
      rejections,
      messageIds: [...messageIds],
    };
  });
}

/** The project's shared context files, listed when its drop is planned. */
async function contextKeysOf(
  objects: PipelineDeps['objects'],
  team: string,
  project: string,
): Promise<string[]> {
  const keys = await objects.list(`${PREFIXES.intake}${team}/${project}/context/`);
  return keys.filter((k) => {
    const parsed = parseIntakeKey(k);
    return parsed.ok && parsed.value.role === 'context';
  });
}
