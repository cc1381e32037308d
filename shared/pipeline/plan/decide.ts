/**
 * The planner's decision for one job: fail it (bad input, no endpoint, unknown model), reuse an
 * earlier identical request's output, or call the LLM with a stored request and an estimate.
 */
import { checkContent, type Job } from '../../inputs';
import type { JobErrorCode } from '../../job-errors';
import { priceRoute, routeJob } from '../../llm/routing';
import { checkRequestLimits, limitsOf } from '../../models/limits';
import type { JobItem } from '../../ports/jobs';
import type { Catalog } from '../../pricing/catalog';
import { costAtPrice, PricingError, type ResolvedPrice } from '../../pricing/cost';
import {
  buildMessages,
  type ContextFile,
  languageOf,
  prefixKey as prefixKeyOf,
  prefixMessages,
  requestHash as requestHashOf,
  sharedContextFrom,
} from '../../prompts';
import { PREFIXES } from '../../resources';
import { estimateTokens } from '../../tokens';
import type { ChatMessage } from '../../types';
import type { WorkJob } from '../messages';
import type { StoredRequest } from '../request';
import { effectiveSensitivity } from '../sensitivity';
import type { PipelineDeps } from '../types';
import type { BatchSpec } from './spec';

/** What the planner decided for one job. */
export type Decision =
  | { kind: 'failed'; code: JobErrorCode; reason: string }
  | { kind: 'reused'; responseId: string; requestHash: string }
  | { kind: 'skipped_budget'; reason: string }
  | ({
      kind: 'llm';
      request: StoredRequest;
      requestHash: string;
      estimateNanoUsd: number;
      /** The fallback the estimate is priced at, when dearer than the job's own endpoint. */
      dearest?: string;
    } & RequestShape);

/** S3's longest object key, in UTF-8 bytes. */
export const S3_MAX_KEY_BYTES = 1_024;

/** Per-message framing tokens of the chat template, added to estimates. */
const MESSAGE_OVERHEAD_TOKENS = 4;

const tokensOf = (messages: readonly ChatMessage[]) =>
  messages.reduce((n, m) => n + estimateTokens(m.content) + MESSAGE_OVERHEAD_TOKENS, 0);

export const usd = (nano: number) => `$${(nano / 1e9).toFixed(6)}`;

