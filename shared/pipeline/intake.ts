/**
 * The planner's domain: intake queue records (S3 notifications, deferred batches) become
 * batches of jobs in the jobs table, each job ending at once (bad input, reuse, budget) or
 * planned into work messages grouped by prefix key.
 *
 * Every step can run twice: the batch id is derived from the records, jobs are created if
 * absent, reservations of a batch that already existed are given back, jobs are ended only
 * from `pending`, and work messages carry deduplication ids.
 */
import pLimit from 'p-limit';
import {
  BATCH_ID_PATTERN,
  checkContent,
  isKind,
  type Job,
  jobFromIntakeKey,
  jobsFromManifest,
  parseIntakeKey,
  parseManifest,
  parseOpenAiBatchJsonl,
  type Rejection,
} from '../inputs';
import { planBatch } from '../planner';
import type { JobEnd, JobItem, NewBatch, NewJob } from '../ports/jobs';
import { monthOf } from '../ports/ledger';
import { CATALOG, type PriceRow } from '../pricing/catalog';
import { costAtPrice, isPeak, knownModels, resolvePrice } from '../pricing/cost';
import {
  buildMessages,
  type ContextFile,
  languageOf,
  prefixKey as prefixKeyOf,
  prefixMessages,
  requestHash as requestHashOf,
  sharedContextFrom,
} from '../prompts';
import { sha256Hex } from '../prompts/keys';
import { FUNCTIONS, PREFIXES } from '../resources';
import { estimateTokens } from '../tokens';
import type { ChatMessage, Kind } from '../types';
import {
  type DeferredBody,
  DeferredBodySchema,
  type FinalizeBody,
  parseBody,
  type WorkBody,
  type WorkJob,
  workDedupId,
  workGroupId,
} from './messages';
import type { PipelineDeps } from './types';

/** One record of the intake queue, as the handler hands it over. */
export interface IntakeRecord {
  messageId: string;
  body: string;
}

/** Key of an OpenAI Batch API file dropped for a team: `intake/<team>/<project>/openai-batch/<kind>/<name>.jsonl`. */
export const OPENAI_BATCH_SEGMENT = 'openai-batch';

/** The request the worker sends for a job, stored so that every attempt sends the same bytes. */
export interface StoredRequest {
  model: string;
  messages: ChatMessage[];
  maxTokens: number;
}

/** Key of a job's stored request. */
export function requestKeyFor(batchId: string, jobId: string): string {
  return `${PREFIXES.batches}${batchId}/requests/${jobId}.json`;
}

/** Key of the input rejections of a batch (inputs that never became jobs), read by finalize. */
export function rejectionsKeyFor(batchId: string): string {
  return `${PREFIXES.batches}${batchId}/rejections.json`;
}

/** Decodes a key as S3 writes it into notifications: '+' is a space, then percent-decoding. */
export function decodeEventKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

type Item =
  | { type: 'drop'; messageId: string; key: string; sequencer: string }
  | { type: 'manifest'; messageId: string; key: string }
  | { type: 'deferred'; messageId: string; body: DeferredBody };

/** Models with a price in the catalog; manifests and OpenAI batch lines must name one. */
const KNOWN_MODELS = new Set(knownModels());
const isKnownModel = (model: string) => KNOWN_MODELS.has(model);

const MANIFEST_KEY = /^batches\/([^/]+)\/manifest\.json$/;

/**
 * Reads the items of one intake record: the objects of an S3 notification (an `s3:TestEvent`
 * has none), or a deferred batch. Keys outside `intake/` and manifests are ignored.
 */
