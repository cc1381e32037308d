/**
 * What the quality loop reports: the verdicts document it uploads next to the batch (which the
 * pipeline records), the figures it prints at once (tallied with the same function the pipeline
 * uses, from the jobs' own costs), and waiting for the pipeline to record them.
 */
import { verdictsKeyFor } from '../../../shared/inputs';
import type { BatchItem, JobItem } from '../../../shared/ports/jobs';
import { answerCost, emptyBatchQuality, tallyDoc, tallyTest } from '../../../shared/quality/tally';
import {
  type BatchQuality,
  type QualityReport,
  qualityReport,
  type VerdictsDoc,
} from '../../../shared/quality/verdicts';
import { formatRatio, usd } from '../money';
import type { LoopContext, TestRecord } from './types';

/** The model-free check of one doc (docs-check.ts), as the loop keeps it. */
export interface DocRecord {
  path: string;
  docPath: string;
  exports: number;
  mentioned: number;
  invented: number;
  /** Names in code spans that are not in the source: the likely inventions. */
  inventedNames: string[];
  missing: string[];
  /** How the exports were read: the TypeScript compiler API, or the best-effort rule. */
  method: 'typescript' | 'best-effort';
}

/** The document uploaded to `batches/<team>/<batchId>/verdicts.json`; no output, no content. */
export function verdictsDoc(input: {
  batch: BatchItem;
  tests: readonly TestRecord[];
  docs: readonly DocRecord[];
  repairBatchIds: readonly string[];
  runs: number;
  coverageFilter: boolean;
}): VerdictsDoc {
  return {
    version: 1,
    batchId: input.batch.batchId,
    team: input.batch.team,
    tests: input.tests.map((t) => ({
      path: t.path,
      lane: t.lane,
      rounds: t.rounds.map((r) => ({ batchId: r.batchId, verdict: r.verdict })),
      kept: t.kept,
      ...(t.coverage ? { coverage: t.coverage } : {}),
    })),
    docs: input.docs.map((d) => ({
      path: d.path,
      exports: d.exports,
      mentioned: d.mentioned,
      invented: d.invented,
    })),
    repairBatchIds: [...input.repairBatchIds],
    runs: input.runs,
    coverageFilter: input.coverageFilter,
  };
}

const promptOf = (j: JobItem) => (j.usage?.promptHitTokens ?? 0) + (j.usage?.promptMissTokens ?? 0);

/** The figures per lane, tallied from the jobs' costs as the pipeline tallies them. */
export function localQuality(
  tests: readonly TestRecord[],
  docs: readonly DocRecord[],
  at: string,
): { primary: BatchQuality; shadow: BatchQuality } {
  const out = { primary: emptyBatchQuality(at), shadow: emptyBatchQuality(at) };
  for (const t of tests)
    tallyTest(out[t.lane], {
      lane: t.lane,
      kept: t.kept,
      ...(t.coverage ? { coverage: t.coverage } : {}),
      rounds: t.rounds.map((r) => ({
        verdict: r.verdict,
        costNanoUsd: answerCost(r.job),
        promptTokens: promptOf(r.job),
        hitTokens: r.job.usage?.promptHitTokens ?? 0,
      })),
    });
  for (const d of docs) tallyDoc(out.primary, d);
  return out;
}

/**
 * Uploads the verdicts and waits (at most `waitMs`) until the pipeline recorded them on the
 * batch: true when it did.
 */
export async function uploadVerdicts(
  ctx: LoopContext,
  batch: BatchItem,
  doc: VerdictsDoc,
): Promise<boolean> {
  const before = batch.quality?.recordedAt;
  const startedAt = ctx.clock.now().getTime();
  await ctx.services.objects.put(
    verdictsKeyFor(batch),
    `${JSON.stringify(doc)}\n`,
    'application/json',
  );
  for (;;) {
    const now = await ctx.services.jobs.getBatch(batch);
    const at = now?.quality?.recordedAt;
    if (at !== undefined && at !== before) return true;
    if (ctx.clock.now().getTime() - startedAt >= ctx.waitMs) return false;
    await ctx.sleep(ctx.pollMs);
  }
}

/** The quality section of `--json` summaries. */
export interface QualitySection extends QualityReport {
  model: string;
  shadow?: QualityReport & { model: string };
  repairBatchIds: string[];
  recorded: boolean;
  tests: {
    path: string;
    testPath: string;
    lane: 'primary' | 'shadow';
    verdicts: string[];
    kept: boolean;
    movedTo?: string;
    /** Why a repair round made no new answer for it. */
    notRepaired?: { code: string; reason: string };
    coverage?: { before: number; after: number; total: number };
  }[];
  docFiles: Omit<DocRecord, 'docPath'>[];
}

