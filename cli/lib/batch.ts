import { isAbsolute, relative, resolve, sep } from 'node:path';
import pLimit from 'p-limit';
import type { Clock } from '../../shared/clock';
import { DEFAULT_CONCURRENCY } from '../../shared/concurrency';
import { validatePath } from '../../shared/inputs';
import { type FailureAction, failureAction, isFailureCode } from '../../shared/job-errors';
import { outputPrefixFor, resultKeys } from '../../shared/pipeline/keys';
import type { BatchItem, EndState, JobItem, JobsStore } from '../../shared/ports/jobs';
import type { ObjectStore } from '../../shared/ports/objects';
import { usdDecimal } from '../../shared/pricing/estimate';
import { qualityReport } from '../../shared/quality/verdicts';
import { warmupShare } from '../../shared/totals';
import type { BatchRef } from '../../shared/types';
import { EXIT, type ExitCode } from './exit';
import { cacheHitRatio, formatRatio, usd } from './money';
import { printable } from './printable';
import type { QualitySection } from './quality/report';
import { renderQuality } from './quality/report';
import { writeInside } from './safe-paths';

/** A file that did not produce an output, and why. */
export interface BatchFailure {
  path: string;
  /** The job's terminal state, or `rejected` for an input that never became a job. */
  state: 'failed' | 'skipped_budget' | 'cancelled' | 'expired' | 'rejected';
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
  /** The batch's estimated AWS cost (its ledger line, once finalized); model + AWS = total. */
  awsCostNanoUsd: number;
  totalCostNanoUsd: number;
  /** The money above as exact USD decimal strings (9 places); the integers are authoritative. */
  costUsd: string;
  usd: {
    cost: string;
    warmupCost: string;
    counterfactual: string;
    aws: string;
    total: string;
  };
  failures: BatchFailure[];
  /** Files written by `--out`, relative to it. */
  outputs?: string[];
  /** Outputs `--out` did not write, each with its reason (the others were written). */
  refusedOutputs?: RefusedOutput[];
  /** With --validate (tests) or --out (docs): verdicts, pass rates, cost per passing test. */
  quality?: QualitySection;
  exitCode: ExitCode;
}

const FAILED_STATES = new Set<JobItem['state']>([
  'failed',
  'skipped_budget',
  'cancelled',
  'expired',
]);

const DEFAULT_REASONS: Record<string, string> = {
  failed: 'the job failed without a recorded reason: see results/<team>/<batchId>/errors.jsonl',
  skipped_budget: "skipped: the team's monthly budget was used up; raise it or wait for next month",
  cancelled: 'cancelled before it started',
  expired:
    "the batch's deadline passed before the job could be sent: run it again with a later --deadline",
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

/**
 * The documented exit code of a batch's outcome; failed jobs say more than refused downloads,
 * which are only reported by their own code when every job went well.
 */
export function exitCodeOf(
  batch: BatchItem,
  failures: readonly BatchFailure[],
  timedOut = false,
  refusedOutputs = 0,
): ExitCode {
  if (isCancelled(batch)) return EXIT.cancelled;
  if (timedOut) return EXIT.timeout;
  if (failures.length > 0) return EXIT.jobsFailed;
  return refusedOutputs > 0 ? EXIT.outputsRefused : EXIT.ok;
}

interface ErrorLine {
  path?: unknown;
  source?: unknown;
  customId?: unknown;
  custom_id?: unknown;
  code?: unknown;
  reason?: unknown;
}

/** Reads `results/<team>/<batchId>/errors.jsonl` leniently: a line that is not an object is skipped. */
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
export async function failuresOf(
  jobs: readonly JobItem[],
  objects: ObjectStore,
  batch: BatchRef,
  submitted: readonly string[] = [],
): Promise<BatchFailure[]> {
  let listed = new Map<string, { code: string; reason: string }>();
  try {
    const text = await objects.getText(resultKeys(batch).errors);
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
      reason: entry?.reason ?? `rejected at planning: see ${resultKeys(batch).errors}`,
    });
  }
  return failures.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Builds the summary of a batch from its item, its failures and the downloaded outputs. */
