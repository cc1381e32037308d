/**
 * What the CI-facing commands report about a batch: its state from the batch item, the failed
 * files with their reasons, the exit code, and the downloaded outputs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import pLimit from 'p-limit';
import type { Clock } from '../../shared/clock';
import { DEFAULT_CONCURRENCY } from '../../shared/concurrency';
import { type FailureAction, failureAction, isFailureCode } from '../../shared/job-errors';
import { resultKeys } from '../../shared/pipeline/keys';
import type { BatchItem, EndState, JobItem, JobsStore } from '../../shared/ports/jobs';
import type { ObjectStore } from '../../shared/ports/objects';
import { PREFIXES } from '../../shared/resources';
import { warmupShare } from '../../shared/totals';
import { EXIT, type ExitCode } from './exit';
import { cacheHitRatio, formatRatio, usd } from './money';

/** A file that did not produce an output, and why. */
export interface BatchFailure {
  path: string;
  /** The job's terminal state, or `rejected` for an input that never became a job. */
  state: 'failed' | 'skipped_budget' | 'cancelled' | 'rejected';
  code: string;
  /** What to do about it, from the code (see shared/job-errors.ts). */
  action: FailureAction;
  reason: string;
}

/** The summary `submit --json`, `status --json` and `results --json` print. */
export interface BatchReport {
  batchId: string;
  team: string;
  project: string;
  kind: string;
  model: string;
  status: BatchItem['status'];
  cancelled: boolean;
  finished: boolean;
  total: number;
  ended: number;
  counters: Record<EndState, number>;
  requests: number;
  hitTokens: number;
  missTokens: number;
  outputTokens: number;
  cacheHitRatio: number | null;
  costNanoUsd: number;
  /** Of the cost: warm-ups, probes and discarded attempts. */
  warmupCostNanoUsd: number;
  warmupShare: number;
  /** The job answers on the reference model; warm-ups are not in it. */
  counterfactualNanoUsd: number;
  /** Billed responses no price row covered yet: not in the cost (see `warmbatch costs`). */
  unpricedRequests: number;
  costUsd: string;
  failures: BatchFailure[];
  /** Files written by `--out`, relative to it. */
  outputs?: string[];
  exitCode: ExitCode;
}

const FAILED_STATES = new Set<JobItem['state']>(['failed', 'skipped_budget', 'cancelled']);

const DEFAULT_REASONS: Record<string, string> = {
  failed: 'the job failed without a recorded reason: see results/<batchId>/errors.jsonl',
  skipped_budget: "skipped: the team's monthly budget was used up; raise it or wait for next month",
  cancelled: 'cancelled before it started',
};

/** A batch has ended when it is done, or cancelled with every job in a terminal state. */
export function isFinished(batch: BatchItem): boolean {
  if (batch.status === 'done') return true;
  return isCancelled(batch) && batch.ended >= batch.total;
}

/** Cancellation survives finalization in `cancelledAt`, after `status` moved on to `done`. */
export function isCancelled(batch: BatchItem): boolean {
  return batch.status === 'cancelled' || batch.cancelledAt !== undefined;
}

/** The documented exit code of a batch's outcome. */
export function exitCodeOf(
  batch: BatchItem,
  failures: readonly BatchFailure[],
  timedOut = false,
): ExitCode {
  if (isCancelled(batch)) return EXIT.cancelled;
  if (timedOut) return EXIT.timeout;
  return failures.length > 0 ? EXIT.jobsFailed : EXIT.ok;
}

interface ErrorLine {
  path?: unknown;
  source?: unknown;
  customId?: unknown;
  custom_id?: unknown;
  code?: unknown;
  reason?: unknown;
}

/** Reads `results/<batchId>/errors.jsonl` leniently: a line that is not an object is skipped. */
function parseErrorLines(text: string): Map<string, { code: string; reason: string }> {
  const out = new Map<string, { code: string; reason: string }>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let raw: ErrorLine;
    try {
      raw = JSON.parse(line) as ErrorLine;
    } catch {
      continue;
    }
    const path = [raw.path, raw.customId, raw.custom_id, raw.source].find(
      (v): v is string => typeof v === 'string',
    );
    if (path === undefined) continue;
    out.set(path, {
      code: typeof raw.code === 'string' ? raw.code : 'rejected',
      reason: typeof raw.reason === 'string' ? raw.reason : 'rejected by the planner',
    });
  }
  return out;
}

