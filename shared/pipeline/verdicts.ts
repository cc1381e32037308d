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
  const refuse = (reason: string): VerdictsOutcome => {
    deps.logger?.warn('verdicts refused', { verdictsKey: key, reason });
    return { recorded: false, reason };
  };
  const read = await readVerdictsDoc(key, deps);
  if ('refused' in read) return refuse(read.refused);
  const { ref, doc } = read;
  const batch = await deps.jobs.getBatch(ref);
  if (!batch || (batch.lane ?? 'primary') !== 'primary')
    return refuse('no such primary batch of the team');
  const judged = await loadJudged(batch, doc, deps);
  const tally = tallyVerdicts(doc, judged, deps.clock.now().toISOString());
  const changed = await storeVerdicts(ref, judged, tally, deps);
  const { tests, ignored } = tally;
  deps.logger?.info('verdicts recorded', { ...ref, tests, ignored, changed });
  return { recorded: true, tests, ignored, changed };
}

/** The document at `key`, checked against its key; or why it is refused. */
async function readVerdictsDoc(
  key: string,
  deps: PipelineDeps,
): Promise<{ ref: BatchRef; doc: ParsedVerdictsDoc } | { refused: string }> {
  const ref = parseVerdictsKey(key);
  if (!ref) return { refused: 'not a verdicts key' };
  const size = await deps.objects.size(key);
  if (size === undefined) return { refused: 'the object is gone' };
  if (size > MAX_VERDICTS_BYTES) return { refused: `over ${MAX_VERDICTS_BYTES} bytes` };
  let doc: ParsedVerdictsDoc;
  try {
    const parsed = VerdictsDocSchema.safeParse(JSON.parse((await deps.objects.getText(key)) ?? ''));
    if (!parsed.success)
      return {
        refused: parsed.error.issues
          .map((i) => `${i.path.map(String).join('.')}: ${i.message}`)
          .join('; '),
      };
    doc = parsed.data;
  } catch {
    return { refused: 'not JSON' };
  }
  if (doc.team !== ref.team || doc.batchId !== ref.batchId)
    return { refused: 'its team and batchId are not those of its key' };
  return { ref, doc };
}

/** The batches a verdicts document may judge, and their jobs. */
interface Judged {
  batch: BatchItem;
  /** The shadow batch, when it is this batch's. */
  shadowBatch: BatchItem | undefined;
  /** This batch, its shadow and its own repair batches, by id. */
  batches: Map<string, BatchItem>;
  jobsOf: Map<string, Map<string, JobItem>>;
}

/** Every batch a round may name: this one, its shadow and its own repair batches. */
async function loadJudged(
  batch: BatchItem,
  doc: ParsedVerdictsDoc,
  deps: PipelineDeps,
): Promise<Judged> {
  const { team } = batch;
  const batches = new Map<string, BatchItem>([[batch.batchId, batch]]);
  const shadow = batch.shadow
    ? await deps.jobs.getBatch({ team, batchId: batch.shadow.batchId })
    : undefined;
  if (shadow?.shadowOf === batch.batchId) batches.set(shadow.batchId, shadow);
  for (const id of doc.repairBatchIds) {
    const r = await deps.jobs.getBatch({ team, batchId: id });
    if (r?.lane === 'repair' && r.repairOf?.origin === batch.batchId) batches.set(id, r);
  }
  const jobsOf = new Map<string, Map<string, JobItem>>();
  for (const b of batches.values())
    jobsOf.set(
      b.batchId,
      new Map((await deps.jobs.listJobs(b)).map((j) => [j.jobId, j] as [string, JobItem])),
    );
  const shadowBatch = shadow && batches.has(shadow.batchId) ? shadow : undefined;
  return { batch, shadowBatch, batches, jobsOf };
}

interface Tally {
  quality: { primary: BatchQuality; shadow: BatchQuality };
  verdictsOf: Map<string, { jobId: string; verdict: JobVerdict }[]>;
  tests: number;
  ignored: number;
}

