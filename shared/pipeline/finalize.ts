/**
 * Finalization: once every job of a batch has ended, its results are written under
 * `results/<batchId>/` (results.jsonl in the OpenAI Batch output format, errors.jsonl, and
 * summary.json) and the batch is marked done. The objects are derived from the stored jobs
 * only, so a redelivered finalize message rewrites the same bytes.
 */
import pLimit from 'p-limit';
import type { Rejection } from '../inputs';
import { failureAction, isFailureCode } from '../job-errors';
import type { JobItem } from '../ports/jobs';
import { nanoToUsd } from '../pricing/estimate';
import { PREFIXES } from '../resources';
import { savingsNanoUsd, warmupShare } from '../totals';
import type { JobState } from '../types';
import { rejectionsKeyFor, resultKeys } from './keys';
import { FinalizeBodySchema, parseBody } from './messages';
import type { PipelineDeps } from './types';

/** `summary.json` of a finalized batch: its job states, tokens, cost and savings. */
export interface ResultsSummary {
  batchId: string;
  team: string;
  project: string;
  kind: string;
  model: string;
  jobs: number;
  states: Record<JobState, number>;
  /** Inputs that never became jobs (bad keys, bad manifest lines). */
  rejectedInputs: number;
  requests: number;
  /** Of `requests`: warm-ups, cache probes and attempts the client discarded. */
  warmupRequests: number;
  /** Of `requests`: responses no price row covered yet (not in any cost; see `costs reprice`). */
  unpricedRequests: number;
  tokens: { hit: number; miss: number; output: number; reasoning: number };
  /** hit / (hit + miss), 0 when nothing was sent. */
  cacheHitRatio: number;
  /** Everything paid, overhead included (unpriced responses excepted). */
  costNanoUsd: number;
  /** Of `costNanoUsd`: warm-ups, probes and discarded attempts, the pipeline's own overhead. */
  warmupCostNanoUsd: number;
  /** warmupCostNanoUsd / costNanoUsd, 0 when nothing was paid. */
  warmupShare: number;
  /** The job answers' tokens on the reference model; overhead is not in it. */
  counterfactualNanoUsd: number;
  /** counterfactualNanoUsd - costNanoUsd: overhead counts against the savings. */
  savingsNanoUsd: number;
  /** For display only; the nano-USD integers are the figures. */
  usd: { cost: number; warmupCost: number; counterfactual: number; savings: number };
  outputPrefix: string;
  results: ReturnType<typeof resultKeys>;
}

/** One line of results.jsonl, shaped like an OpenAI Batch API output line. */
function resultLine(job: JobItem, content: string, model: string) {
  const usage = job.usage;
  const prompt = usage ? usage.promptHitTokens + usage.promptMissTokens : 0;
  return {
    id: `batch_req_${job.jobId}`,
    custom_id: job.customId ?? job.path,
    response: {
      status_code: 200,
      request_id: job.responseId ?? '',
      body: {
        id: job.responseId ?? '',
        object: 'chat.completion',
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content },
            finish_reason: 'stop',
          },
        ],
        usage: {
          prompt_tokens: prompt,
          completion_tokens: usage?.completionTokens ?? 0,
          total_tokens: prompt + (usage?.completionTokens ?? 0),
          prompt_cache_hit_tokens: usage?.promptHitTokens ?? 0,
          prompt_cache_miss_tokens: usage?.promptMissTokens ?? 0,
          completion_tokens_details: { reasoning_tokens: usage?.reasoningTokens ?? 0 },
        },
        warmbatch: { state: job.state, output_key: job.outputKey },
      },
    },
    error: null,
  };
}

const jsonl = (lines: readonly unknown[]) =>
  lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : '');

/**
 * Writes a batch's results and marks it done. Returns the summary, or undefined when the batch
 * does not exist.
 */
