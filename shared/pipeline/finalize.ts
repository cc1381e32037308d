/**
 * Finalization: once every job of a batch has ended, its results are written under
 * `results/<team>/<batchId>/` (results.jsonl in the OpenAI Batch output format, errors.jsonl, and
 * summary.json) and the batch is marked done. The objects are derived from the stored jobs
 * only, so a redelivered finalize message rewrites the same bytes.
 */
import pLimit from 'p-limit';
import { DEFAULT_MAX_JOBS_PER_MESSAGE } from '../grouping';
import type { Rejection } from '../inputs';
import { failureAction, isFailureCode } from '../job-errors';
import type { BatchItem, JobItem } from '../ports/jobs';
import { AWS_JOB_ID, awsLineId } from '../ports/ledger';
import { awsPriceBook } from '../pricing/aws';
import { usdDecimal } from '../pricing/estimate';
import { pipelineAwsCost } from '../pricing/overhead';
import { type QualityReport, qualityReport } from '../quality/verdicts';
import { FUNCTIONS } from '../resources';
import { savingsNanoUsd, warmupShare } from '../totals';
import type { BatchRef, JobState, Lane } from '../types';
import { reconcileAttempts } from './attempts';
import { outputPrefixFor, rejectionsKeyFor, resultKeys } from './keys';
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
  /**
   * Of `requests`: calls billed but never recorded (a worker died), in the totals as marked
   * upper-bound estimates.
   */
  estimatedRequests: number;
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
  /**
   * What the pipeline's own AWS requests and functions cost for this batch, estimated from the
   * measured operation profile (shared/pricing/overhead.ts) at list prices: beside `costNanoUsd`,
   * not in it (AWS bills the account, not the provider).
   */
  awsOverhead: {
    estimatedNanoUsd: number;
    per1000JobsNanoUsd: number;
    /** estimatedNanoUsd / costNanoUsd; 0 when nothing was paid. */
    shareOfCost: number;
    byServiceNanoUsd: Record<string, number>;
  };
  /**
   * The same figures as exact USD decimal strings (9 places), never floats; the nano-USD
   * integers are authoritative. `total` is the model cost plus the AWS estimate.
   */
  usd: {
    cost: string;
    warmupCost: string;
    counterfactual: string;
    savings: string;
    awsOverhead: string;
    total: string;
  };
  /** The model the counterfactual prices the job answers on. */
  referenceModel: string;
  outputPrefix: string;
  results: ReturnType<typeof resultKeys>;
  /** `primary`, or `repair` / `shadow` for the batches that follow one. */
  lane: Lane;
  repairOf?: { batchId: string; origin: string; round: number };
  shadowOf?: string;
  shadow?: { batchId: string; model: string; rate: number };
  /** Once verdicts were recorded: pass rates, repair spend, cost per passing test, docs scores. */
  quality?: QualityReport;
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
        // What served it, as the provider answered; a job from an older item, or reused, keeps
        // the batch's model and `stop`.
        model: job.servedModel ?? model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content },
            finish_reason: job.finishReason ?? 'stop',
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
        warmbatch: {
          state: job.state,
          output_key: job.outputKey,
          ...(job.servedBy ? { endpoint: job.servedBy } : {}),
        },
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
  ref: BatchRef,
  deps: PipelineDeps,
): Promise<ResultsSummary | undefined> {
  if (!(await deps.jobs.getBatch(ref))) {
    deps.logger?.warn('finalize: no such batch', { ...ref });
    return undefined;
  }
  // Every job has ended, so no call of this batch is still running: an attempt still open was
  // left by a worker that died. Account for it before the totals are read.
  const unrecorded = await reconcileAttempts(ref, undefined, deps);
  const batch = await deps.jobs.getBatch(ref);
  if (!batch) return undefined;
  const jobs = await deps.jobs.listJobs(ref);
  const rejectionsText = await deps.objects.getText(rejectionsKeyFor(ref));
  const rejections = rejectionsText ? (JSON.parse(rejectionsText) as Rejection[]) : [];
  const { results, errors } = await resultLines(batch, jobs, rejections, deps);
  const aws = await awsOverheadOf(batch, jobs, deps);
  const summary = summaryOf(batch, jobs, rejections, aws, deps);
  const keys = summary.results;
  await deps.objects.put(keys.results, jsonl(results), 'application/jsonl');
  await deps.objects.put(keys.errors, jsonl(errors), 'application/jsonl');
  await deps.objects.put(keys.summary, `${JSON.stringify(summary, null, 2)}\n`, 'application/json');
  await deps.jobs.finishBatch(ref, deps.clock.now());
  const t = batch.totals;
  const { states } = summary;
  deps.logger?.info('batch finalized', {
    ...ref,
    succeeded: states.succeeded,
    failed: states.failed,
    reused: states.reused,
    skippedBudget: states.skipped_budget,
    expired: states.expired,
    billedUnrecorded: unrecorded,
    costNanoUsd: t.costNanoUsd,
    warmupCostNanoUsd: t.warmupCostNanoUsd,
    unpricedRequests: t.unpricedRequests,
  });
  return summary;
}

