/**
 * Shadow runs: a seeded sample of a primary batch's jobs runs on a second model as well, as a
 * batch of its own (`<batchId>-shadow`, lane `shadow`), so that both outputs can be validated
 * the same way and compared (`warmbatch compare`). The shadow batch carries the primary's
 * sensitivity, so it is routed the same way: a restricted job is shadowed only to the endpoint
 * configured for restricted, and only when that endpoint serves the shadow model.
 */
import { jobIdFor, outputKeyFor, type Rejection } from '../../inputs';
import { inShadowSample, type Shadow, shadowBatchIdOf } from '../../quality/shadow';
import type { Sensitivity } from '../../types';
import { effectiveSensitivity } from '../sensitivity';
import type { PipelineDeps } from '../types';
import type { BatchSpec } from './spec';

/** Why a shadow model cannot be routed for a sensitivity, or undefined when it can. */
export function shadowRouteProblem(
  settings: PipelineDeps['settings'],
  sensitivity: Sensitivity,
  model: string,
): string | undefined {
  const endpoint = settings.endpoints[sensitivity];
  if (!endpoint)
    return `no endpoint is configured for ${sensitivity} inputs, and they are never sent to another`;
  if (endpoint.models && !endpoint.models.includes(model))
    return `the ${sensitivity} endpoint ${endpoint.name} does not serve ${model} (endpoints.${sensitivity}.models)`;
  return undefined;
}

/**
 * The shadow batch of a primary spec, or why there is none. Only a primary batch is shadowed;
 * the manifest's shadow (null: none) wins over the settings'.
 */
export function shadowSpecOf(
  spec: BatchSpec,
  deps: Pick<PipelineDeps, 'settings'>,
  isKnownModel: (model: string) => boolean,
): { spec?: BatchSpec; shadow?: Shadow; rejection?: Rejection } {
  if ((spec.lane ?? 'primary') !== 'primary') return {};
  const shadow = spec.shadowRequest === undefined ? deps.settings.shadow : spec.shadowRequest;
  if (!shadow || shadow.rate <= 0 || shadow.model === spec.model) return {};
  const refuse = (reason: string): { rejection: Rejection } => ({
    rejection: { source: spec.batchId, where: 'shadow', code: 'shadow_not_routable', reason },
  });
  if (!isKnownModel(shadow.model))
    return refuse(`shadow model ${JSON.stringify(shadow.model)} is not in the price catalog`);
  const sensitivity = effectiveSensitivity(
    deps.settings,
    { team: spec.team, projects: [spec.project] },
    spec.sensitivity,
  );
  const problem = shadowRouteProblem(deps.settings, sensitivity, shadow.model);
  if (problem) return refuse(`no shadow run on ${shadow.model}: ${problem}`);
  const batchId = shadowBatchIdOf(spec.batchId);
  const seed = shadow.seed ?? spec.batchId;
  const jobs = spec.jobs
    .filter((job) => inShadowSample(seed, job.path, shadow.rate))
    .map((job) => ({
      ...job,
      jobId: jobIdFor(batchId, job.customId ?? job.path),
      batchId,
      model: shadow.model,
      outputKey: outputKeyFor(spec.team, spec.project, batchId, spec.kind, job.path),
    }));
  return {
    shadow,
    spec: {
      batchId,
      team: spec.team,
      project: spec.project,
      kind: spec.kind,
      model: shadow.model,
      sensitivity,
      createdAt: spec.createdAt,
      lane: 'shadow',
      shadowOf: spec.batchId,
      ...(spec.deadline ? { deadline: spec.deadline } : {}),
      jobs,
      rejections: [],
      messageIds: spec.messageIds,
    },
  };
}