export async function finalizeBatch(
  batchId: string,
  deps: PipelineDeps,
): Promise<ResultsSummary | undefined> {
  const batch = await deps.jobs.getBatch(batchId);
  if (!batch) {
    deps.logger?.warn('finalize: no such batch', { batchId });
    return undefined;
  }
  const jobs = await deps.jobs.listJobs(batchId);
  const rejectionsText = await deps.objects.getText(rejectionsKeyFor(batchId));
  const rejections = rejectionsText ? (JSON.parse(rejectionsText) as Rejection[]) : [];

  const byPath = [...jobs].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const hasOutput = (job: JobItem) => job.state === 'succeeded' || job.state === 'reused';
  const limit = pLimit(deps.settings.concurrency.outputReads);
  const contents = await limit.map(byPath, async (job) =>
    hasOutput(job) ? ((await deps.objects.getText(job.outputKey)) ?? '') : '',
  );
  const results: unknown[] = [];
  const errors: unknown[] = [];
  for (const [i, job] of byPath.entries()) {
    if (hasOutput(job)) {
      results.push(resultLine(job, contents[i] ?? '', batch.model));
    } else {
      // A job that ended without an error of its own (cancelled) is reported by its state.
      const code = job.error?.code ?? (isFailureCode(job.state) ? job.state : 'error');
      errors.push({
        custom_id: job.customId ?? job.path,
        path: job.path,
        state: job.state,
        code,
        action: failureAction(code),
        reason: job.error?.reason ?? `the job ended ${job.state}`,
      });
    }
  }
  for (const r of rejections)
    errors.push({
      custom_id: null,
      path: r.source,
      state: 'rejected',
      code: r.code,
      action: failureAction(r.code),
      reason: r.where ? `${r.where}: ${r.reason}` : r.reason,
    });

  const states = {
    pending: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    skipped_budget: 0,
    reused: 0,
    cancelled: 0,
  } satisfies Record<JobState, number>;
  for (const job of jobs) states[job.state]++;
  const t = batch.totals;
  const prompt = t.hitTokens + t.missTokens;
  const savings = savingsNanoUsd(t);
  const keys = resultKeys(batchId);
  const summary: ResultsSummary = {
    batchId,
    team: batch.team,
    project: batch.project,
    kind: batch.kind,
    model: batch.model,
    jobs: jobs.length,
    states,
    rejectedInputs: rejections.length,
    requests: t.requests,
    warmupRequests: t.warmupRequests,
    unpricedRequests: t.unpricedRequests,
    tokens: {
      hit: t.hitTokens,
      miss: t.missTokens,
      output: t.outputTokens,
      reasoning: t.reasoningTokens,
    },
    cacheHitRatio: prompt === 0 ? 0 : t.hitTokens / prompt,
    costNanoUsd: t.costNanoUsd,
    warmupCostNanoUsd: t.warmupCostNanoUsd,
    warmupShare: warmupShare(t),
    counterfactualNanoUsd: t.counterfactualNanoUsd,
    savingsNanoUsd: savings,
    usd: {
      cost: nanoToUsd(t.costNanoUsd),
      warmupCost: nanoToUsd(t.warmupCostNanoUsd),
      counterfactual: nanoToUsd(t.counterfactualNanoUsd),
      savings: nanoToUsd(savings),
    },
    outputPrefix: `${PREFIXES.outputs}${batch.team}/${batch.project}/${batchId}/`,
    results: keys,
  };
  await deps.objects.put(keys.results, jsonl(results), 'application/jsonl');
  await deps.objects.put(keys.errors, jsonl(errors), 'application/jsonl');
  await deps.objects.put(keys.summary, `${JSON.stringify(summary, null, 2)}\n`, 'application/json');
  await deps.jobs.finishBatch(batchId, deps.clock.now());
  deps.logger?.info('batch finalized', {
    batchId,
    succeeded: states.succeeded,
    failed: states.failed,
    reused: states.reused,
    skippedBudget: states.skipped_budget,
    costNanoUsd: t.costNanoUsd,
    warmupCostNanoUsd: t.warmupCostNanoUsd,
    unpricedRequests: t.unpricedRequests,
  });
  return summary;
}

/** Runs one finalize message. */
export async function processFinalizeMessage(
  rawBody: string,
  deps: PipelineDeps,
): Promise<ResultsSummary | undefined> {
  const { batchId } = parseBody(FinalizeBodySchema, rawBody, 'finalize');
  return finalizeBatch(batchId, deps);
}