/** Loads a batch's context files once, leaving out (and reporting) the bad ones. */
export function contextLoader(deps: PipelineDeps, spec: BatchSpec) {
  const cache = new Map<string, Promise<ContextFile | undefined>>();
  const load = (key: string) => {
    let p = cache.get(key);
    if (!p) {
      p = (async () => {
        // Read no more than the limit allows: a huge object is refused from its size.
        const max = deps.settings.maxFileBytes;
        const read = await deps.objects.getUpTo(key, max + 1);
        const checked = checkContent(key, read?.bytes ?? new Uint8Array(), {
          maxBytes: max,
          size: read?.size ?? 0,
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

/**
 * What a batch's jobs are priced with: the catalog, and the end of the interval in which they
 * may run (the batch's deadline, or `pricing.reservationHorizonHours` from now).
 */
export interface PlanPricing {
  catalog: Catalog;
  until: Date;
}

/** The pricing of a batch planned at `now` with an optional deadline. */
export async function planPricing(
  deps: PipelineDeps,
  now: Date,
  deadline: string | undefined,
): Promise<PlanPricing> {
  const horizon = now.getTime() + deps.settings.pricing.reservationHorizonHours * 3_600_000;
  const end = deadline === undefined ? horizon : Date.parse(deadline);
  return {
    catalog: await deps.prices.catalog(),
    until: new Date(Math.max(now.getTime() + 1, Number.isNaN(end) ? horizon : end)),
  };
}

/**
 * Decides one job. Its reservation is priced at the dearest rate it could pay between now and
 * `pricing.until` (peak when a peak window can fall in it), so it never undershoots the bill.
 */
export async function decide(
  job: Job,
  deps: PipelineDeps,
  loadContext: ReturnType<typeof contextLoader>,
  pricing: PlanPricing,
): Promise<Decision> {
  const { settings } = deps;
  const now = deps.clock.now();
  const sensitivity = effectiveSensitivity(
    settings,
    { team: job.team, projects: [job.project] },
    job.sensitivity,
  );
  // An output S3 cannot store must not be paid for: its key is checked before anything else.
  const outputKeyBytes = Buffer.byteLength(job.outputKey, 'utf8');
  if (outputKeyBytes > S3_MAX_KEY_BYTES)
    return {
      kind: 'failed',
      code: 'path_too_long',
      reason: `its output key would be ${outputKeyBytes} bytes, over S3's limit of ${S3_MAX_KEY_BYTES} (team, project, batch id and path together): use a shorter path or names`,
    };
  const route = routeJob(settings.endpoints, sensitivity, job.model);
  if (!route.ok) return { kind: 'failed', code: route.code, reason: route.reason };
  // Every candidate's dearest price until the deadline: the reservation holds whichever serves.
  let prices: ResolvedPrice[];
  try {
    prices = priceRoute(route.candidates, now, pricing.until, pricing.catalog).map(
      (c) => c.worstPrice,
    );
  } catch (err) {
    if (!(err instanceof PricingError) || err.code === 'holidays_unknown') throw err;
    return { kind: 'failed', code: err.code, reason: err.message };
  }
  const maxTokens = job.request?.maxTokens ?? settings.maxOutputTokens[job.kind];
  const limits = limitsOf(job.model, settings.modelLimits);
  const tooBig = (promptTokens: number) =>
    checkRequestLimits(
      {
        model: job.model,
        promptTokens,
        maxTokens,
        maxTokensFrom:
          job.request?.maxTokens === undefined
            ? `setting maxOutputTokens.${job.kind}`
            : 'the request',
      },
      limits,
    );
  // max_tokens alone is checked before the content is even read: no reservation, no call.
  const overOutput = tooBig(0);
  if (overOutput) return { kind: 'failed', ...overOutput };
  let messages: ChatMessage[];
  if (job.request) {
    messages = job.request.messages;
  } else {
    // One ranged read of at most the limit and a byte: a larger object is refused from the
    // size that read reports, never held whole in the planner's memory.
    const read = await deps.objects.getUpTo(job.inputKey, settings.maxFileBytes + 1);
    if (read === undefined)
      return {
        kind: 'failed',
        code: 'missing',
        reason: `input object ${job.inputKey} does not exist: upload it`,
      };
    const checked = checkContent(job.inputKey, read.bytes, {
      maxBytes: settings.maxFileBytes,
      size: read.size,
    });
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
  const request: StoredRequest = { model: job.model, messages, maxTokens };
  const shape = shapeOf(request);
  const overContext = tooBig(shape.prefixTokens + shape.uniqueTokens);
  if (overContext) return { kind: 'failed', ...overContext };
  const requestHash = requestHashOf(job.model, messages, { maxTokens });
  const reuse = await deps.jobs.getReuse(requestHash, now);
  // The copy itself tells whether the earlier output still exists (it may have expired).
  if (
    reuse &&
    reuse.outputKey !== job.outputKey &&
    (await deps.objects.copy(reuse.outputKey, job.outputKey))
  ) {
    return { kind: 'reused', responseId: reuse.responseId, requestHash };
  }
  const costs = prices.map(
    (price) =>
      costAtPrice(price, {
        promptHitTokens: 0,
        promptMissTokens: shape.prefixTokens + shape.uniqueTokens,
        completionTokens: maxTokens,
        reasoningTokens: 0,
      }).totalNanoUsd,
  );
  const estimateNanoUsd = Math.max(...costs);
  const dearest = route.candidates[costs.indexOf(estimateNanoUsd)];
  return {
    kind: 'llm',
    request,
    requestHash,
    ...shape,
    estimateNanoUsd,
    ...(dearest && estimateNanoUsd > (costs[0] ?? 0)
      ? { dearest: `${dearest.model} on fallback endpoint ${dearest.endpoint}` }
      : {}),
  };
}

/** What grouping and chunking need of a request: its prefix key and its token counts. */
export type RequestShape = Pick<WorkJob, 'prefixKey' | 'prefixTokens' | 'uniqueTokens'>;

function shapeOf(request: StoredRequest): RequestShape {
  return {
    prefixKey: prefixKeyOf(request.model, request.messages),
    prefixTokens: tokensOf(prefixMessages(request.messages)),
    uniqueTokens: tokensOf(request.messages.slice(-1)),
  };
}

/**
 * What a work message needs of a planned request besides its keys: its shape, model, output
 * limit and radix sort key. Small and serializable, so a shard can hand it to the last step.
 */
export interface PlannedRequest extends RequestShape {
  model: string;
  maxTokens: number;
  /** The job's path, then the head of its own message: jobs sharing longer prefixes sort together. */
  sortKey: string;
}

/** The planned form of a request read or built for the job at `path`. */
export function plannedRequest(
  path: string,
  request: StoredRequest,
  shape: RequestShape = shapeOf(request),
): PlannedRequest {
  return {
    ...shape,
    model: request.model,
    maxTokens: request.maxTokens,
    sortKey: `${path}\0${request.messages.at(-1)?.content.slice(0, 256) ?? ''}`,
  };
}

/** The work-message entry of a stored job planned as `planned`. */
export function plannableJob(
  item: JobItem,
  stored: { requestKey: string; requestHash: string },
  planned: PlannedRequest,
): WorkJob {
  return {
    jobId: item.jobId,
    prefixKey: planned.prefixKey,
    model: planned.model,
    sortKey: planned.sortKey,
    prefixTokens: planned.prefixTokens,
    uniqueTokens: planned.uniqueTokens,
    maxOutputTokens: planned.maxTokens,
    path: item.path,
    requestKey: stored.requestKey,
    requestHash: stored.requestHash,
    outputKey: item.outputKey,
    estimateNanoUsd: item.estimateNanoUsd,
  };
}
