/**
 * Recording verdicts (`batches/<team>/<batchId>/verdicts.json`, uploaded by the CLI after it
 * validated a batch's tests where the code lives): each judged answer's verdict goes on its job
 * item, the batch's quality counters on the batch item (and its shadow batch's on that one),
 * the counters per model and lane into the month's roll-ups (exactly once per content), and
 * summary.json is written again with them.
 *
 * Verdicts are the team's own statement about its own batch, so they are checked against what
 * the pipeline knows rather than trusted: the batch and team come from the key, every round
 * must name this batch, its shadow batch or one of its repair batches, and a verdict counts
 * only for a job that produced an answer. The cost of a test is read from the jobs, never from
 * the document.
 */
import { jobIdFor } from '../inputs';
import type { BatchItem, JobItem, JobVerdict } from '../ports/jobs';
import { dayOf, monthOf, type QualityRow } from '../ports/ledger';
import { answerCost, emptyBatchQuality, tallyDoc, tallyTest } from '../quality/tally';
import { type DayQuality, monthsOfDays, regressionRates, windowStart } from '../quality/trend';
import {
  type BatchQuality,
  finalVerdict,
  MAX_VERDICTS_BYTES,
  type ParsedVerdictsDoc,
  type QualityTotals,
  VerdictsDocSchema,
} from '../quality/verdicts';
import { METRICS, PREFIXES, VERDICTS_SUFFIX } from '../resources';
import type { BatchRef, Lane } from '../types';
import { finalizeBatch } from './finalize';
import type { PipelineDeps } from './types';

const VERDICTS_KEY = new RegExp(`^${PREFIXES.batches}([^/]+)/([^/]+)/${VERDICTS_SUFFIX}$`);

/** The batch a verdicts key belongs to, or undefined when the key is not one. */
export function parseVerdictsKey(key: string): BatchRef | undefined {
  const m = VERDICTS_KEY.exec(key);
  return m ? { team: m[1] as string, batchId: m[2] as string } : undefined;
}

/** What recording a verdicts document did. */
export type VerdictsOutcome =
  | { recorded: true; tests: number; ignored: number; changed: boolean }
  | { recorded: false; reason: string };

const promptOf = (job: JobItem) =>
  (job.usage?.promptHitTokens ?? 0) + (job.usage?.promptMissTokens ?? 0);
const answered = (job: JobItem | undefined): job is JobItem =>
  job !== undefined && (job.state === 'succeeded' || job.state === 'reused');

