/**
 * Adding verdicts up: one function for the pipeline (which records them) and the CLI (which
 * prints them at once), so both say the same. Costs and token counts come from the jobs that
 * produced the answers, never from the verdicts themselves.
 */
import type { Lane } from '../types';
import { addQuality, type BatchQuality, VERDICTS, type Verdict, zeroQuality } from './verdicts';

/**
 * What a job's answer cost, the one place every quality figure reads it: the cost its ledger
 * record gave the job (and `costs reprice` gives it again); 0 for an answer reused from an
 * earlier identical request (nothing billed); undefined while the record is unpriced.
 */
export function answerCost(job: {
  state: string;
  costNanoUsd?: number | undefined;
  costUnpriced?: string | undefined;
}): number | undefined {
  if (job.state !== 'succeeded') return 0;
  if (job.costUnpriced !== undefined) return undefined;
  return job.costNanoUsd;
}

/** One judged answer of a test: its verdict and what its job cost and was served from cache. */
export interface TalliedRound {
  verdict: Verdict;
  /** Undefined: its ledger record is unpriced, so the cost is not known yet. */
  costNanoUsd: number | undefined;
  /** Prompt tokens of the answer's request, and of them those served from the cache. */
  promptTokens: number;
  hitTokens: number;
}

/** A test's rounds (0: the batch's own answer, k: the k-th repair), as tallied. */
export interface TalliedTest {
  lane: Exclude<Lane, 'repair'>;
  rounds: readonly TalliedRound[];
  kept: boolean;
  coverage?: { before: number; after: number; total: number };
}

/** A batch's quality with nothing in it yet. */
export function emptyBatchQuality(recordedAt: string): BatchQuality {
  return {
    ...zeroQuality(),
    recordedAt,
    verdicts: Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>,
    rounds: 0,
    repairHitTokens: 0,
    repairOriginalPromptTokens: 0,
  };
}

/** Adds one test into `q`. A repair's cache hit counts up to the original prompt's size. */
export function tallyTest(q: BatchQuality, t: TalliedTest): void {
  const first = t.rounds[0];
  const last = t.rounds.at(-1);
  if (!first || !last) return;
  const passed = last.verdict === 'passed';
  const known = t.rounds.every((r) => r.costNanoUsd !== undefined);
  const costs = t.rounds.map((r) => r.costNanoUsd ?? 0);
  addQuality(q, {
    testsCostUnknown: known ? 0 : 1,
    testsValidated: 1,
    testsPassed: passed ? 1 : 0,
    testsPassedFirst: first.verdict === 'passed' ? 1 : 0,
    testsPassedAfterRepair: passed && t.rounds.length > 1 ? 1 : 0,
    testsKept: passed && t.kept ? 1 : 0,
    validatedCostNanoUsd: costs.reduce((a, b) => a + b, 0),
    repairRequests: t.rounds.length - 1,
    repairCostNanoUsd: costs.slice(1).reduce((a, b) => a + b, 0),
    coveredLinesGained:
      passed && t.kept && t.coverage ? Math.max(0, t.coverage.after - t.coverage.before) : 0,
  });
  q.verdicts[last.verdict]++;
  q.rounds = Math.max(q.rounds, t.rounds.length - 1);
  for (const r of t.rounds.slice(1)) {
    q.repairHitTokens += Math.min(r.hitTokens, first.promptTokens);
    q.repairOriginalPromptTokens += first.promptTokens;
  }
}

/** One doc's model-free check, added into `q`. */
export function tallyDoc(
  q: BatchQuality,
  d: { exports: number; mentioned: number; invented: number },
): void {
  addQuality(q, {
    docsChecked: 1,
    docsExports: d.exports,
    docsMentioned: d.mentioned,
    docsInvented: d.invented,
  });
}
