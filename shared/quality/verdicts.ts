/**
 * Verdicts are data: what validation (run in the team's CI, where the code lives) said of each
 * generated test, and what the model-free check said of each generated doc. The CLI uploads them
 * next to the batch (`batches/<team>/<batchId>/verdicts.json`); the pipeline records them with
 * the jobs, on the batch and in the ledger's roll-ups, so that `status`, `summary.json` and
 * `warmbatch costs` show pass rates and the cost per passing test.
 */
import * as z from 'zod';
import { LANES } from '../types';

/** What a test run says of a generated test. */
export const VERDICTS = ['passed', 'failed', 'timed_out', 'flaky'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Largest verdicts document the pipeline reads. */
export const MAX_VERDICTS_BYTES = 4 * 1024 * 1024;

const count = z.number().int().nonnegative();
const batchId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/);

/** One round of a test: round 0 is the batch's own answer, round k the k-th repair. */
export const RoundSchema = z.strictObject({
  /** The batch whose job (for this path) produced the answer judged. */
  batchId,
  verdict: z.enum(VERDICTS),
});

export const TestVerdictSchema = z.strictObject({
  /** The input path (the job's path), not the test's: job ids derive from it. */
  path: z.string().min(1).max(1024),
  lane: z.enum(LANES).exclude(['repair']),
  rounds: z.array(RoundSchema).min(1).max(11),
  /** Kept in the output folder: passed, and (with --keep-if adds-coverage) added coverage. */
  kept: z.boolean(),
  /** Lines of the source file covered before and after the test, with --coverage. */
  coverage: z
    .strictObject({ before: count, after: count, total: count })
    .refine((c) => c.before <= c.total && c.after <= c.total, 'covered lines exceed the total')
    .optional(),
});
export type TestVerdict = z.infer<typeof TestVerdictSchema>;

/** The model-free check of one generated doc (shared/quality/docs-check.ts). */
export const DocVerdictSchema = z
  .strictObject({
    path: z.string().min(1).max(1024),
    exports: count,
    mentioned: count,
    invented: count,
  })
  .refine((d) => d.mentioned <= d.exports, 'mentioned exceeds exports');
export type DocVerdict = z.infer<typeof DocVerdictSchema>;

/** `batches/<team>/<batchId>/verdicts.json`, as the CLI writes it. */
export const VerdictsDocSchema = z.strictObject({
  version: z.literal(1),
  batchId,
  team: z.string().min(1),
  tests: z.array(TestVerdictSchema).max(100_000).default([]),
  docs: z.array(DocVerdictSchema).max(100_000).default([]),
  /** The repair batches whose jobs the rounds name. */
  repairBatchIds: z.array(batchId).max(10).default([]),
  /** Runs per test (`--runs`): a test that passes some and fails some is flaky. */
  runs: z.number().int().min(1).max(100).default(1),
  /** Whether `--keep-if adds-coverage` filtered the passing tests. */
  coverageFilter: z.boolean().default(false),
});
export type VerdictsDoc = z.input<typeof VerdictsDocSchema>;
export type ParsedVerdictsDoc = z.output<typeof VerdictsDocSchema>;

/**
 * Quality counters, added up like totals (batch items, the ledger's roll-ups, reports). The
 * cost of a validated test is what its answers cost: the first answer and its repairs; warm-ups
 * are overhead, reported apart as everywhere else.
 */
export const QUALITY_FIELDS = [
  /** Tests that got a final verdict. */
  'testsValidated',
  /** Of them, passed in the end (first try or after repair). */
  'testsPassed',
  'testsPassedFirst',
  'testsPassedAfterRepair',
  /** Passing tests kept in the output (the coverage filter may drop some). */
  'testsKept',
  /** What the validated tests' answers cost: first answers and repairs. */
  'validatedCostNanoUsd',
  /**
   * Validated tests one of whose answers has no known cost yet (its ledger record is unpriced):
   * while any is counted, cost per passing test is unknown, never computed over a partial cost.
   */
  'testsCostUnknown',
  /** Of it, the repairs. */
  'repairRequests',
  'repairCostNanoUsd',
  /** Source lines the kept tests newly cover (with --coverage). */
  'coveredLinesGained',
  'docsChecked',
  'docsExports',
  'docsMentioned',
  'docsInvented',
] as const;
export type QualityField = (typeof QUALITY_FIELDS)[number];
export type QualityTotals = Record<QualityField, number>;

/** Quality counters of nothing. */
export function zeroQuality(): QualityTotals {
  return Object.fromEntries(QUALITY_FIELDS.map((f) => [f, 0])) as QualityTotals;
}