export function itemsOf(record: IntakeRecord): Item[] {
  let raw: unknown;
  try {
    raw = JSON.parse(record.body);
  } catch {
    return [];
  }
  if (!raw || typeof raw !== 'object') return [];
  const obj = raw as Record<string, unknown>;
  if (obj.Event === 's3:TestEvent') return [];
  if (obj.type === 'deferred-batch')
    return [
      {
        type: 'deferred',
        messageId: record.messageId,
        body: parseBody(DeferredBodySchema, record.body, 'deferred batch'),
      },
    ];
  const records = Array.isArray(obj.Records) ? obj.Records : [];
  const items: Item[] = [];
  for (const r of records) {
    const object = (
      r as { s3?: { object?: { key?: unknown; sequencer?: unknown; eTag?: unknown } } }
    )?.s3?.object;
    if (typeof object?.key !== 'string') continue;
    const key = decodeEventKey(object.key);
    const sequencer = String(object.sequencer ?? object.eTag ?? '');
    if (MANIFEST_KEY.test(key)) items.push({ type: 'manifest', messageId: record.messageId, key });
    else if (key.startsWith(PREFIXES.intake))
      items.push({ type: 'drop', messageId: record.messageId, key, sequencer });
  }
  return items;
}

/** A batch about to be planned: its settings, its jobs and the inputs that became none. */
export interface BatchSpec extends NewBatch {
  jobs: Job[];
  rejections: Rejection[];
  /** Batch budget from a manifest, on top of the team's monthly cap. */
  budgetNanoUsd?: number;
  /** Records the batch came from; they fail together when planning fails. */
  messageIds: string[];
}

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
  drops: Extract<Item, { type: 'drop' }>[],
  deps: Pick<PipelineDeps, 'objects' | 'settings' | 'clock' | 'jobs' | 'logger'>,
): Promise<DropBatches> {
  const now = deps.clock.now();
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

  const claims = pLimit(DROP_CLAIM_CONCURRENCY);
  const claimedElsewhere = new Map<string, string[]>();
  const owned = await Promise.all(
    [...groups.values()].map(async (group) => {
      // The id hashes every record of the window, duplicates included, so a redelivery of the
      // same window computes it again and finds its own markers.
      const batchId = batchIdOf([group.team, group.project, group.kind], group.keys);
      const owners = await Promise.all(
        group.keys.map((drop) => claims(() => claimDrop(drop, batchId, deps, now))),
      );
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

/** Parallel marker claims of one planner invocation. */
const DROP_CLAIM_CONCURRENCY = 16;

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
  drop: Extract<Item, { type: 'drop' }>,
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

/** The decision on deferring a batch to the provider's off-peak hours. */
export type OffPeakDecision = { defer: false; reason: string } | { defer: true; until: Date };

/**
 * Whether a batch that prefers off-peak prices should wait: only when its model has peak
 * prices, it is peak time now, and the next off-peak start still leaves `minRunMs` before the
 * deadline. Pure: the clock and the catalog are arguments.
 */
export function offPeakDecision(input: {
  model: string;
  now: Date;
  deadline?: string;
  preferOffPeak?: boolean;
  minRunMs?: number;
  catalog?: readonly PriceRow[];
}): OffPeakDecision {
  if (!input.preferOffPeak) return { defer: false, reason: 'the batch does not prefer off-peak' };
  if (!input.deadline) return { defer: false, reason: 'the batch has no deadline' };
  const catalog = input.catalog ?? CATALOG;
  let row: PriceRow;
  try {
    row = resolvePrice(input.model, input.now, catalog).row;
  } catch {
    return { defer: false, reason: 'the model has no price in force' };
  }
  const schedule = row.peak;
  if (!schedule) return { defer: false, reason: 'the model has no peak prices' };
  if (!isPeak(schedule, input.now)) return { defer: false, reason: 'it is off-peak now' };
  const hour = 3_600_000;
  let t = Math.ceil((input.now.getTime() + 1) / hour) * hour;
  for (let i = 0; i < 24 * 8 && isPeak(schedule, new Date(t)); i++) t += hour;
  const until = new Date(t);
  const deadline = Date.parse(input.deadline);
  if (until.getTime() + (input.minRunMs ?? hour) > deadline)
    return { defer: false, reason: 'the deadline does not leave time to wait for off-peak' };
  return { defer: true, until };
}

/** Re-sends a deferred batch to the intake queue, delayed by at most `maxDeferDelaySeconds`. */
async function sendDeferred(body: DeferredBody, deps: PipelineDeps): Promise<void> {
  const url = deps.queueUrls.intake;
  if (!url) throw new Error('no intake queue URL: cannot defer a batch');
  const waitS = Math.ceil((Date.parse(body.notBefore) - deps.clock.now().getTime()) / 1000);
  await deps.queues.send(url, [
    {
      body: JSON.stringify(body),
      delaySeconds: Math.max(0, Math.min(deps.settings.maxDeferDelaySeconds, waitS)),
    },
  ]);
}

/** Reads a manifest into a batch spec, a deferral, or a rejections-only batch. */
async function fromManifest(
  key: string,
  messageId: string,
  deps: PipelineDeps,
  mayDefer: boolean,
): Promise<BatchSpec | { deferred: DeferredBody } | undefined> {
  const now = deps.clock.now();
  const keyBatchId = MANIFEST_KEY.exec(key)?.[1] ?? '';
  const bytes = await deps.objects.get(key);
  if (bytes === undefined) return undefined;
  const parsed = parseManifest(key, bytes);
  if (!parsed.ok) {
    if (!BATCH_ID_PATTERN.test(keyBatchId)) return undefined;
    return {
      batchId: keyBatchId,
      team: 'unknown',
      project: 'unknown',
      kind: 'docs',
      model: deps.settings.defaultModel,
      sensitivity: 'public',
      createdAt: now.toISOString(),
      jobs: [],
      rejections: [parsed.rejection],
      messageIds: [messageId],
    };
  }
  const m = parsed.value;
  if (mayDefer && deps.queueUrls.intake) {
    const decision = offPeakDecision({
      model: m.model,
      now,
      deadline: m.deadline,
      preferOffPeak: m.preferOffPeak,
    });
    if (decision.defer)
      return {
        deferred: {
          type: 'deferred-batch',
          manifestKey: key,
          notBefore: decision.until.toISOString(),
        },
      };
  }
  const { jobs, rejections } = jobsFromManifest(key, m, {
    isKnownModel,
  });
  const ci = m.ci
    ? Object.fromEntries(
        Object.entries(m.ci).filter((e): e is [string, string] => e[1] !== undefined),
      )
    : undefined;
  return {
    batchId: m.batchId,
    team: m.team,
    project: m.project,
    kind: m.kind,
    model: m.model,
    sensitivity: m.sensitivity,
    createdAt: m.createdAt,
    ...(m.deadline ? { deadline: m.deadline } : {}),
    ...(m.preferOffPeak !== undefined ? { preferOffPeak: m.preferOffPeak } : {}),
    ...(ci ? { ci } : {}),
    ...(m.budgetNanoUsd !== undefined ? { budgetNanoUsd: m.budgetNanoUsd } : {}),
    jobs,
    rejections,
    messageIds: [messageId],
  };
}

/** What the planner decided for one job. */
type Decision =
  | { kind: 'failed'; code: string; reason: string }
  | { kind: 'reused'; responseId: string }
  | { kind: 'skipped_budget'; reason: string }
  | ({
      kind: 'llm';
      request: StoredRequest;
      requestHash: string;
      estimateNanoUsd: number;
    } & RequestShape);

/** Per-message framing tokens of the chat template, added to estimates. */
const MESSAGE_OVERHEAD_TOKENS = 4;

const tokensOf = (messages: readonly ChatMessage[]) =>
  messages.reduce((n, m) => n + estimateTokens(m.content) + MESSAGE_OVERHEAD_TOKENS, 0);

const usd = (nano: number) => `$${(nano / 1e9).toFixed(6)}`;

/** Loads a batch's context files once, leaving out (and reporting) the bad ones. */
function contextLoader(deps: PipelineDeps, spec: BatchSpec) {
  const cache = new Map<string, Promise<ContextFile | undefined>>();
  const load = (key: string) => {
    let p = cache.get(key);
    if (!p) {
      p = (async () => {
        const bytes = await deps.objects.get(key);
        const checked = checkContent(key, bytes ?? new Uint8Array(), {
          maxBytes: deps.settings.maxFileBytes,
        });
        if (!checked.ok) {
          spec.rejections.push({
            ...checked.rejection,
            reason: `shared context file left out: ${checked.rejection.reason}`,
          });
          return undefined;
        }
        const path = key.startsWith(PREFIXES.intake)
          ? key.split('/').slice(4).join('/')
          : key.split('/').slice(3).join('/');
        return { path, content: checked.value };
      })();
      cache.set(key, p);
    }
    return p;
  };
  return async (keys: readonly string[]) =>
    (await Promise.all(keys.map(load))).filter((f): f is ContextFile => f !== undefined);
}

async function decide(
  job: Job,
  deps: PipelineDeps,
  loadContext: ReturnType<typeof contextLoader>,
): Promise<Decision> {
  const { settings } = deps;
  const now = deps.clock.now();
  if (job.sensitivity !== 'public' && !settings.endpoints[job.sensitivity])
    return {
      kind: 'failed',
      code: 'no_endpoint',
      reason: `no LLM endpoint is configured for ${job.sensitivity} inputs, and they are never sent to the public endpoint: configure endpoints.${job.sensitivity}`,
    };
  let price: ReturnType<typeof resolvePrice>;
  try {
    price = resolvePrice(job.model, now);
  } catch (err) {
    return { kind: 'failed', code: 'unknown_model', reason: (err as Error).message };
  }
  const maxTokens = job.request?.maxTokens ?? settings.maxOutputTokens[job.kind];
  let messages: ChatMessage[];
  if (job.request) {
    messages = job.request.messages;
  } else {
    const bytes = await deps.objects.get(job.inputKey);
    if (bytes === undefined)
      return {
        kind: 'failed',
        code: 'missing',
        reason: `input object ${job.inputKey} does not exist: upload it`,
      };
    const checked = checkContent(job.inputKey, bytes, { maxBytes: settings.maxFileBytes });
    if (!checked.ok)
      return {
        kind: 'failed',
        code: checked.rejection.code,
        reason: `${job.path}: ${checked.rejection.reason}`,
      };
    const context = await loadContext(job.contextKeys);
    messages = buildMessages({
      kind: job.kind,
      language: languageOf(job.path),
      sharedContext: sharedContextFrom(context),
      path: job.path,
      content: checked.value,
    });
  }
  const requestHash = requestHashOf(job.model, messages, { maxTokens });
  const reuse = await deps.jobs.getReuse(requestHash, now);
  // The copy itself tells whether the earlier output still exists (it may have expired).
  if (
    reuse &&
    reuse.outputKey !== job.outputKey &&
    (await deps.objects.copy(reuse.outputKey, job.outputKey))
  ) {
    return { kind: 'reused', responseId: reuse.responseId };
  }
  const request: StoredRequest = { model: job.model, messages, maxTokens };
  const shape = shapeOf(request);
  const estimateNanoUsd = costAtPrice(price, {
    promptHitTokens: 0,
    promptMissTokens: shape.prefixTokens + shape.uniqueTokens,
    completionTokens: maxTokens,
    reasoningTokens: 0,
  }).totalNanoUsd;
  return { kind: 'llm', request, requestHash, ...shape, estimateNanoUsd };
}

/** What grouping and chunking need of a request: its prefix key and its token counts. */
type RequestShape = Pick<WorkJob, 'prefixKey' | 'prefixTokens' | 'uniqueTokens'>;

function shapeOf(request: StoredRequest): RequestShape {
  return {
    prefixKey: prefixKeyOf(request.model, request.messages),
    prefixTokens: tokensOf(prefixMessages(request.messages)),
    uniqueTokens: tokensOf(request.messages.slice(-1)),
  };
}

/** A job to chunk into work messages, with the key it is ordered by within its group. */
type PlannableJob = WorkJob & { sortKey: string };

/** The work-message entry of a stored job planned with `request`. */
function plannableJob(
  item: JobItem,
  stored: { requestKey: string; requestHash: string },
  request: StoredRequest,
  shape: RequestShape = shapeOf(request),
): PlannableJob {
  return {
    jobId: item.jobId,
    prefixKey: shape.prefixKey,
    model: request.model,
    sortKey: `${item.path}\0${request.messages.at(-1)?.content.slice(0, 256) ?? ''}`,
    prefixTokens: shape.prefixTokens,
    uniqueTokens: shape.uniqueTokens,
    maxOutputTokens: request.maxTokens,
    path: item.path,
    requestKey: stored.requestKey,
    requestHash: stored.requestHash,
    outputKey: item.outputKey,
    reservedNanoUsd: item.reservedNanoUsd,
  };
}

/** Result of planning one batch, for logs and tests. */
export interface PlannedBatch {
  batchId: string;
  created: boolean;
  jobs: number;
  planned: number;
  ended: Record<'failed' | 'reused' | 'skipped_budget', number>;
  workMessages: number;
  rejections: number;
}

/**
 * Plans one batch: decides every job, reserves budget, creates the batch, ends the jobs that
 * need no LLM call, sends the work messages, and queues finalization when nothing is left.
 */
export async function planBatchSpec(spec: BatchSpec, deps: PipelineDeps): Promise<PlannedBatch> {
  const { settings, jobs: store, ledger } = deps;
  const now = deps.clock.now();
  const month = monthOf(now.toISOString());
  const limit = pLimit(8);
  const loadContext = contextLoader(deps, spec);
  const sorted = [...spec.jobs].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const decisions = new Map<string, Decision>();
  await Promise.all(
    sorted.map((job) =>
      limit(async () => decisions.set(job.jobId, await decide(job, deps, loadContext))),
    ),
  );

  // Reserve in path order so that, under a cap, the same files run on every delivery.
  const cap = settings.budgets[spec.team];
  if (cap !== undefined) await ledger.setBudget(spec.team, month, cap);
  const reserved = new Map<string, number>();
  let batchCommitted = 0;
  for (const job of sorted) {
    const d = decisions.get(job.jobId);
    if (d?.kind !== 'llm') continue;
    if (
      spec.budgetNanoUsd !== undefined &&
      batchCommitted + d.estimateNanoUsd > spec.budgetNanoUsd
    ) {
      decisions.set(job.jobId, {
        kind: 'skipped_budget',
        reason: `the batch budget of ${usd(spec.budgetNanoUsd)} would be exceeded (estimate ${usd(d.estimateNanoUsd)}, ${usd(batchCommitted)} already committed)`,
      });
      continue;
    }
    if (await ledger.reserve(spec.team, month, d.estimateNanoUsd)) {
      reserved.set(job.jobId, d.estimateNanoUsd);
      batchCommitted += d.estimateNanoUsd;
    } else {
      decisions.set(job.jobId, {
        kind: 'skipped_budget',
        reason: `team ${spec.team}'s monthly budget${cap === undefined ? '' : ` of ${usd(cap)}`} for ${month} has no room for this job (estimate ${usd(d.estimateNanoUsd)}): raise the budget or wait for next month`,
      });
    }
  }

  await Promise.all(
    sorted.map((job) =>
      limit(async () => {
        const d = decisions.get(job.jobId);
        if (d?.kind === 'llm' && reserved.has(job.jobId))
          await deps.objects.put(
            requestKeyFor(spec.batchId, job.jobId),
            JSON.stringify(d.request),
            'application/json',
          );
      }),
    ),
  );
  await deps.objects.put(
    rejectionsKeyFor(spec.batchId),
    JSON.stringify(spec.rejections),
    'application/json',
  );

  const newJobs: NewJob[] = sorted.map((job) => {
    const d = decisions.get(job.jobId);
    const llm = d?.kind === 'llm' && reserved.has(job.jobId) ? d : undefined;
    return {
      jobId: job.jobId,
      path: job.path,
      inputKey: job.inputKey,
      outputKey: job.outputKey,
      ...(job.customId !== undefined ? { customId: job.customId } : {}),
      ...(llm
        ? {
            requestKey: requestKeyFor(spec.batchId, job.jobId),
            requestHash: llm.requestHash,
            reservedNanoUsd: reserved.get(job.jobId) ?? 0,
          }
        : {}),
    };
  });
  const {
    jobs: _jobs,
    rejections: _rejections,
    budgetNanoUsd: _b,
    messageIds: _m,
    ...batch
  } = spec;
  const { created } = await store.createBatch(batch, newJobs);
  if (!created) {
    // A redelivery: the first delivery's reservations stand; give back this one's.
    for (const amount of reserved.values()) await ledger.release(spec.team, month, amount);
  }

  // Act on what is stored, so a redelivery finishes what the first delivery began.
  const stored = await store.listJobs(spec.batchId);
  const ended = { failed: 0, reused: 0, skipped_budget: 0 };
  const plannable: PlannableJob[] = [];
  await Promise.all(
    stored.map((item) =>
      limit(async () => {
        if (item.state !== 'pending') return;
        const d = decisions.get(item.jobId);
        const end = async (how: JobEnd & { state: keyof typeof ended }) => {
          if (await store.endJob(spec.batchId, item.jobId, how, { now })) ended[how.state]++;
        };
        if (!d) {
          await end({
            state: 'failed',
            error: {
              code: 'not_planned',
              reason: 'the job was not found in its input on replanning',
            },
          });
        } else if (d.kind === 'failed') {
          await end({ state: 'failed', error: { code: d.code, reason: d.reason } });
        } else if (d.kind === 'reused') {
          await end({ state: 'reused', responseId: d.responseId });
        } else if (d.kind === 'skipped_budget' || item.reservedNanoUsd === 0 || !item.requestKey) {
          const reason =
            d.kind === 'skipped_budget'
              ? d.reason
              : `team ${spec.team}'s budget had no room for this job`;
          await end({ state: 'skipped_budget', error: { code: 'budget', reason } });
        } else {
          plannable.push(
            plannableJob(
              item,
              { requestKey: item.requestKey, requestHash: d.requestHash },
              d.request,
              d,
            ),
          );
        }
      }),
    ),
  );
  // Jobs ended here were reserved nothing, except on a redelivery whose reservation stands.
  const sent = await sendWork(spec, plannable, stored, month, deps);
  ended.failed += sent.failed;
  const result: PlannedBatch = {
    batchId: spec.batchId,
    created,
    jobs: stored.length,
    planned: plannable.length,
    ended,
    workMessages: sent.workMessages,
    rejections: spec.rejections.length,
  };
  deps.logger?.info('batch planned', { ...result, team: spec.team, project: spec.project });
  return result;
}

/** What a batch's work messages carry besides its jobs. */
type WorkBatch = Pick<NewBatch, 'batchId' | 'team' | 'project' | 'kind' | 'sensitivity'>;

/**
 * Chunks the plannable jobs of a batch into work messages and sends them, ends the jobs the
 * planner refused, queues finalization when nothing is left, and only then marks the batch
 * planned: a batch whose planning stops anywhere before stays unplanned, so the next window
 * that meets one of its files plans it again (see resumeUnplanned).
 */
async function sendWork(
  batch: WorkBatch,
  plannable: readonly PlannableJob[],
  stored: readonly JobItem[],
  month: string,
  deps: PipelineDeps,
): Promise<{ workMessages: number; failed: number }> {
  const { settings, jobs: store, ledger } = deps;
  const now = deps.clock.now();
  let failed = 0;
  const plan = planBatch(batch.batchId, [...plannable], { warmup: settings.executor.warmup });
  for (const r of plan.rejected) {
    const item = stored.find((s) => s.jobId === r.jobId);
    if (
      await store.endJob(
        batch.batchId,
        r.jobId,
        { state: 'failed', error: { code: 'not_planned', reason: r.reason } },
        { now },
      )
    ) {
      failed++;
      if (item && item.reservedNanoUsd > 0)
        await ledger.release(batch.team, month, item.reservedNanoUsd);
    }
  }
  const bodies = plan.messages.map((m): { body: WorkBody; groupId: string; dedupId: string } => ({
    body: {
      type: 'work',
      batchId: m.batchId,
      prefixKey: m.prefixKey,
      model: m.model,
      seq: m.seq,
      total: m.total,
      ...(m.warmup ? { warmup: m.warmup } : {}),
      team: batch.team,
      project: batch.project,
      kind: batch.kind,
      sensitivity: batch.sensitivity,
      reservedMonth: month,
      jobs: m.jobs,
    },
    groupId: workGroupId(m.batchId, m.prefixKey, settings.workGroupBy),
    dedupId: workDedupId(m.batchId, m.prefixKey, m.seq),
  }));
  if (bodies.length > 0)
    await deps.queues.send(
      deps.queueUrls.work,
      bodies.map((b) => ({ body: JSON.stringify(b.body), groupId: b.groupId, dedupId: b.dedupId })),
    );
  await queueFinalizeIfDone(batch.batchId, deps);
  await store.markPlanned(batch.batchId, { workMessages: bodies.length, now });
  return { workMessages: bodies.length, failed };
}

/**
 * How long a planning can still be running: a planner invocation ends within its timeout, so a
 * batch created longer ago and still not marked planned was left half-planned by a failure.
 */
export const PLANNING_STALE_AFTER_MS = FUNCTIONS.planner.timeoutSeconds * 1000;

/** A batch met in a window is still being planned by another invocation; try again later. */
export class BatchPlanningPendingError extends Error {
  override name = 'BatchPlanningPendingError';
}

/** What became of a batch that owned files of a later window. */
export type ResumeOutcome =
  | { batchId: string; resumed: false; reason: 'missing' | 'planned' }
  | { batchId: string; resumed: true; workMessages: number; planned: number; failed: number };

/**
 * Plans again a batch whose planning stopped after its jobs were created (a failed send, a
 * timeout): its files' events are claimed by it, so a later window that meets them skips them,
 * and without this its jobs would stay pending forever. Works from what is stored: the jobs
 * table and each job's stored request, so every job gets the request and the reservation it
 * was planned with; work messages keep their deduplication ids, so a copy of one already sent
 * is dropped by SQS. Jobs left pending without a stored request (planning stopped before it
 * ended them) fail with a reason.
 * @throws BatchPlanningPendingError when the batch was created too recently for its planning
 *   to have surely ended; the caller lets the record come back later.
 */
export async function resumeUnplanned(batchId: string, deps: PipelineDeps): Promise<ResumeOutcome> {
  const batch = await deps.jobs.getBatch(batchId);
  if (!batch) return { batchId, resumed: false, reason: 'missing' };
  if (batch.plannedAt !== undefined) return { batchId, resumed: false, reason: 'planned' };
  const now = deps.clock.now();
  if (Date.parse(batch.createdAt) > now.getTime() - PLANNING_STALE_AFTER_MS)
    throw new BatchPlanningPendingError(
      `batch ${batchId} is not planned yet and its planning may still be running`,
    );
  // Drop batches are created at planning time, so this is the month their budget was reserved in.
  const month = monthOf(batch.createdAt);
  const stored = await deps.jobs.listJobs(batchId);
  const limit = pLimit(8);
  const plannable: PlannableJob[] = [];
  let failed = 0;
  const fail = async (job: JobItem, reason: string) => {
    const ended = await deps.jobs.endJob(
      batchId,
      job.jobId,
      { state: 'failed', error: { code: 'not_planned', reason } },
      { now },
    );
    if (!ended) return;
    failed++;
    if (job.reservedNanoUsd > 0) await deps.ledger.release(batch.team, month, job.reservedNanoUsd);
  };
  await Promise.all(
    stored.map((job) =>
      limit(async () => {
        if (job.state !== 'pending') return;
        const text =
          job.requestKey && job.requestHash && job.reservedNanoUsd > 0
            ? await deps.objects.getText(job.requestKey)
            : undefined;
        if (text === undefined || !job.requestKey || !job.requestHash)
          return fail(
            job,
            'the planning of this batch stopped before the job was decided: drop the file again',
          );
        plannable.push(
          plannableJob(
            job,
            { requestKey: job.requestKey, requestHash: job.requestHash },
            JSON.parse(text) as StoredRequest,
          ),
        );
      }),
    ),
  );
  const sent = await sendWork(batch, plannable, stored, month, deps);
  const outcome: ResumeOutcome = {
    batchId,
    resumed: true,
    workMessages: sent.workMessages,
    planned: plannable.length,
    failed: failed + sent.failed,
  };
  deps.logger?.info('half-planned batch planned again', { ...outcome, team: batch.team });
  return outcome;
}

/**
 * Sends the finalize message when every job of the batch has ended. The store's conditional
 * flag picks one caller, which marks the batch before sending; if that send then fails, the
 * caller throws, its message comes back, and whoever next sees the batch marked but not `done`
 * sends again. So a failed send delays finalization instead of losing it; a second finalize
 * message is harmless, as finalize rewrites the same objects.
 * @returns true when this call sent the message.
 */
export async function queueFinalizeIfDone(batchId: string, deps: PipelineDeps): Promise<boolean> {
  const first = await deps.jobs.markFinalizeQueued(batchId);
  if (!first) {
    const batch = await deps.jobs.getBatch(batchId);
    if (!batch?.finalizeQueued || batch.status === 'done') return false;
  }
  const body: FinalizeBody = { type: 'finalize', batchId };
  await deps.queues.send(deps.queueUrls.finalize, [{ body: JSON.stringify(body) }]);
  deps.logger?.info(first ? 'finalize queued' : 'finalize queued again', { batchId });
  return true;
}

/**
 * Plans the records of one planner invocation. Returns, per message id, the error that made its
 * batch fail (absent: done); the handler reports those as batch item failures so SQS redelivers.
 */
export async function planIntake(
  records: readonly IntakeRecord[],
  deps: PipelineDeps,
): Promise<Map<string, Error>> {
  const failures = new Map<string, Error>();
  const drops: Extract<Item, { type: 'drop' }>[] = [];
  const specs: BatchSpec[] = [];
  const fail = (ids: readonly string[], err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    for (const id of ids) failures.set(id, error);
  };
  for (const record of records) {
    let items: Item[];
    try {
      items = itemsOf(record);
    } catch (err) {
      deps.logger?.error('intake record ignored', {
        messageId: record.messageId,
        error: (err as Error).message,
      });
      continue;
    }
    for (const item of items) {
      try {
        if (item.type === 'drop') drops.push(item);
        else if (item.type === 'manifest') {
          const out = await fromManifest(item.key, item.messageId, deps, true);
          if (out && 'deferred' in out) {
            await sendDeferred(out.deferred, deps);
            deps.logger?.info('batch deferred to off-peak', {
              manifestKey: item.key,
              until: out.deferred.notBefore,
            });
          } else if (out) specs.push(out);
        } else if (Date.parse(item.body.notBefore) > deps.clock.now().getTime()) {
          await sendDeferred(item.body, deps);
        } else {
          const out = await fromManifest(item.body.manifestKey, item.messageId, deps, false);
          if (out && !('deferred' in out)) specs.push(out);
        }
      } catch (err) {
        fail([item.messageId], err);
      }
    }
  }
  let claimedElsewhere = new Map<string, string[]>();
  try {
    const fromDrops = await batchesFromDrops(drops, deps);
    specs.push(...fromDrops.specs);
    claimedElsewhere = fromDrops.claimedElsewhere;
  } catch (err) {
    fail(
      drops.map((d) => d.messageId),
      err,
    );
  }
  for (const spec of specs) {
    try {
      await planBatchSpec(spec, deps);
    } catch (err) {
      deps.logger?.error('batch planning failed', {
        batchId: spec.batchId,
        error: (err as Error).message,
      });
      fail(spec.messageIds, err);
    }
  }
  // A file skipped because an earlier batch has it is only safe if that batch got planned.
  for (const [batchId, messageIds] of claimedElsewhere) {
    try {
      await resumeUnplanned(batchId, deps);
    } catch (err) {
      if (!(err instanceof BatchPlanningPendingError))
        deps.logger?.error('half-planned batch could not be planned again', {
          batchId,
          error: (err as Error).message,
        });
      fail(messageIds, err);
    }
  }
  return failures;
}
