/**
 * The quality loop as `submit --validate`, `warmbatch validate` and `npm start` run it: tests
 * validated and repaired, filtered by coverage, the shadow run validated the same way, docs
 * checked, the verdicts uploaded next to the batch and recorded by the pipeline.
 */
import type { BatchItem } from '../../../shared/ports/jobs';
import { filterByCoverage } from './coverage';
import { checkDocs } from './docs-check';
import { type LoopContext, type QualityOptions, validateAndRepair } from './loop';
import { type QualitySection, qualitySection, uploadVerdicts, verdictsDoc } from './report';
import { validateShadow } from './shadow';

export type { LoopContext, QualityOptions } from './loop';
export { type QualitySection, renderQuality } from './report';

/** Defaults of the loop's options. */
export const QUALITY_DEFAULTS = {
  runs: 1,
  timeoutMs: 120_000,
  concurrency: 2,
  repairRounds: 1,
  coverageReport: 'coverage/coverage-summary.json',
  keepIf: 'passes',
} as const satisfies Partial<QualityOptions>;

/** The loop's context from a command's dependencies, waiting up to `waitMs` for a batch. */
export function loopContextOf(
  services: LoopContext['services'],
  deps: Pick<LoopContext, 'io' | 'clock' | 'sleep' | 'pollMs'>,
  waitMs: number,
): LoopContext {
  return {
    services,
    io: deps.io,
    clock: deps.clock,
    sleep: deps.sleep,
    pollMs: deps.pollMs,
    waitMs,
  };
}

/** Runs the loop on a finished batch whose outputs (`written`) are in `outDir`. */
export async function runQuality(
  ctx: LoopContext,
  batch: BatchItem,
  outDir: string,
  written: readonly string[],
  options: QualityOptions,
  filter: (path: string) => boolean = () => true,
): Promise<QualitySection> {
  const tested =
    batch.kind === 'tests'
      ? await validateAndRepair(ctx, batch, outDir, written, options, filter)
      : { tests: [], repairBatchIds: [] };
  const coverageFilter =
    batch.kind === 'tests' && (await filterByCoverage(ctx, tested.tests, outDir, options));
  const shadow =
    batch.kind === 'tests' ? await validateShadow(ctx, batch, outDir, options, filter) : [];
  const docs = batch.kind === 'docs' ? await checkDocs(ctx, batch, outDir, written, filter) : [];
  const tests = [...tested.tests, ...shadow];
  const recorded =
    tests.length + docs.length > 0 &&
    (await uploadVerdicts(
      ctx,
      batch,
      verdictsDoc({
        batch,
        tests,
        docs,
        repairBatchIds: tested.repairBatchIds,
        runs: options.runs,
        coverageFilter: coverageFilter && options.keepIf === 'adds-coverage',
      }),
    ));
  return qualitySection({
    batch,
    tests,
    docs,
    repairBatchIds: tested.repairBatchIds,
    recorded,
    at: ctx.clock.now().toISOString(),
  });
}
