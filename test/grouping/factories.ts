import fc from 'fast-check';
import { type PlannableJob, type PlanOptions, WARMUP_MODES } from '../../shared/grouping';

/** A job record as the pipeline carries it: the plannable fields plus its own data. */
export interface TestJob extends PlannableJob {
  path: string;
  content: string;
}

const MODELS = ['deepseek-v4-flash', 'deepseek-v4-pro'] as const;

/** A valid job; override any field. */
export function makeJob(overrides: Partial<TestJob> = {}): TestJob {
  const jobId = overrides.jobId ?? 'job-1';
  return {
    jobId,
    prefixKey: 'prefix-a',
    model: 'deepseek-v4-flash',
    sortKey: `src/${jobId}.ts`,
    prefixTokens: 1_000,
    uniqueTokens: 300,
    maxOutputTokens: 2_000,
    path: `src/${jobId}.ts`,
    content: 'export const x = 1;\n',
    ...overrides,
  };
}

/** `count` jobs of one group with distinct ids and paths. */
export function makeJobs(count: number, overrides: Partial<TestJob> = {}): TestJob[] {
  return Array.from({ length: count }, (_, i) => {
    const jobId = `${overrides.prefixKey ?? 'prefix-a'}-job-${String(i).padStart(5, '0')}`;
    return makeJob({ jobId, sortKey: `src/${jobId}.ts`, path: `src/${jobId}.ts`, ...overrides });
  });
}

const PREFIX_KEYS = ['k0', 'k1', 'k2', 'k3', 'k4'] as const;

/**
 * Batches with the awkward cases mixed in: repeated ids (with equal or different records), a
 * few jobs whose model disagrees with their prefix key, equal sort keys, non-ASCII text, and
 * contents that range from tiny to larger than a small message.
 */
export const batchArb: fc.Arbitrary<TestJob[]> = fc
  .record({
    tokensByKey: fc.array(fc.nat(3), { minLength: PREFIX_KEYS.length, maxLength: 5 }),
    seeds: fc.array(
      fc.record({
        id: fc.nat(40),
        key: fc.nat(PREFIX_KEYS.length - 1),
        wrongModel: fc.oneof(
          { weight: 12, arbitrary: fc.constant(false) },
          { weight: 1, arbitrary: fc.constant(true) },
        ),
        sortKey: fc.oneof(fc.constantFrom('src/a.ts', 'src/a/b.ts'), fc.string({ maxLength: 12 })),
        uniqueTokens: fc.nat(5_000),
        maxOutputTokens: fc.integer({ min: 1, max: 8_000 }),
        content: fc.oneof(
          fc.string({ maxLength: 40, unit: 'grapheme' }),
          fc.string({ maxLength: 600, unit: 'grapheme-ascii' }),
        ),
      }),
      { maxLength: 80, size: 'medium' },
    ),
  })
  .map(({ tokensByKey, seeds }) =>
    seeds.map((seed) => {
      const modelIndex = (seed.key % MODELS.length) + (seed.wrongModel ? 1 : 0);
      return makeJob({
        jobId: `j${seed.id}`,
        prefixKey: PREFIX_KEYS[seed.key] ?? 'k0',
        model: MODELS[modelIndex % MODELS.length] ?? 'deepseek-v4-flash',
        sortKey: seed.sortKey,
        // Few distinct values so that ties between groups are common.
        prefixTokens: (tokensByKey[seed.key] ?? 0) * 1_000,
        uniqueTokens: seed.uniqueTokens,
        maxOutputTokens: seed.maxOutputTokens,
        path: seed.sortKey,
        content: seed.content,
      });
    }),
  );

/** Limits small enough that splitting and rejecting for size both happen often. */
export const optionsArb: fc.Arbitrary<Required<PlanOptions>> = fc.record({
  maxJobsPerMessage: fc.integer({ min: 1, max: 6 }),
  maxMessageBytes: fc.integer({ min: 300, max: 3_000 }),
  warmup: fc.constantFrom(...WARMUP_MODES),
});
