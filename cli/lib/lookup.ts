import {
  BATCH_ID_PATTERN,
  ManifestSchema,
  manifestKeyFor,
  validateName,
} from '../../shared/inputs';
import type { BatchItem } from '../../shared/ports/jobs';
import type { BatchRef } from '../../shared/types';
import type { Services } from '../config';
import { UsageError } from './exit';

/**
 * The batch a command names, checked before any call is made: batch ids are unique within a
 * team, and every key of a batch carries its team, so `--team` is needed to find one.
 */
export function batchRef(batchId: string, team: string): BatchRef {
  if (!BATCH_ID_PATTERN.test(batchId))
    throw new UsageError(
      `${JSON.stringify(batchId)} is not a batch id: use the id \`warmbatch submit\` printed`,
    );
  const checked = validateName('--team', 'team', team);
  if (!checked.ok) throw new UsageError(checked.rejection.reason);
  return { team: checked.value, batchId };
}

/** The one line saying a well-formed batch id is unknown. */
export function noSuchBatch(batch: BatchRef): UsageError {
  return new UsageError(
    `no batch ${batch.batchId} for team ${batch.team}: check the id and --team, or wait until the planner has picked the batch up`,
  );
}

/** Reads a batch item, or fails with one line saying the id is unknown. */
export async function requireBatch(services: Services, batch: BatchRef): Promise<BatchItem> {
  const item = await services.jobs.getBatch(batch);
  if (!item) throw noSuchBatch(batch);
  return item;
}

/**
 * The files a batch was submitted with, from its manifest; empty when it cannot be read, in
 * which case planning rejections that errors.jsonl lists are still reported.
 */
export async function submittedFiles(services: Services, batch: BatchRef): Promise<string[]> {
  try {
    const text = await services.objects.getText(manifestKeyFor(batch));
    if (text === undefined) return [];
    const parsed = ManifestSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.files : [];
  } catch {
    return [];
  }
}