/** Adds `from` into `into`, field by field; returns `into`. */
export function addQuality(into: QualityTotals, from: Partial<QualityTotals>): QualityTotals {
  for (const f of QUALITY_FIELDS) into[f] += from[f] ?? 0;
  return into;
}

/** passed / validated, null when nothing was validated. */
export function passRate(q: Pick<QualityTotals, 'testsPassed' | 'testsValidated'>): number | null {
  return q.testsValidated === 0 ? null : q.testsPassed / q.testsValidated;
}

/** First-try passes / validated, null when nothing was validated. */
export function firstTryPassRate(
  q: Pick<QualityTotals, 'testsPassedFirst' | 'testsValidated'>,
): number | null {
  return q.testsValidated === 0 ? null : q.testsPassedFirst / q.testsValidated;
}

/**
 * Integer nano-USD each passing test cost: what the validated tests' answers cost (failing ones
 * and repairs included: they are what a passing test costs), over the tests that pass in the
 * end; null when none passed.
 */
export function costPerPassingTest(
  q: Pick<QualityTotals, 'validatedCostNanoUsd' | 'testsPassed'> &
    Partial<Pick<QualityTotals, 'testsCostUnknown'>>,
): number | null {
  if ((q.testsCostUnknown ?? 0) > 0) return null;
  return q.testsPassed === 0 ? null : Math.round(q.validatedCostNanoUsd / q.testsPassed);
}

/** Integer nano-USD per newly covered line, null when no line was gained or a cost is unknown. */
export function costPerCoveredLine(
  q: Pick<QualityTotals, 'validatedCostNanoUsd' | 'coveredLinesGained'> &
    Partial<Pick<QualityTotals, 'testsCostUnknown'>>,
): number | null {
  if ((q.testsCostUnknown ?? 0) > 0) return null;
  return q.coveredLinesGained === 0
    ? null
    : Math.round(q.validatedCostNanoUsd / q.coveredLinesGained);
}

/**
 * Why cost per passing test is not given, in words a person can act on; null when it is (or
 * when nothing passed, which needs no explaining).
 */
export function costUnknownReason(
  q: Partial<Pick<QualityTotals, 'testsCostUnknown'>>,
): string | null {
  const n = q.testsCostUnknown ?? 0;
  return n === 0
    ? null
    : `${n} validated test(s) have an answer no price row covered yet: add the row, then run warmbatch costs reprice`;
}

/** The final verdict of a test: its last round's. */
export function finalVerdict(t: Pick<TestVerdict, 'rounds'>): Verdict {
  return (t.rounds.at(-1) as { verdict: Verdict }).verdict;
}

/** A batch's recorded verdicts: its quality counters and when they were recorded. */
export interface BatchQuality extends QualityTotals {
  recordedAt: string;
  /** Tests whose final verdict was each verdict. */
  verdicts: Record<Verdict, number>;
  /** Repair rounds that were run. */
  rounds: number;
  /**
   * Of the repairs' prompts, the tokens served from the cache up to the size of the original
   * prompt, and the original prompts' size: their ratio is the repairs' cache hit ratio on the
   * original prompt.
   */
  repairHitTokens: number;
  repairOriginalPromptTokens: number;
}

/** What summary.json, `status` and the CLI's summary say of a batch's quality. */
export function qualityReport(q: BatchQuality) {
  return {
    recordedAt: q.recordedAt,
    testsValidated: q.testsValidated,
    testsPassed: q.testsPassed,
    testsPassedFirst: q.testsPassedFirst,
    testsPassedAfterRepair: q.testsPassedAfterRepair,
    testsKept: q.testsKept,
    verdicts: q.verdicts,
    passRate: passRate(q),
    firstTryPassRate: firstTryPassRate(q),
    repairRounds: q.rounds,
    repairRequests: q.repairRequests,
    repairCostNanoUsd: q.repairCostNanoUsd,
    repairCacheHitOnOriginalPrompt:
      q.repairOriginalPromptTokens === 0 ? null : q.repairHitTokens / q.repairOriginalPromptTokens,
    validatedCostNanoUsd: q.validatedCostNanoUsd,
    costPerPassingTestNanoUsd: costPerPassingTest(q),
    testsCostUnknown: q.testsCostUnknown,
    costUnknown: costUnknownReason(q),
    coveredLinesGained: q.coveredLinesGained,
    costPerCoveredLineNanoUsd: costPerCoveredLine(q),
    docs: {
      checked: q.docsChecked,
      exports: q.docsExports,
      mentioned: q.docsMentioned,
      invented: q.docsInvented,
      score: q.docsExports === 0 ? null : q.docsMentioned / q.docsExports,
    },
  };
}
export type QualityReport = ReturnType<typeof qualityReport>;
