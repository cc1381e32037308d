/**
 * Dropped files become batches: one per team, project and kind of a window (OpenAI batch
 * files: one per file), each object event claimed for its batch so that a redelivered event is
 * not planned twice.
 */
import pLimit from 'p-limit';
import {
  isKind,
  type Job,
  jobFromIntakeKey,
  parseIntakeKey,
  parseOpenAiBatchJsonl,
  type Rejection,
} from '../../inputs';
import { sha256Hex } from '../../prompts/keys';
import { PREFIXES } from '../../resources';
import type { Kind } from '../../types';
import type { PipelineDeps } from '../types';
import type { DropItem } from './records';
import { type BatchSpec, knownModelTest, PLANNING_STALE_AFTER_MS } from './spec';

/** Key of an OpenAI Batch API file dropped for a team: `intake/<team>/<project>/openai-batch/<kind>/<name>.jsonl`. */
export const OPENAI_BATCH_SEGMENT = 'openai-batch';

/** The batches of a window's dropped objects, and the earlier batches that own some of them. */
export interface DropBatches {
  specs: BatchSpec[];
  /** Batch id -> message ids of the records whose events that earlier batch already claimed. */
  claimedElsewhere: Map<string, string[]>;
}

/**
 * Groups dropped objects into one batch per team, project and kind (OpenAI JSONL files: one
 * batch per file). The batch id hashes the objects and their sequencers, so the same records
 * give the same batch and a file dropped again later starts a new one. Each object event is
 * claimed for its batch in the jobs table: an event an earlier batch already has (the same
 * key and sequencer delivered again in a later window) gets no job, and a group with nothing
 * left gets no batch; the earlier batch is returned in `claimedElsewhere`, so the caller can
 * make sure it was planned. Bad keys become rejections of a batch of the same team and
 * project (a batch of their own if there is none).
 */
