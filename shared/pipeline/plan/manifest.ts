/**
 * Batch manifests (written last by `warmbatch submit`) become batch specs, or wait for the
 * provider's off-peak hours on the intake queue when the batch prefers them.
 */
import {
  BATCH_ID_PATTERN,
  jobsFromManifest,
  NAME_PATTERN,
  parseManifest,
  parseManifestKey,
  type Rejection,
} from '../../inputs';
import { type Catalog, defaultCatalog } from '../../pricing/catalog';
import { PricingError, resolvePrice } from '../../pricing/cost';
import { sha256Hex } from '../../prompts/keys';
import type { DeferredBody } from '../messages';
import { sensitivityFloor, strictest } from '../sensitivity';
import type { PipelineDeps } from '../types';
import { repairSpec } from './repair';
import { type BatchSpec, knownModelTest } from './spec';

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
  catalog?: Catalog;
}): OffPeakDecision {
  if (!input.preferOffPeak) return { defer: false, reason: 'the batch does not prefer off-peak' };
  if (!input.deadline) return { defer: false, reason: 'the batch has no deadline' };
  const catalog = input.catalog ?? defaultCatalog();
  // A year without a holiday list counts as peak: waiting is then never a mistake on price.
  const tierAt = (t: number) =>
    resolvePrice(input.model, new Date(t), catalog, { holidaysUnknown: 'peak' }).tier;
  let tier: string;
  try {
    tier = tierAt(input.now.getTime());
  } catch (err) {
    if (err instanceof PricingError)
      return { defer: false, reason: 'the model has no price in force' };
    throw err;
  }
  if (tier === 'flat') return { defer: false, reason: 'the model has no peak prices' };
  if (tier !== 'peak') return { defer: false, reason: 'it is off-peak now' };
  const hour = 3_600_000;
  let t = Math.ceil((input.now.getTime() + 1) / hour) * hour;
  const peakAt = (at: number) => {
    try {
      return tierAt(at) === 'peak';
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 24 * 8 && peakAt(t); i++) t += hour;
  const until = new Date(t);
  const deadline = Date.parse(input.deadline);
  if (until.getTime() + (input.minRunMs ?? hour) > deadline)
    return { defer: false, reason: 'the deadline does not leave time to wait for off-peak' };
  return { defer: true, until };
}

/** Re-sends a deferred batch to the intake queue, delayed by at most `maxDeferDelaySeconds`. */
export async function sendDeferred(body: DeferredBody, deps: PipelineDeps): Promise<void> {
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

/**
 * The batch a refused manifest's reason is recorded in, so that its team finds it (`warmbatch
 * status`, `results/<team>/<batchId>/errors.jsonl`): the team and batch id of its key. A manifest
 * in the old layout (`batches/<x>/manifest.json`) sits in the writable space of team `<x>` when
 * one has that name, so its reason goes to that team, in a batch of its own named after the key:
 * never to the team its body names, nor into a batch that may be running. Undefined when the key
 * names no valid team.
 */
function refusalHome(key: string): { team: string; batchId: string } | undefined {
  const parsedKey = parseManifestKey(key);
  if (parsedKey === undefined) return undefined;
  const team = parsedKey.layout === 'current' ? parsedKey.team : parsedKey.batchId;
  if (!NAME_PATTERN.test(team)) return undefined;
  const keyed = `${parsedKey.layout === 'old' ? 'old-layout' : 'invalid'}-${sha256Hex(key).slice(0, 16)}`;
  // A key whose batch id is not a valid one still belongs to its team: the reason goes to a
  // batch named after the key, so the team finds it (and the same key lands there again).
  const batchId = parsedKey.layout === 'current' ? parsedKey.batchId : '';
  return {
    team: team.toLowerCase(),
    batchId: BATCH_ID_PATTERN.test(batchId) ? batchId : keyed,
  };
}

/**
 * Reads a manifest into a batch spec, a deferral, or a rejections-only batch. A manifest that
 * names another team than its key's, uses the old layout or does not parse plans no job and
 * reserves nothing: its reason is recorded in a batch of the key's team.
 */
export async function fromManifest(
  key: string,
  messageId: string,
  deps: PipelineDeps,
  mayDefer: boolean,
): Promise<BatchSpec | { deferred: DeferredBody } | undefined> {
  const now = deps.clock.now();
  const catalog = await deps.prices.catalog();
  const bytes = await deps.objects.get(key);
  if (bytes === undefined) return undefined;
  const parsed = parseManifest(key, bytes);
  if (!parsed.ok) return refused(key, parsed.rejection, messageId, deps);
  const m = parsed.value;
  if (m.repairOf) return repairSpec(key, { ...m, repairOf: m.repairOf }, messageId, deps);
  if (mayDefer && deps.queueUrls.intake) {
    const decision = offPeakDecision({
      model: m.model,
      now,
      deadline: m.deadline,
      preferOffPeak: m.preferOffPeak,
      catalog,
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
  const { jobs, rejections } = jobsFromManifest(key, m, { isKnownModel: knownModelTest(catalog) });
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
    // A manifest may raise its batch's sensitivity, never lower it below its project's.
    sensitivity: strictest(m.sensitivity, sensitivityFloor(deps.settings, m.team, m.project)),
    createdAt: m.createdAt,
    ...(m.deadline ? { deadline: m.deadline } : {}),
    ...(m.preferOffPeak !== undefined ? { preferOffPeak: m.preferOffPeak } : {}),
    ...(ci ? { ci } : {}),
    ...(m.tags ? { tags: m.tags } : {}),
    ...(m.budgetNanoUsd !== undefined ? { budgetNanoUsd: m.budgetNanoUsd } : {}),
    ...(m.shadow !== undefined ? { shadowRequest: m.shadow } : {}),
    jobs,
    rejections,
    messageIds: [messageId],
  };
}

/** A rejections-only batch for a refused manifest, or undefined when it has no home. */
function refused(
  key: string,
  rejection: Rejection,
  messageId: string,
  deps: PipelineDeps,
): BatchSpec | undefined {
  const home = refusalHome(key);
  deps.logger?.warn('manifest refused', {
    manifestKey: key,
    code: rejection.code,
    ...(home ? { team: home.team, batchId: home.batchId } : { recorded: false }),
  });
  if (!home) return undefined;
  return {
    ...home,
    project: 'unknown',
    kind: 'docs',
    model: deps.settings.defaultModel,
    sensitivity: 'public',
    createdAt: deps.clock.now().toISOString(),
    jobs: [],
    rejections: [rejection],
    messageIds: [messageId],
  };
}