function summarize(
  batch: BatchItem,
  failures: BatchFailure[],
  options: { download?: Download; timedOut?: boolean } = {},
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
    awsCostNanoUsd: t.awsCostNanoUsd,
    totalCostNanoUsd: t.costNanoUsd + t.awsCostNanoUsd,
    costUsd: usdDecimal(t.costNanoUsd),
    usd: {
      cost: usdDecimal(t.costNanoUsd),
      warmupCost: usdDecimal(t.warmupCostNanoUsd),
      counterfactual: usdDecimal(t.counterfactualNanoUsd),
      aws: usdDecimal(t.awsCostNanoUsd),
      total: usdDecimal(t.costNanoUsd + t.awsCostNanoUsd),
    },
    failures,
    // Verdicts the pipeline recorded (status); a run of the quality loop replaces them.
    ...(batch.quality
      ? {
          quality: {
            ...qualityReport(batch.quality),
            model: batch.model,
            repairBatchIds: [],
            recorded: true,
            tests: [],
            docFiles: [],
          },
        }
      : {}),
    ...(options.download
      ? { outputs: options.download.written, refusedOutputs: options.download.refused }
      : {}),
    exitCode: exitCodeOf(batch, failures, options.timedOut, options.download?.refused.length),
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
  const jobs = await stores.jobs.listJobs(batch);
  const failures = await failuresOf(jobs, stores.objects, batch, options.submitted);
  const download =
    options.outDir === undefined
      ? undefined
      : await downloadOutputs({ objects: stores.objects, batch, jobs, outDir: options.outDir });
  return summarize(batch, failures, { download, timedOut: options.timedOut });
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
    `  ${summary.ended}/${summary.total} ended: ${c.succeeded} succeeded, ${c.reused} reused, ${c.failed} failed, ${c.skipped_budget} skipped (budget), ${c.cancelled} cancelled, ${c.expired} expired`,
    `  cost ${usd(summary.costNanoUsd)} over ${summary.requests} requests (warm-up ${usd(summary.warmupCostNanoUsd)}, ${formatRatio(summary.warmupShare)}), cache hit ${formatRatio(summary.cacheHitRatio)} (counterfactual for the jobs ${usd(summary.counterfactualNanoUsd)})`,
  ];
  if (summary.awsCostNanoUsd > 0)
    lines.push(
      `  AWS, estimated at list prices: ${usd(summary.awsCostNanoUsd)}; total ${usd(summary.totalCostNanoUsd)}`,
    );
  if (summary.unpricedRequests > 0)
    lines.push(
      `  ${summary.unpricedRequests} billed response(s) have no price row yet and are not in the cost: see \`warmbatch costs\``,
    );
  if (summary.outputs) lines.push(`  ${summary.outputs.length} output file(s) written`);
  for (const r of summary.refusedOutputs ?? [])
    lines.push(`  not written: ${printable(r.path)}: ${printable(r.reason)}`);
  for (const f of summary.failures)
    lines.push(`  ${f.state}: ${printable(f.path)}: ${printable(f.reason)} [${printable(f.code)}]`);
  if (summary.quality) lines.push(...renderQuality(summary.quality).map(printable));
  return `${lines.join('\n')}\n`;
}

export interface WaitOptions {
  jobs: JobsStore;
  batch: BatchRef;
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
    const batch = await options.jobs.getBatch(options.batch);
    if (batch) {
      options.onProgress?.(batch);
      if (isFinished(batch)) return { batch, timedOut: false };
    }
    if (options.clock.now().getTime() - start >= options.timeoutMs)
      return { batch, timedOut: true };
    await options.sleep(options.pollMs);
  }
}

/** An output that was not written by `--out`, and why; the other outputs still are. */
export interface RefusedOutput {
  /** The output's path under `--out` as derived from its key (or the key itself). */
  path: string;
  reason: string;
}

/** What a download wrote, relative to `--out`, and what it refused. */
export interface Download {
  written: string[];
  refused: RefusedOutput[];
}

/**
 * Where an output key goes under `root`, or why it may not be written there. A segment equal
 * to `..` is traversal; `..foo` or `a..b.ts` are ordinary names.
 */
function destinationOf(
  root: string,
  rel: string,
): { ok: true; dest: string; inside: string } | { ok: false; reason: string } {
  const checked = validatePath(rel, rel);
  if (!checked.ok) return { ok: false, reason: checked.rejection.reason };
  const dest = resolve(root, rel);
  const inside = relative(root, dest);
  if (inside === '' || isAbsolute(inside) || inside.split(sep).includes('..'))
    return { ok: false, reason: `would be written outside ${root}` };
  return { ok: true, dest, inside: inside.split(sep).join('/') };
}

/**
 * Downloads the output of every succeeded or reused job into `outDir`, mirroring the input
 * paths (`src/a.ts` -> `<outDir>/src/a.test.ts`). An output that cannot be written (its path
 * would leave `outDir`, its object is gone, the file system refuses it) is reported with its
 * reason and the others are still written: a billed output must never be lost to a neighbour.
 * Errors reading the bucket are not per file (credentials, network) and are thrown.
 */
export async function downloadOutputs(options: {
  objects: ObjectStore;
  batch: Pick<BatchItem, 'batchId' | 'team' | 'project'>;
  jobs: readonly JobItem[];
  outDir: string;
  concurrency?: number;
}): Promise<Download> {
  const { batch, objects } = options;
  const prefix = outputPrefixFor(batch);
  const root = resolve(options.outDir);
  const limit = pLimit(options.concurrency ?? DEFAULT_CONCURRENCY.transfers);
  const done = options.jobs.filter((j) => j.state === 'succeeded' || j.state === 'reused');
  const written: string[] = [];
  const refused: RefusedOutput[] = [];
  await limit.map(done, async (job) => {
    const rel = job.outputKey.startsWith(prefix)
      ? job.outputKey.slice(prefix.length)
      : job.outputKey.split('/').slice(4).join('/');
    const where = destinationOf(root, rel);
    if (!where.ok) {
      refused.push({ path: rel || job.outputKey, reason: where.reason });
      return;
    }
    const body = await objects.get(job.outputKey);
    if (body === undefined) {
      refused.push({
        path: where.inside,
        reason: `its output object ${job.outputKey} no longer exists: run the batch again`,
      });
      return;
    }
    try {
      // A link planted in the output folder must not carry a download outside it.
      await writeInside(root, where.dest, body);
      written.push(where.inside);
    } catch (err) {
      refused.push({
        path: where.inside,
        reason: `could not be written: ${(err as Error).message}`,
      });
    }
  });
  return {
    written: written.sort(),
    refused: refused.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
}
