/**
 * Plans one batch: decides every job, checks budgets, creates the batch and its jobs, ends the
 * jobs that need no LLM call and sends the rest as work messages. The team's monthly budget is
 * reserved by the worker, job by job, right before each call (see shared/pipeline/admit.ts):
 * reserving every job's upper bound here would turn most of a batch away while a fraction of
 * the cap was actually spent.
 *
 * A batch of more jobs than one invocation plans well is planned in shards instead (shard.ts):
 * the shards decide their jobs (`decideJobs`), and a last step commits the decisions
 * (`commitBatch`), the same two steps this file runs back to back for a batch that fits.
 */
import { defaultsLeftOut, mergeTags, type Tags } from '../../tags';
import { rejectionsKeyFor } from '../keys';
import type { PipelineDeps } from '../types';
import { commitBatch, decideJobs, inPathOrder, type PlannedBatch } from './commit';
import { type PlanPricing, planPricing } from './decide';
import { shadowSpecOf } from './shadow';
import { shardBatchSpec, shardsWanted } from './shard';
import { type BatchSpec, knownModelTest } from './spec';

export {
  type CommitJob,
  type CommitSpec,
  commitBatch,
  commitJobOf,
  decideJobs,
  inPathOrder,
  newJobsOf,
  type PlanDecision,
  type PlannedBatch,
} from './commit';

/**
 * The batch with its project's default tags under its own. Defaults that would take the batch
 * past 50 tags are left out (its own tags win) and the planner says so in its log.
 */
function withTags(spec: BatchSpec, defaults: Tags | undefined, deps: PipelineDeps): BatchSpec {
  if (!defaults && !spec.tags) return spec;
  const tags = mergeTags(defaults, spec.tags);
  const left = defaultsLeftOut(defaults, tags);
  if (left.length > 0)
    deps.logger?.warn('project default tags left out: the batch would pass 50 tags', {
      team: spec.team,
      batchId: spec.batchId,
      left,
    });
  return Object.keys(tags).length > 0 ? { ...spec, tags } : spec;
}

/**
 * Plans one batch: decides every job, checks budgets, creates the batch, ends the jobs that
 * need no LLM call, sends the work messages, and queues finalization when nothing is left.
 * A batch larger than `planning.jobsPerShard` is handed to shards when a planning queue exists.
 * A shadow run is planned as a batch of its own, right after this one; the primary names it.
 */
export async function planBatchSpec(given: BatchSpec, deps: PipelineDeps): Promise<PlannedBatch> {
  const spec = withTags(given, deps.settings.projectTags[given.team]?.[given.project], deps);
  const pricing = await planPricing(deps, deps.clock.now(), spec.deadline);
  const shadow = shadowSpecOf(spec, deps, knownModelTest(pricing.catalog));
  if (shadow.rejection) spec.rejections.push(shadow.rejection);
  if (shadow.spec && shadow.shadow)
    spec.shadow = {
      batchId: shadow.spec.batchId,
      model: shadow.shadow.model,
      rate: shadow.shadow.rate,
    };
  const planned = await planWhole(spec, pricing, deps);
  if (shadow.spec) await planBatchSpec(shadow.spec, deps);
  return planned;
}

/** Plans a batch here, or hands it to shards when it is too large for one invocation. */
async function planWhole(
  spec: BatchSpec,
  pricing: PlanPricing,
  deps: PipelineDeps,
): Promise<PlannedBatch> {
  if (shardsWanted(spec, deps) > 1) return shardBatchSpec(spec, deps);
  const sorted = inPathOrder(spec.jobs);
  const decisions = await decideJobs(spec, sorted, deps, pricing);
  await deps.objects.put(
    rejectionsKeyFor(spec),
    JSON.stringify(spec.rejections),
    'application/json',
  );
  const { jobs: _jobs, rejections: _rejections, messageIds: _m, ...batch } = spec;
  return {
    ...(await commitBatch(batch, sorted, decisions, deps)),
    rejections: spec.rejections.length,
  };
}