/** Builds the quality section from what the loop did. */
export function qualitySection(input: {
  batch: BatchItem;
  tests: readonly TestRecord[];
  docs: readonly DocRecord[];
  repairBatchIds: readonly string[];
  recorded: boolean;
  at: string;
}): QualitySection {
  const q = localQuality(input.tests, input.docs, input.at);
  const shadowModel = input.batch.shadow?.model;
  return {
    model: input.batch.model,
    ...qualityReport(q.primary),
    ...(shadowModel && q.shadow.testsValidated > 0
      ? { shadow: { model: shadowModel, ...qualityReport(q.shadow) } }
      : {}),
    repairBatchIds: [...input.repairBatchIds],
    recorded: input.recorded,
    tests: input.tests.map((t) => ({
      path: t.path,
      testPath: t.testPath,
      lane: t.lane,
      verdicts: t.rounds.map((r) => r.verdict),
      kept: t.kept,
      ...(t.movedTo ? { movedTo: t.movedTo } : {}),
      ...(t.notRepaired ? { notRepaired: t.notRepaired } : {}),
      ...(t.coverage ? { coverage: t.coverage } : {}),
    })),
    docFiles: input.docs.map(({ docPath: _d, ...rest }) => rest),
  };
}

const money = (nano: number | null) => (nano === null ? 'n/a' : usd(nano));

/** The human-readable quality lines (no test output: that stays in the user's files). */
export function renderQuality(s: QualitySection): string[] {
  const lines: string[] = [];
  if (s.testsValidated > 0) {
    const failed = s.testsValidated - s.testsPassed;
    lines.push(
      `  tests (${s.model}): ${s.testsValidated} validated, ${s.testsPassedFirst} passed first try (${formatRatio(s.firstTryPassRate)}), ${s.testsPassed} after repair (pass rate ${formatRatio(s.passRate)}); ${failed} did not pass (${s.verdicts.failed} failed, ${s.verdicts.timed_out} timed out, ${s.verdicts.flaky} flaky)`,
      s.costUnknown
        ? `  cost per passing test: unknown: ${s.costUnknown}`
        : `  cost per passing test: ${money(s.costPerPassingTestNanoUsd)} (the validated tests' answers cost ${usd(s.validatedCostNanoUsd)}, repairs included)`,
    );
    if (s.repairRequests > 0)
      lines.push(
        `  repairs: ${s.repairRequests} request(s) in ${s.repairRounds} round(s), ${usd(s.repairCostNanoUsd)}, cache hit on the original prompt ${formatRatio(s.repairCacheHitOnOriginalPrompt)}`,
      );
    if (s.coveredLinesGained > 0 || s.testsKept < s.testsPassed)
      lines.push(
        `  coverage: ${s.testsKept} of ${s.testsPassed} passing test(s) kept, +${s.coveredLinesGained} covered line(s), ${money(s.costPerCoveredLineNanoUsd)} per covered line`,
      );
    for (const t of s.tests.filter((t) => t.movedTo))
      lines.push(
        `  ${t.movedTo === 'removed' ? 'removed' : 'quarantined'}: ${t.testPath} (${t.verdicts.join(' -> ')})${t.movedTo === 'removed' ? '' : ` -> ${t.movedTo}`}${t.notRepaired ? `; not repaired: ${t.notRepaired.reason}` : ''}`,
      );
  }
  if (s.shadow)
    lines.push(
      `  shadow (${s.shadow.model}): ${s.shadow.testsValidated} validated, ${s.shadow.testsPassed} passed (${formatRatio(s.shadow.passRate)}), cost per passing test ${money(s.shadow.costPerPassingTestNanoUsd)}`,
    );
  if (s.docFiles.length > 0) {
    lines.push(
      `  docs: ${s.docs.checked} checked, ${s.docs.mentioned}/${s.docs.exports} exports mentioned (score ${formatRatio(s.docs.score)}), ${s.docs.invented} name(s) in code spans not in the source`,
    );
    for (const d of s.docFiles)
      lines.push(
        `    ${d.path}: ${d.mentioned}/${d.exports} exports${d.missing.length ? ` (missing ${d.missing.join(', ')})` : ''}${d.inventedNames.length ? `, not in the source: ${d.inventedNames.join(', ')}` : ''} [${d.method}]`,
      );
  }
  if (!s.recorded)
    lines.push('  (verdicts not yet recorded by the pipeline: `status` shows them once they are)');
  return lines;
}