/**
 * What to do about a failure. A code this version does not know (errors.jsonl written by a
 * newer finalize) is taken as transient: running the batch again is the safe first step.
 */
function actionOf(code: string): FailureAction {
  return isFailureCode(code) ? failureAction(code) : 'run-again';
}

/**
 * Every file of the batch that produced no output, with a reason: jobs that ended failed,
 * skipped or cancelled, and submitted files that never became jobs (rejected at planning; the
 * reason comes from errors.jsonl when finalization wrote it).
 */
async function failuresOf(
  jobs: readonly JobItem[],
  objects: ObjectStore,
  batchId: string,
  submitted: readonly string[] = [],
): Promise<BatchFailure[]> {
  let listed = new Map<string, { code: string; reason: string }>();
  try {
    const text = await objects.getText(resultKeys(batchId).errors);
    if (text !== undefined) listed = parseErrorLines(text);
  } catch {
    // errors.jsonl only adds detail; the jobs table alone still names every failed job.
  }
  const failures: BatchFailure[] = [];
  for (const job of jobs) {
    if (!FAILED_STATES.has(job.state)) continue;
    const state = job.state as BatchFailure['state'];
    const code = job.error?.code ?? listed.get(job.path)?.code ?? state;
    failures.push({
      path: job.path,
      state,
      code,
      action: actionOf(code),
      reason: job.error?.reason ?? listed.get(job.path)?.reason ?? DEFAULT_REASONS[state] ?? state,
    });
  }
  const withJobs = new Set(jobs.map((j) => j.path));
  const rejected = new Set([...submitted.filter((p) => !withJobs.has(p)), ...listed.keys()]);
  for (const path of [...rejected].sort()) {
    if (withJobs.has(path)) continue;
    const entry = listed.get(path);
    const code = entry?.code ?? 'rejected';
    failures.push({
      path,
      state: 'rejected',
      code,
      action: actionOf(code),
      reason: entry?.reason ?? `rejected at planning: see ${resultKeys(batchId).errors}`,
    });
  }
  return failures.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Builds the summary of a batch from its item, its failures and the downloaded outputs. */
function summarize(
  batch: BatchItem,
  failures: BatchFailure[],
  options: { outputs?: string[]; timedOut?: boolean } = {},
): BatchReport {
  const t = batch.totals;
  return {
    batchId: batch.batchId,
    team: batch.team,
    project: batch.project,
    kind: batch.kind,
    model: batch.model,
    status: batch.status,
    cancelled: isCancelled(batch),
    finished: isFinished(batch),
    total: batch.total,
    ended: batch.ended,
    counters: batch.counters,
    requests: t.requests,
    hitTokens: t.hitTokens,
    missTokens: t.missTokens,
    outputTokens: t.outputTokens,
    cacheHitRatio: cacheHitRatio(t.hitTokens, t.missTokens),
    costNanoUsd: t.costNanoUsd,
    warmupCostNanoUsd: t.warmupCostNanoUsd,
    warmupShare: warmupShare(t),
    counterfactualNanoUsd: t.counterfactualNanoUsd,
    unpricedRequests: t.unpricedRequests,
    costUsd: usd(t.costNanoUsd),
    failures,
    ...(options.outputs ? { outputs: options.outputs } : {}),
    exitCode: exitCodeOf(batch, failures, options.timedOut),
  };
}

/**
 * What `submit --wait`, `status` and `results` report: reads the batch's jobs and failed files
 * (`submitted` are the manifest's files, to name those rejected at planning), downloads the
 * outputs into `outDir` when given, and builds the summary.
 */
export async function reportBatch(
  stores: { jobs: JobsStore; objects: ObjectStore },
  batch: BatchItem,
  options: { submitted: readonly string[]; outDir?: string; timedOut?: boolean },
): Promise<BatchReport> {
  const jobs = await stores.jobs.listJobs(batch.batchId);
  const failures = await failuresOf(jobs, stores.objects, batch.batchId, options.submitted);
  const outputs =
    options.outDir === undefined
      ? undefined
      : await downloadOutputs({ objects: stores.objects, batch, jobs, outDir: options.outDir });
  return summarize(batch, failures, { outputs, timedOut: options.timedOut });
}

/** The summary as printed: one JSON object with `--json`, else the human-readable lines. */
export function printedSummary(summary: BatchReport, json: boolean | undefined): string {
  return json ? `${JSON.stringify(summary)}\n` : renderSummary(summary);
}

/** The human-readable summary: one status line, then each failed file and its reason. */
function renderSummary(summary: BatchReport): string {
  const c = summary.counters;
  const lines = [
    `batch ${summary.batchId} (${summary.team}/${summary.project}, ${summary.kind}, ${summary.model}): ${summary.cancelled ? 'cancelled' : summary.status}`,
    `  ${summary.ended}/${summary.total} ended: ${c.succeeded} succeeded, ${c.reused} reused, ${c.failed} failed, ${c.skipped_budget} skipped (budget), ${c.cancelled} cancelled`,
    `  cost ${summary.costUsd} over ${summary.requests} requests (warm-up ${usd(summary.warmupCostNanoUsd)}, ${formatRatio(summary.warmupShare)}), cache hit ${formatRatio(summary.cacheHitRatio)} (counterfactual for the jobs ${usd(summary.counterfactualNanoUsd)})`,
  ];
  if (summary.unpricedRequests > 0)
    lines.push(
      `  ${summary.unpricedRequests} billed response(s) have no price row yet and are not in the cost: see \`warmbatch costs\``,
    );
  if (summary.outputs) lines.push(`  ${summary.outputs.length} output file(s) written`);
  for (const f of summary.failures) lines.push(`  ${f.state}: ${f.path}: ${f.reason} [${f.code}]`);
  return `${lines.join('\n')}\n`;
}

export interface WaitOptions {
  jobs: JobsStore;
  batchId: string;
  clock: Clock;
  sleep(ms: number): Promise<void>;
  pollMs: number;
  timeoutMs: number;
  /** Called after every poll that found the batch item. */
  onProgress?(batch: BatchItem): void;
}

/**
 * Polls the batch item until the batch has ended or `timeoutMs` passed. The item appears only
 * once the planner has run, so a missing item means "not planned yet", not an error.
 */
export async function waitForBatch(
  options: WaitOptions,
): Promise<{ batch: BatchItem | undefined; timedOut: boolean }> {
  const start = options.clock.now().getTime();
  for (;;) {
    const batch = await options.jobs.getBatch(options.batchId);
    if (batch) {
      options.onProgress?.(batch);
      if (isFinished(batch)) return { batch, timedOut: false };
    }
    if (options.clock.now().getTime() - start >= options.timeoutMs)
      return { batch, timedOut: true };
    await options.sleep(options.pollMs);
  }
}

/** Thrown when an output key would land outside `--out`; keys come from validated paths. */
export class OutputPathError extends Error {
  override name = 'OutputPathError';
}

/**
 * Downloads the output of every succeeded or reused job into `outDir`, mirroring the input
 * paths (`src/a.ts` -> `<outDir>/src/a.test.ts`). Returns the written paths relative to outDir.
 */
async function downloadOutputs(options: {
  objects: ObjectStore;
  batch: Pick<BatchItem, 'batchId' | 'team' | 'project'>;
  jobs: readonly JobItem[];
  outDir: string;
  concurrency?: number;
}): Promise<string[]> {
  const { batch, objects } = options;
  const prefix = `${PREFIXES.outputs}${batch.team}/${batch.project}/${batch.batchId}/`;
  const root = resolve(options.outDir);
  const limit = pLimit(options.concurrency ?? DEFAULT_CONCURRENCY.transfers);
  const done = options.jobs.filter((j) => j.state === 'succeeded' || j.state === 'reused');
  const written = await limit.map(done, async (job) => {
    const rel = job.outputKey.startsWith(prefix)
      ? job.outputKey.slice(prefix.length)
      : job.outputKey.split('/').slice(4).join('/');
    const dest = resolve(root, rel);
    const inside = relative(root, dest);
    if (!inside || inside.startsWith('..') || inside.startsWith(sep))
      throw new OutputPathError(`output key ${job.outputKey} would be written outside ${root}`);
    const body = await objects.get(job.outputKey);
    if (body === undefined) return undefined;
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(dest, body);
    return inside.split(sep).join('/');
  });
  return written.filter((p): p is string => p !== undefined).sort();
}