/** Records the verdicts uploaded at `key`. A bad document is refused with a reason, not retried. */
export async function recordVerdicts(key: string, deps: PipelineDeps): Promise<VerdictsOutcome> {
  const ref = parseVerdictsKey(key);
  const refuse = (reason: string): VerdictsOutcome => {
    deps.logger?.warn('verdicts refused', { verdictsKey: key, reason });
    return { recorded: false, reason };
  };
  if (!ref) return refuse('not a verdicts key');
  const size = await deps.objects.size(key);
  if (size === undefined) return refuse('the object is gone');
  if (size > MAX_VERDICTS_BYTES) return refuse(`over ${MAX_VERDICTS_BYTES} bytes`);
  let doc: ParsedVerdictsDoc;
  try {
    const parsed = VerdictsDocSchema.safeParse(JSON.parse((await deps.objects.getText(key)) ?? ''));
    if (!parsed.success)
      return refuse(
        parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; '),
      );
    doc = parsed.data;
  } catch {
    return refuse('not JSON');
  }
  if (doc.team !== ref.team || doc.batchId !== ref.batchId)
    return refuse('its team and batchId are not those of its key');
  const batch = await deps.jobs.getBatch(ref);
  if (!batch || (batch.lane ?? 'primary') !== 'primary')
    return refuse('no such primary batch of the team');

  // Every batch a round may name: this one, its shadow and its own repair batches.
  const batches = new Map<string, BatchItem>([[batch.batchId, batch]]);
  const shadowBatch = batch.shadow
    ? await deps.jobs.getBatch({ team: ref.team, batchId: batch.shadow.batchId })
    : undefined;
  if (shadowBatch?.shadowOf === batch.batchId) batches.set(shadowBatch.batchId, shadowBatch);
  for (const id of doc.repairBatchIds) {
    const r = await deps.jobs.getBatch({ team: ref.team, batchId: id });
    if (r?.lane === 'repair' && r.repairOf?.origin === batch.batchId) batches.set(id, r);
  }
  const jobsOf = new Map<string, Map<string, JobItem>>();
  for (const b of batches.values())
    jobsOf.set(
      b.batchId,
      new Map((await deps.jobs.listJobs(b)).map((j) => [j.jobId, j] as [string, JobItem])),
    );

  const at = deps.clock.now().toISOString();
  const quality = { primary: emptyBatchQuality(at), shadow: emptyBatchQuality(at) };
  const verdictsOf = new Map<string, { jobId: string; verdict: JobVerdict }[]>();
  const note = (batchId: string, jobId: string, verdict: JobVerdict) => {
    const list = verdictsOf.get(batchId) ?? [];
    list.push({ jobId, verdict });
    verdictsOf.set(batchId, list);
  };
  let ignored = 0;
  let tests = 0;
  for (const t of doc.tests) {
    const lane: Lane = t.lane;
    const home = lane === 'shadow' ? shadowBatch?.batchId : batch.batchId;
    const first = t.rounds[0];
    const rounds = t.rounds.map((r) => ({
      ...r,
      job: jobsOf.get(r.batchId)?.get(jobIdFor(r.batchId, t.path)),
      repair: batches.get(r.batchId)?.lane === 'repair',
    }));
    const valid =
      home !== undefined &&
      first?.batchId === home &&
      rounds.every((r, i) => answered(r.job) && (i === 0 || (r.repair && lane === 'primary')));
    if (!valid) {
      ignored++;
      continue;
    }
    tests++;
    const q = lane === 'shadow' ? quality.shadow : quality.primary;
    const final = finalVerdict(t);
    const passed = final === 'passed';
    tallyTest(q, {
      lane,
      kept: t.kept,
      ...(t.coverage ? { coverage: t.coverage } : {}),
      rounds: rounds.map((r) => {
        const job = r.job as JobItem;
        return {
          verdict: r.verdict,
          costNanoUsd: answerCost(job),
          promptTokens: promptOf(job),
          hitTokens: job.usage?.promptHitTokens ?? 0,
        };
      }),
    });
    for (const [i, r] of rounds.entries()) {
      const job = r.job as JobItem;
      const last = rounds.at(-1);
      note(r.batchId, job.jobId, {
        verdict: r.verdict,
        round: i,
        ...(i === 0
          ? {
              final,
              kept: passed && t.kept,
              ...(t.coverage ? { coverage: t.coverage } : {}),
              ...(rounds.length > 1 && last?.job
                ? { repairedBy: { batchId: last.batchId, jobId: last.job.jobId } }
                : {}),
            }
          : {}),
      });
    }
  }
  for (const d of doc.docs) {
    if (!answered(jobsOf.get(batch.batchId)?.get(jobIdFor(batch.batchId, d.path)))) {
      ignored++;
      continue;
    }
    tallyDoc(quality.primary, d);
  }

  const rows: QualityRow[] = [];
  const counters = (q: BatchQuality): Partial<QualityTotals> => {
    const { recordedAt: _r, verdicts: _v, rounds: _n, repairHitTokens: _h, ...rest } = q;
    const { repairOriginalPromptTokens: _o, ...totals } = rest;
    return totals;
  };
  rows.push({
    project: batch.project,
    model: batch.model,
    kind: batch.kind,
    lane: 'primary',
    quality: counters(quality.primary),
  });
  if (shadowBatch && batches.has(shadowBatch.batchId))
    rows.push({
      project: batch.project,
      model: shadowBatch.model,
      kind: batch.kind,
      lane: 'shadow',
      quality: counters(quality.shadow),
    });
  // The ledger first: once a batch shows its quality, the roll-ups have it too.
  const { changed } = await deps.ledger.recordQuality({
    batch: ref,
    month: monthOf(batch.createdAt),
    day: dayOf(batch.createdAt),
    rows,
  });
  if (changed) await emitQualityRates(deps);
  // Every job's verdict, then the shadow's quality, the batch's last: the CLI waits for it.
  for (const [batchId, list] of verdictsOf)
    await deps.jobs.recordVerdicts(batches.get(batchId) as BatchItem, list);
  if (shadowBatch && batches.has(shadowBatch.batchId))
    await deps.jobs.recordVerdicts(shadowBatch, [], quality.shadow);
  await deps.jobs.recordVerdicts(batch, [], quality.primary);
  // summary.json again, now with the quality section (finalize is idempotent).
  for (const b of [
    batch,
    ...(shadowBatch && batches.has(shadowBatch.batchId) ? [shadowBatch] : []),
  ])
    if (b.status === 'done') await finalizeBatch(b, deps);
  deps.logger?.info('verdicts recorded', { ...ref, tests, ignored, changed });
  return { recorded: true, tests, ignored, changed };
}

/**
 * Publishes the primary lane's 7- and 28-day test pass rates ending today (UTC, on the
 * pipeline's clock), from the daily roll-ups, for the stack's quality regression alarm: one
 * metric each with no dimension, and the 7 days' test count so the alarm can ignore a thin week.
 */
export async function emitQualityRates(deps: PipelineDeps): Promise<void> {
  if (!deps.metrics) return;
  const today = dayOf(deps.clock.now().toISOString());
  const rows: DayQuality[] = [];
  for (const month of monthsOfDays(windowStart(today), today))
    for (const r of await deps.ledger.dailyRollups(month))
      if (r.day !== undefined && r.testsValidated > 0 && !r.unpriced)
        rows.push({ ...r, day: r.day });
  const { last7, last28 } = regressionRates(rows, today);
  if (last7.passRate === null || last28.passRate === null) return;
  const single = deps.metrics.singleMetric();
  single.clearDefaultDimensions();
  single.addMetric(METRICS.testPassRate7d, 'Percent', last7.passRate * 100);
  single.addMetric(METRICS.testPassRate28d, 'Percent', last28.passRate * 100);
  single.addMetric(METRICS.testsValidated7d, 'Count', last7.validated);
  deps.logger?.info('quality rates', {
    day: today,
    passRate7d: last7.passRate,
    passRate28d: last28.passRate,
    testsValidated7d: last7.validated,
  });
}
