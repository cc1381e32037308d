/**
 * Plans one batch: decides every job, reserves budget, creates the batch and its jobs, ends the
 * jobs that need no LLM call and sends the rest as work messages.
 */
import pLimit from 'p-limit';
import type { JobEnd, NewJob } from '../../ports/jobs';
import { monthOf } from '../../ports/ledger';
import { rejectionsKeyFor, requestKeyFor } from '../keys';
import type { WorkJob } from '../messages';
import type { PipelineDeps } from '../types';
import { contextLoader, type Decision, decide, plannableJob, planPricing, usd } from './decide';
import { sendWork } from './send';
import type { BatchSpec } from './spec';

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
  const limit = pLimit(settings.concurrency.planning);
  const loadContext = contextLoader(deps, spec);
  const pricing = await planPricing(deps, now, spec.deadline);
  const sorted = [...spec.jobs].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const decisions = new Map<string, Decision>();
  await limit.map(sorted, async (job) =>
    decisions.set(job.jobId, await decide(job, deps, loadContext, pricing)),
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

  await limit.map(sorted, async (job) => {
    const d = decisions.get(job.jobId);
    if (d?.kind === 'llm' && reserved.has(job.jobId))
      await deps.objects.put(
        requestKeyFor(spec.batchId, job.jobId),
        JSON.stringify(d.request),
        'application/json',
      );
  });
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
  const plannable: WorkJob[] = [];
  await limit.map(stored, async (item) => {
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
  });
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
