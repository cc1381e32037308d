/**
 * The two steps of planning a batch, whole or in shards: deciding its jobs (`decideJobs`) and
 * committing the decisions (`commitBatch`): budgets, the batch and its jobs, the work sent.
 */
import pLimit from 'p-limit';
import type { Job } from '../../inputs';
import type { JobErrorCode } from '../../job-errors';
import type { JobEnd, JobItem, NewJob } from '../../ports/jobs';
import { monthOf } from '../../ports/ledger';
import { requestSetKeyFor } from '../keys';
import type { WorkJob } from '../messages';
import { REQUESTS_PER_OBJECT, requestSetId, type StoredRequestSet } from '../request';
import type { PipelineDeps } from '../types';
import {
  contextLoader,
  decide,
  type PlannedRequest,
  type PlanPricing,
  plannableJob,
  plannedRequest,
  planPricing,
  usd,
} from './decide';
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
  /** Set when the batch was handed to shards instead: how many. */
  shards?: number;
}

/**
 * What the planner decided for a job, without the request itself (which is stored by then):
 * small and serializable, so a shard can hand it to the step that commits the batch.
 */
export type PlanDecision =
  | { kind: 'failed'; code: JobErrorCode; reason: string }
  | { kind: 'reused'; responseId: string; requestHash: string }
  | { kind: 'skipped_budget'; reason: string }
  | ({
      kind: 'llm';
      requestKey: string;
      requestHash: string;
      estimateNanoUsd: number;
      /** Bytes of the job's own message (its file), counted against `maxBatchBytes`. */
      inputBytes?: number;
      /** The fallback the estimate is priced at, when dearer than the job's own endpoint. */
      dearest?: string;
    } & PlannedRequest);

/** The batch a commit creates, with what was checked against its jobs' estimates. */
export type CommitSpec = Omit<BatchSpec, 'jobs' | 'rejections' | 'messageIds'>;

/** What a commit needs to know of each job; in path order. */
export type CommitJob = Pick<
  Job,
  'jobId' | 'path' | 'inputKey' | 'outputKey' | 'customId' | 'repairOf'
>;

/**
 * Decides `jobs` of a batch and stores the requests of the jobs that will call the LLM, a set
 * of up to `REQUESTS_PER_OBJECT` jobs (in the order given) to an object, as soon as the set is
 * decided, so that no more than two sets of requests are held at once.
 */
export async function decideJobs(
  spec: BatchSpec,
  jobs: readonly Job[],
  deps: PipelineDeps,
  given?: PlanPricing,
): Promise<Map<string, PlanDecision>> {
  const limit = pLimit(deps.settings.concurrency.planning);
  const loadContext = contextLoader(deps, spec);
  const pricing = given ?? (await planPricing(deps, deps.clock.now(), spec.deadline));
  const decisions = new Map<string, PlanDecision>();
  const sets: Job[][] = [];
  for (let i = 0; i < jobs.length; i += REQUESTS_PER_OBJECT)
    sets.push(jobs.slice(i, i + REQUESTS_PER_OBJECT));
  await pLimit(2).map(sets, async (set) => {
    const decided = await limit.map(set, async (job) => {
      const d = await decide(job, deps, loadContext, pricing);
      if (d.kind === 'llm') return { job, d };
      decisions.set(job.jobId, d);
      return undefined;
    });
    const calls = decided.filter((c) => c !== undefined);
    if (calls.length === 0) return;
    const key = requestSetKeyFor(
      spec,
      requestSetId(calls.map(({ job, d }) => ({ jobId: job.jobId, requestHash: d.requestHash }))),
    );
    const stored: StoredRequestSet = {
      requests: Object.fromEntries(calls.map(({ job, d }) => [job.jobId, d.request])),
    };
    await deps.objects.put(key, JSON.stringify(stored), 'application/json');
    for (const { job, d } of calls) {
      const { request, requestHash, estimateNanoUsd, dearest, ...shape } = d;
      decisions.set(job.jobId, {
        kind: 'llm',
        requestKey: key,
        requestHash,
        estimateNanoUsd,
        ...(dearest ? { dearest } : {}),
        inputBytes: Buffer.byteLength(request.messages.at(-1)?.content ?? '', 'utf8'),
        ...plannedRequest(job.path, request, shape),
      });
    }
  });
  return decisions;
}

/** What a commit needs of a job, and no more: what a shard stores beside its decision. */
export function commitJobOf(job: CommitJob): CommitJob {
  return {
    jobId: job.jobId,
    path: job.path,
    inputKey: job.inputKey,
    outputKey: job.outputKey,
    ...(job.customId !== undefined ? { customId: job.customId } : {}),
    ...(job.repairOf !== undefined ? { repairOf: job.repairOf } : {}),
  };
}

/** The jobs table's items of decided jobs: those that call the LLM with their request and estimate. */
export function newJobsOf(
  jobs: readonly CommitJob[],
  decisions: ReadonlyMap<string, PlanDecision>,
): NewJob[] {
  return jobs.map((job) => {
    const d = decisions.get(job.jobId);
    const llm = d?.kind === 'llm' ? d : undefined;
    return {
      ...commitJobOf(job),
      ...(llm
        ? {
            requestKey: llm.requestKey,
            requestHash: llm.requestHash,
            estimateNanoUsd: llm.estimateNanoUsd,
          }
        : {}),
      // A reused job keeps the hash of its request: its reuse entry names where the request
      // that produced the output is stored, which a repair of the job reads.
      ...(d?.kind === 'reused' ? { requestHash: d.requestHash } : {}),
    };
  });
}

