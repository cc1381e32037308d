/**
 * How many calls of one kind a function keeps in flight at once, named so that each limit is
 * read, tuned and documented in one place instead of a bare number at every call site. The
 * pipeline's settings can override the pipeline's ones (`concurrency` in PipelineSettings).
 */
export const DEFAULT_CONCURRENCY = {
  /** Jobs the planner works on at once: input and context reads, reuse lookups, request writes, job ends. */
  planning: 8,
  /** Drop markers the planner claims at once (one conditional write each). */
  dropClaims: 16,
  /** Jobs a worker claims at once, each followed by a read of its stored request. */
  claims: 8,
  /** Jobs ended at once when a batch stops (401/402) or is cancelled. */
  jobEnds: 8,
  /** Outputs finalize reads at once to write results.jsonl. */
  outputReads: 8,
  /** Files the CLI uploads (`submit`) or downloads (`--out`) at once. */
  transfers: 8,
} as const;

export type ConcurrencyName = keyof typeof DEFAULT_CONCURRENCY;
export type ConcurrencySettings = Record<ConcurrencyName, number>;