/** results.jsonl's lines (jobs with an output, in path order) and errors.jsonl's (the rest). */
async function resultLines(
  batch: BatchItem,
  jobs: readonly JobItem[],
  rejections: readonly Rejection[],
  deps: PipelineDeps,
): Promise<{ results: unknown[]; errors: unknown[] }> {
  const outputPrefix = outputPrefixFor(batch);
  const byPath = [...jobs].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const hasOutput = (job: JobItem) => job.state === 'succeeded' || job.state === 'reused';
  const limit = pLimit(deps.settings.concurrency.outputReads);
  // Output keys are read back from job items, which a team's own credentials may update: only
  // keys under the batch's own output prefix are read, so no other team's output is copied in.
  const contents = await limit.map(byPath, async (job) =>
    hasOutput(job) && job.outputKey.startsWith(outputPrefix)
      ? ((await deps.objects.getText(job.outputKey)) ?? '')
      : '',
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
  return { results, errors };
}

/**
 * The batch's estimated AWS cost. The estimate is written to the ledger once, as the batch's
 * own AWS line (charge aws), so chargeback shows model, AWS and total per team; finalizing
 * again keeps the recorded one.
 */
async function awsOverheadOf(
  batch: BatchItem,
  jobs: readonly JobItem[],
  deps: PipelineDeps,
): Promise<{ nanoUsd: number; byService: ResultsSummary['awsOverhead']['byServiceNanoUsd'] }> {
  const t = batch.totals;
  const answers = Math.max(1, t.requests - t.warmupRequests);
  const aws = pipelineAwsCost(
    {
      jobs: jobs.length,
      promptTokens: Math.round((t.hitTokens + t.missTokens) / answers),
      cachedTokens: Math.round(t.hitTokens / answers),
      outputTokens: Math.round(t.outputTokens / answers),
      providerConcurrency: deps.settings.executor.concurrency,
      jobsPerMessage: DEFAULT_MAX_JOBS_PER_MESSAGE,
      workerMemoryMb: FUNCTIONS.worker.memoryMb,
    },
    new Date(batch.createdAt),
    awsPriceBook(deps.settings.awsPrices),
  );
  const nanoUsd = t.awsCostNanoUsd > 0 ? t.awsCostNanoUsd : aws.totalNanoUsd;
  if (t.awsCostNanoUsd === 0 && nanoUsd > 0) await recordAwsLine(batch, nanoUsd, deps);
  return { nanoUsd, byService: aws.byService };
}

/** summary.json: the batch's job states, tokens, cost and savings, from its totals. */
function summaryOf(
  batch: BatchItem,
  jobs: readonly JobItem[],
  rejections: readonly Rejection[],
  aws: Awaited<ReturnType<typeof awsOverheadOf>>,
  deps: PipelineDeps,
): ResultsSummary {
  const states = {
    pending: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    skipped_budget: 0,
    reused: 0,
    cancelled: 0,
    expired: 0,
  } satisfies Record<JobState, number>;
  for (const job of jobs) states[job.state]++;
  const t = batch.totals;
  const prompt = t.hitTokens + t.missTokens;
  const savings = savingsNanoUsd(t);
  const awsNanoUsd = aws.nanoUsd;
  return {
    batchId: batch.batchId,
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
    estimatedRequests: t.estimatedRequests,
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
    awsOverhead: {
      estimatedNanoUsd: awsNanoUsd,
      per1000JobsNanoUsd: jobs.length ? Math.round((awsNanoUsd * 1000) / jobs.length) : 0,
      shareOfCost: t.costNanoUsd > 0 ? awsNanoUsd / t.costNanoUsd : 0,
      byServiceNanoUsd: aws.byService,
    },
    usd: {
      cost: usdDecimal(t.costNanoUsd),
      warmupCost: usdDecimal(t.warmupCostNanoUsd),
      counterfactual: usdDecimal(t.counterfactualNanoUsd),
      savings: usdDecimal(savings),
      awsOverhead: usdDecimal(awsNanoUsd),
      total: usdDecimal(t.costNanoUsd + awsNanoUsd),
    },
    referenceModel: deps.settings.referenceModel,
    outputPrefix: outputPrefixFor(batch),
    results: resultKeys(batch),
    lane: batch.lane ?? 'primary',
    ...(batch.repairOf ? { repairOf: batch.repairOf } : {}),
    ...(batch.shadowOf ? { shadowOf: batch.shadowOf } : {}),
    ...(batch.shadow ? { shadow: batch.shadow } : {}),
    ...(batch.quality ? { quality: qualityReport(batch.quality) } : {}),
  };
}

/**
 * Writes a batch's estimated AWS cost to the ledger as its own line: purpose `aws`, no tokens,
 * booked in the month the batch was created, under its team, project, model, kind, lane and
 * tags. It is keyed by the batch (`awsLineId`), so a second finalize writes nothing; it adds to
 * `awsCostNanoUsd` only, never to the model cost (the provider's bill) or the budget.
 */
async function recordAwsLine(
  batch: BatchItem,
  nanoUsd: number,
  deps: Pick<PipelineDeps, 'ledger' | 'settings'>,
): Promise<void> {
  await deps.ledger.recordBilledResponse({
    record: {
      responseId: awsLineId(batch),
      team: batch.team,
      project: batch.project,
      batchId: batch.batchId,
      jobId: AWS_JOB_ID,
      model: batch.model,
      kind: batch.kind,
      purpose: 'aws',
      ...(batch.lane && batch.lane !== 'primary' ? { lane: batch.lane } : {}),
      endpoint: 'aws',
      ...(batch.tags && Object.keys(batch.tags).length > 0 ? { tags: batch.tags } : {}),
      usage: { promptHitTokens: 0, promptMissTokens: 0, completionTokens: 0, reasoningTokens: 0 },
      costNanoUsd: nanoUsd,
      counterfactualNanoUsd: 0,
      referenceModel: deps.settings.referenceModel,
      sentAt: batch.createdAt,
      created: batch.createdAt,
      pricedAt: batch.createdAt,
      price: {
        rowId: 'aws-list-prices-estimate',
        origin: 'shared/pricing/overhead.ts',
        billedAs: 'aws',
        tier: 'flat',
      },
    },
  });
}

/** Runs one finalize message. */
export async function processFinalizeMessage(
  rawBody: string,
  deps: PipelineDeps,
): Promise<ResultsSummary | undefined> {
  const { team, batchId } = parseBody(FinalizeBodySchema, rawBody, 'finalize');
  return finalizeBatch({ team, batchId }, deps);
}