/** Jobs in path order: the order budgets are checked in, so the same files run every time. */
export function inPathOrder<T extends { path: string }>(jobs: readonly T[]): T[] {
  return [...jobs].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Commits a decided batch: applies the team's cap and the batch budget (in path order, on
 * estimates), creates the batch and its jobs, ends those that need no call, and sends the work.
 * Acts on what is stored, so a second commit (a redelivery) finishes what the first began.
 */
export async function commitBatch(
  spec: CommitSpec,
  sorted: readonly CommitJob[],
  decisions: Map<string, PlanDecision>,
  deps: PipelineDeps,
  options: {
    /** The jobs were written by the shards that decided them: only the batch item is now. */
    jobsWritten?: boolean;
  } = {},
): Promise<PlannedBatch> {
  const { jobs: store } = deps;
  const now = deps.clock.now();
  const month = monthOf(now.toISOString());
  await applyLimits(spec, sorted, decisions, month, deps);
  const { budgetNanoUsd: _b, shadowRequest: _s, ...batch } = spec;
  const { created } = await store.createBatch(batch, newJobsOf(sorted, decisions), options);
  // Act on what is stored, so a redelivery finishes what the first delivery began.
  const stored = await store.listJobs(spec);
  const { ended, plannable } = await endOrPlan(spec, stored, decisions, now, deps);
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
    rejections: 0,
  };
  deps.logger?.info('batch planned', {
    ...result,
    team: spec.team,
    project: spec.project,
    lane: spec.lane ?? 'primary',
  });
  return result;
}

/**
 * Turns decisions to call the LLM that pass a limit into failures or skips: the batch's input
 * bytes, the team's cap and the batch's own budget, in path order.
 */
async function applyLimits(
  spec: CommitSpec,
  sorted: readonly CommitJob[],
  decisions: Map<string, PlanDecision>,
  month: string,
  deps: PipelineDeps,
): Promise<void> {
  const { settings, ledger } = deps;
  // The team's cap is set here; the worker reserves against it. A job whose upper bound alone
  // passes the cap can never run: it is skipped now, saying what would let it run. The batch's
  // own budget (a manifest's budgetUsd) is checked on estimates, in path order, so the same
  // files run on every delivery.
  const cap = settings.budgets[spec.team];
  if (cap !== undefined) await ledger.setBudget(spec.team, month, cap);
  let batchCommitted = 0;
  let batchBytes = 0;
  for (const job of sorted) {
    const d = decisions.get(job.jobId);
    if (d?.kind !== 'llm') continue;
    // The batch's input bytes are capped in path order, so the same files run on every delivery.
    const bytes = d.inputBytes ?? 0;
    if (batchBytes + bytes > settings.maxBatchBytes) {
      decisions.set(job.jobId, {
        kind: 'failed',
        code: 'too_large',
        reason: `the batch's earlier files already send ${batchBytes} bytes and this one ${bytes} more, over the batch limit of ${settings.maxBatchBytes} bytes (setting maxBatchBytes): submit it in another batch`,
      });
      continue;
    }
    batchBytes += bytes;
    if (cap !== undefined && d.estimateNanoUsd > cap) {
      decisions.set(job.jobId, {
        kind: 'skipped_budget',
        reason: `this job may cost up to ${usd(d.estimateNanoUsd)}${d.dearest ? ` (${d.dearest}, the dearest endpoint it may be served by)` : ''}, more than team ${spec.team}'s whole monthly budget of ${usd(cap)}: raise budgets.${spec.team}, or lower maxOutputTokens (or the request's max_tokens)`,
      });
      continue;
    }
    if (
      spec.budgetNanoUsd !== undefined &&
      batchCommitted + d.estimateNanoUsd > spec.budgetNanoUsd
    ) {
      decisions.set(job.jobId, {
        kind: 'skipped_budget',
        reason: `the batch budget of ${usd(spec.budgetNanoUsd)} would be exceeded (estimate ${usd(d.estimateNanoUsd)}${d.dearest ? ` at ${d.dearest}` : ''}, ${usd(batchCommitted)} already committed): submit with a higher --budget-usd`,
      });
      continue;
    }
    batchCommitted += d.estimateNanoUsd;
  }
}

/** Ends the stored pending jobs that need no call; returns the rest as work to send. */
async function endOrPlan(
  spec: CommitSpec,
  stored: readonly JobItem[],
  decisions: ReadonlyMap<string, PlanDecision>,
  now: Date,
  deps: PipelineDeps,
): Promise<{ ended: PlannedBatch['ended']; plannable: WorkJob[] }> {
  const store = deps.jobs;
  const limit = pLimit(deps.settings.concurrency.planning);
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
        // The decision's set holds the bytes its hash names (a shard's decision from before
        // sets has no key: the job's own then).
        plannableJob(
          item,
          { requestKey: d.requestKey || item.requestKey, requestHash: d.requestHash },
          d,
        ),
      );
    }
  });
  return { ended, plannable };
}
