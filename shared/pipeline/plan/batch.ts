/**
 * Plans one batch: decides every job, checks budgets, creates the batch and its jobs, ends the
 * jobs that need no LLM call and sends the rest as work messages. The team's monthly budget is
 * reserved by the worker, job by job, right before each call (see shared/pipeline/admit.ts):
 * reserving every job's upper bound here would turn most of a batch away while a fraction of
 * the cap was actually spent.
 */
import pLimit from 'p-limit';
import type { JobEnd, NewJob } from '../../ports/jobs';
import { monthOf } from '../../ports/ledger';
import { MAX_TAGS, sortedTags, type Tags } from '../../tags';
import { rejectionsKeyFor, requestKeyFor } from '../keys';
import type { WorkJob } from '../messages';
import type { PipelineDeps } from '../types';
import { contextLoader, type Decision, decide, plannableJob, planPricing, usd } from './decide';
import { sendWork } from './send';
import { shadowSpecOf } from './shadow';
import { type BatchSpec, knownModelTest } from './spec';

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
 * The batch with its project's default tags under its own. Defaults that would take the batch
 * past 50 tags are left out (its own tags win) and the planner says so in its log.
 */
function withTags(spec: BatchSpec, defaults: Tags | undefined, deps: PipelineDeps): BatchSpec {
  if (!defaults && !spec.tags) return spec;
  const own = spec.tags ?? {};
  const tags: Tags = { ...own };
  const left: string[] = [];
  for (const [key, value] of Object.entries(sortedTags(defaults)))
    if (key in tags) continue;
    else if (Object.keys(tags).length < MAX_TAGS) tags[key] = value;
    else left.push(key);
  if (left.length > 0)
    deps.logger?.warn('project default tags left out: the batch would pass 50 tags', {
      team: spec.team,
      batchId: spec.batchId,
      left,
    });
  return Object.keys(tags).length > 0 ? { ...spec, tags: sortedTags(tags) } : spec;
}

/**
 * Plans one batch: decides every job, checks budgets, creates the batch, ends the jobs that
 * need no LLM call, sends the work messages, and queues finalization when nothing is left.
 */
export async function planBatchSpec(given: BatchSpec, deps: PipelineDeps): Promise<PlannedBatch> {
  const { settings, jobs: store, ledger } = deps;
  const spec = withTags(given, settings.projectTags[given.team]?.[given.project], deps);
  const now = deps.clock.now();
  const month = monthOf(now.toISOString());
  const limit = pLimit(settings.concurrency.planning);
  const loadContext = contextLoader(deps, spec);
  const pricing = await planPricing(deps, now, spec.deadline);
  // A shadow run is planned as a batch of its own, after this one; the primary names it.
  const shadow = shadowSpecOf(spec, deps, knownModelTest(pricing.catalog));
  if (shadow.rejection) spec.rejections.push(shadow.rejection);
  if (shadow.spec && shadow.shadow)
    spec.shadow = {
      batchId: shadow.spec.batchId,
      model: shadow.shadow.model,
      rate: shadow.shadow.rate,
    };
  const sorted = [...spec.jobs].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const decisions = new Map<string, Decision>();
  await limit.map(sorted, async (job) =>
    decisions.set(job.jobId, await decide(job, deps, loadContext, pricing)),
  );

  // The team's cap is set here; the worker reserves against it. A job whose upper bound alone
  // passes the cap can never run: it is skipped now, saying what would let it run. The batch's
  // own budget (a manifest's budgetUsd) is checked on estimates, in path order, so the same
  // files run on every delivery.
  const cap = settings.budgets[spec.team];
  if (cap !== undefined) await ledger.setBudget(spec.team, month, cap);
  let batchCommitted = 0;
  for (const job of sorted) {
    const d = decisions.get(job.jobId);
    if (d?.kind !== 'llm') continue;
    if (cap !== undefined && d.estimateNanoUsd > cap) {
      decisions.set(job.jobId, {
        kind: 'skipped_budget',
        reason: `this job may cost up to ${usd(d.estimateNanoUsd)}, more than team ${spec.team}'s whole monthly budget of ${usd(cap)}: raise budgets.${spec.team}, or lower maxOutputTokens (or the request's max_tokens)`,
      });
      continue;
    }
    if (
      spec.budgetNanoUsd !== undefined &&
      batchCommitted + d.estimateNanoUsd > spec.budgetNanoUsd
    ) {
      decisions.set(job.jobId, {
        kind: 'skipped_budget',
        reason: `the batch budget of ${usd(spec.budgetNanoUsd)} would be exceeded (estimate ${usd(d.estimateNanoUsd)}, ${usd(batchCommitted)} already committed): submit with a higher --budget-usd`,
      });
      continue;
    }
    batchCommitted += d.estimateNanoUsd;
  }

  await limit.map(sorted, async (job) => {
    const d = decisions.get(job.jobId);
    if (d?.kind === 'llm')
      await deps.objects.put(
        requestKeyFor(spec, job.jobId),
        JSON.stringify(d.request),
        'application/json',
      );
  });
  await deps.objects.put(
    rejectionsKeyFor(spec),
    JSON.stringify(spec.rejections),
    'application/json',
  );

  const newJobs: NewJob[] = sorted.map((job) => {
    const d = decisions.get(job.jobId);
    const llm = d?.kind === 'llm' ? d : undefined;
    return {
      jobId: job.jobId,
      path: job.path,
      inputKey: job.inputKey,
      outputKey: job.outputKey,
      ...(job.customId !== undefined ? { customId: job.customId } : {}),
      ...(job.repairOf !== undefined ? { repairOf: job.repairOf } : {}),
      ...(llm
        ? {
            requestKey: requestKeyFor(spec, job.jobId),
            requestHash: llm.requestHash,
            estimateNanoUsd: llm.estimateNanoUsd,
          }
        : {}),
    };
  });
  const {
    jobs: _jobs,
    rejections: _rejections,
    budgetNanoUsd: _b,
    messageIds: _m,
    shadowRequest: _s,
    ...batch
  } = spec;
  const { created } = await store.createBatch(batch, newJobs);

  // Act on what is stored, so a redelivery finishes what the first delivery began.
  const stored = await store.listJobs(spec);
  const ended = { failed: 0, reused: 0, skipped_budget: 0 };
  const plannable: WorkJob[] = [];
  await limit.map(stored, async (item) => {
    if (item.state !== 'pending') return;
    const d = decisions.get(item.jobId);
    const end = async (how: JobEnd & { state: keyof typeof ended }) => {
      if (await store.endJob(spec, item.jobId, how, { now })) ended[how.state]++;
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
    } else if (d.kind === 'skipped_budget') {
      await end({ state: 'skipped_budget', error: { code: 'budget', reason: d.reason } });
    } else if (!item.requestKey) {
      await end({
        state: 'failed',
        error: { code: 'not_planned', reason: 'the job was stored without its request' },
      });
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
  });
  // Jobs ended here hold no reservation: only the worker reserves.
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
  deps.logger?.info('batch planned', {
    ...result,
    team: spec.team,
    project: spec.project,
    lane: spec.lane ?? 'primary',
  });
  if (shadow.spec) await planBatchSpec(shadow.spec, deps);
  return result;
}