export async function batchesFromDrops(
  drops: DropItem[],
  deps: Pick<PipelineDeps, 'objects' | 'settings' | 'clock' | 'jobs' | 'logger' | 'prices'>,
): Promise<DropBatches> {
  const now = deps.clock.now();
  const isKnownModel = knownModelTest(await deps.prices.catalog());
  const createdAt = now.toISOString();
  const model = deps.settings.defaultModel;
  const groups = new Map<
    string,
    { team: string; project: string; kind: Kind; keys: typeof drops }
  >();
  const jsonl: typeof drops = [];
  const bad: {
    drop: (typeof drops)[number];
    team: string;
    project: string;
    rejection: Rejection;
  }[] = [];
  for (const drop of drops) {
    const segments = drop.key.slice(PREFIXES.intake.length).split('/');
    if (segments[2] === OPENAI_BATCH_SEGMENT) {
      jsonl.push(drop);
      continue;
    }
    const parsed = parseIntakeKey(drop.key);
    if (!parsed.ok) {
      bad.push({
        drop,
        team: (segments[0] ?? 'unknown').toLowerCase(),
        project: (segments[1] ?? 'unknown').toLowerCase(),
        rejection: parsed.rejection,
      });
      continue;
    }
    if (parsed.value.role === 'context') continue;
    const { team, project, kind } = parsed.value;
    const id = `${team}/${project}/${kind}`;
    const group = groups.get(id) ?? { team, project, kind, keys: [] };
    if (!group.keys.some((k) => k.key === drop.key && k.sequencer === drop.sequencer))
      group.keys.push(drop);
    groups.set(id, group);
  }

  const specs: BatchSpec[] = [];
  const batchIdOf = (parts: string[], objects: { key: string; sequencer: string }[]) =>
    `drop-${sha256Hex([...parts, ...objects.map((d) => `${d.key}@${d.sequencer}`).sort()].join('\0')).slice(0, 32)}`;

  const claims = pLimit(deps.settings.concurrency.dropClaims);
  const claimedElsewhere = new Map<string, string[]>();
  const owned = await Promise.all(
    [...groups.values()].map(async (group) => {
      // The id hashes every record of the window, duplicates included, so a redelivery of the
      // same window computes it again and finds its own markers.
      const batchId = batchIdOf([group.team, group.project, group.kind], group.keys);
      const owners = await claims.map(group.keys, (drop) => claimDrop(drop, batchId, deps, now));
      owners.forEach((owner, i) => {
        const messageId = group.keys[i]?.messageId;
        if (owner === undefined || messageId === undefined) return;
        const ids = claimedElsewhere.get(owner) ?? [];
        if (!ids.includes(messageId)) ids.push(messageId);
        claimedElsewhere.set(owner, ids);
      });
      return { group, batchId, keys: group.keys.filter((_, i) => owners[i] === undefined) };
    }),
  );

  for (const { group, batchId, keys } of owned) {
    // Every record was planned by an earlier batch: nothing new, no batch.
    if (keys.length === 0) continue;
    const contextKeys = await contextKeysOf(deps.objects, group.team, group.project);
    const jobs: Job[] = [];
    const rejections: Rejection[] = [];
    const seen = new Set<string>();
    for (const drop of keys) {
      if (seen.has(drop.key)) continue;
      seen.add(drop.key);
      const made = jobFromIntakeKey(drop.key, {
        batchId,
        model,
        sensitivity: 'public',
        contextKeys,
      });
      if (made.ok) jobs.push(made.value);
      else rejections.push(made.rejection);
    }
    specs.push({
      batchId,
      team: group.team,
      project: group.project,
      kind: group.kind,
      model,
      sensitivity: 'public',
      createdAt,
      jobs,
      rejections,
      messageIds: [...new Set(keys.map((k) => k.messageId))],
    });
  }

  for (const drop of jsonl) {
    const [team = 'unknown', project = 'unknown', , kind = ''] = drop.key
      .slice(PREFIXES.intake.length)
      .split('/');
    const batchId = batchIdOf([OPENAI_BATCH_SEGMENT], [drop]);
    const spec: BatchSpec = {
      batchId,
      team: team.toLowerCase(),
      project: project.toLowerCase(),
      kind: isKind(kind) ? kind : 'docs',
      model,
      sensitivity: 'public',
      createdAt,
      jobs: [],
      rejections: [],
      messageIds: [drop.messageId],
    };
    if (!isKind(kind)) {
      spec.rejections.push({
        source: drop.key,
        code: 'unknown_kind',
        reason: `OpenAI batch files go under intake/<team>/<project>/${OPENAI_BATCH_SEGMENT}/<kind>/<name>.jsonl with kind docs or tests, got ${JSON.stringify(kind)}`,
      });
    } else {
      const bytes = await deps.objects.get(drop.key);
      const parsed = parseOpenAiBatchJsonl(bytes ?? new Uint8Array(), {
        source: drop.key,
        batchId,
        team: spec.team,
        project: spec.project,
        kind,
        sensitivity: 'public',
        isKnownModel,
      });
      spec.jobs.push(...parsed.jobs);
      spec.rejections.push(...parsed.rejections);
    }
    specs.push(spec);
  }

  // Bad keys join a batch of their team and project, so the person who dropped them sees why.
  const orphans = new Map<string, BatchSpec>();
  for (const b of bad) {
    const home =
      specs.find((s) => s.team === b.team && s.project === b.project) ??
      orphans.get(`${b.team}/${b.project}`);
    if (home) {
      home.rejections.push(b.rejection);
      if (!home.messageIds.includes(b.drop.messageId)) home.messageIds.push(b.drop.messageId);
      continue;
    }
    const spec: BatchSpec = {
      batchId: batchIdOf(['rejected', b.team, b.project], [b.drop]),
      team: b.team,
      project: b.project,
      kind: 'docs',
      model,
      sensitivity: 'public',
      createdAt,
      jobs: [],
      rejections: [b.rejection],
      messageIds: [b.drop.messageId],
    };
    orphans.set(`${b.team}/${b.project}`, spec);
    specs.push(spec);
  }
  return { specs, claimedElsewhere };
}

/**
 * Days a drop marker is kept: SQS keeps a message at most 14 days, so no delivery of an event
 * outlives its marker.
 */
export const DROP_MARKER_TTL_DAYS = 14;

/**
 * Claims a dropped object's event for a batch. Returns the earlier batch that has it, if any:
 * S3 and SQS deliver at least once, and a copy arriving in a later window would otherwise plan
 * the file, and bill it, a second time. An event with neither sequencer nor eTag cannot be
 * told apart from another and is always planned.
 */
async function claimDrop(
  drop: DropItem,
  batchId: string,
  deps: Pick<PipelineDeps, 'jobs' | 'logger'>,
  now: Date,
): Promise<string | undefined> {
  if (drop.sequencer === '') return undefined;
  const result = await deps.jobs.claimDrop(
    {
      key: drop.key,
      eventId: drop.sequencer,
      batchId,
      expiresAt: Math.floor(now.getTime() / 1000) + DROP_MARKER_TTL_DAYS * 86_400,
    },
    // A planner invocation ends within its timeout: a claim older than that whose batch does
    // not exist was left by a planning that failed, and its records come back in this window.
    { now, staleAfterMs: PLANNING_STALE_AFTER_MS },
  );
  if (result.claimed) return undefined;
  deps.logger?.info('duplicate S3 event skipped', {
    keyHash: sha256Hex(drop.key).slice(0, 16),
    batchId,
    ownerBatchId: result.owner,
    messageId: drop.messageId,
  });
  return result.owner;
}

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