/** Counts the document's verdicts that hold against the jobs; the rest are ignored. */
function tallyVerdicts(doc: ParsedVerdictsDoc, judged: Judged, at: string): Tally {
  const { batch, batches, jobsOf } = judged;
  const shadowId = judged.shadowBatch?.batchId;
  const tally: Tally = {
    quality: { primary: emptyBatchQuality(at), shadow: emptyBatchQuality(at) },
    verdictsOf: new Map(),
    tests: 0,
    ignored: 0,
  };
  for (const t of doc.tests) {
    const lane: Lane = t.lane;
    const home = lane === 'shadow' ? shadowId : batch.batchId;
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
      tally.ignored++;
      continue;
    }
    tally.tests++;
    noteTest(tally, t, rounds as Round[]);
  }
  for (const d of doc.docs) {
    if (!answered(jobsOf.get(batch.batchId)?.get(jobIdFor(batch.batchId, d.path)))) {
      tally.ignored++;
      continue;
    }
    tallyDoc(tally.quality.primary, d);
  }
  return tally;
}

type TestVerdicts = ParsedVerdictsDoc['tests'][number];
type Round = TestVerdicts['rounds'][number] & { job: JobItem };

/** One judged test: its lane's counters, and each round's verdict on its job. */
function noteTest(tally: Tally, t: TestVerdicts, rounds: Round[]): void {
  const q = t.lane === 'shadow' ? tally.quality.shadow : tally.quality.primary;
  const final = finalVerdict(t);
  const passed = final === 'passed';
  tallyTest(q, {
    lane: t.lane,
    kept: t.kept,
    ...(t.coverage ? { coverage: t.coverage } : {}),
    rounds: rounds.map(({ verdict, job }) => ({
      verdict,
      costNanoUsd: answerCost(job),
      promptTokens: promptOf(job),
      hitTokens: job.usage?.promptHitTokens ?? 0,
    })),
  });
  const last = rounds.at(-1);
  for (const [i, r] of rounds.entries()) {
    const list = tally.verdictsOf.get(r.batchId) ?? [];
    list.push({
      jobId: r.job.jobId,
      verdict: {
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
      },
    });
    tally.verdictsOf.set(r.batchId, list);
  }
}

/** A lane's quality as roll-up counters (what a batch keeps for itself left out). */
function counters(q: BatchQuality): Partial<QualityTotals> {
  const { recordedAt: _r, verdicts: _v, rounds: _n, repairHitTokens: _h, ...rest } = q;
  const { repairOriginalPromptTokens: _o, ...totals } = rest;
  return totals;
}

/**
 * Writes the tally: the roll-ups first (once a batch shows its quality, the roll-ups have it
 * too), then every job's verdict, the shadow's quality and the batch's last (the CLI waits for
 * it), then summary.json again. Returns whether the roll-ups changed.
 */
async function storeVerdicts(
  ref: BatchRef,
  judged: Judged,
  tally: Tally,
  deps: PipelineDeps,
): Promise<boolean> {
  const { batch, shadowBatch, batches } = judged;
  const { quality } = tally;
  const rows: QualityRow[] = [
    {
      project: batch.project,
      model: batch.model,
      kind: batch.kind,
      lane: 'primary',
      quality: counters(quality.primary),
    },
  ];
  if (shadowBatch)
    rows.push({
      project: batch.project,
      model: shadowBatch.model,
      kind: batch.kind,
      lane: 'shadow',
      quality: counters(quality.shadow),
    });
  const { changed } = await deps.ledger.recordQuality({
    batch: ref,
    month: monthOf(batch.createdAt),
    day: dayOf(batch.createdAt),
    rows,
  });
  if (changed) await emitQualityRates(deps);
  for (const [batchId, list] of tally.verdictsOf)
    await deps.jobs.recordVerdicts(batches.get(batchId) as BatchItem, list);
  if (shadowBatch) await deps.jobs.recordVerdicts(shadowBatch, [], quality.shadow);
  await deps.jobs.recordVerdicts(batch, [], quality.primary);
  // summary.json again, now with the quality section (finalize is idempotent).
  for (const b of [batch, ...(shadowBatch ? [shadowBatch] : [])])
    if (b.status === 'done') await finalizeBatch(b, deps);
  return changed;
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
