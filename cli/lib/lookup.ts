import { BATCH_ID_PATTERN, ManifestSchema, manifestKeyFor } from '../../shared/inputs';
import type { BatchItem } from '../../shared/ports/jobs';
import type { Services } from '../config';
import { UsageError } from './exit';

/** Fails with one line when `batchId` cannot be a batch id, before any call is made. */
export function checkBatchId(batchId: string): void {
  if (!BATCH_ID_PATTERN.test(batchId))
    throw new UsageError(
      `${JSON.stringify(batchId)} is not a batch id: use the id \`warmbatch submit\` printed`,
    );
}

/** The one line saying a well-formed batch id is unknown. */
export function noSuchBatch(batchId: string): UsageError {
  return new UsageError(
    `no batch ${batchId}: check the id, or wait until the planner has picked the batch up`,
  );
}

/** Reads a batch item, or fails with one line saying the id is unknown. */
export async function requireBatch(services: Services, batchId: string): Promise<BatchItem> {
  checkBatchId(batchId);
  const batch = await services.jobs.getBatch(batchId);
  if (!batch) throw noSuchBatch(batchId);
  return batch;
}

/**
 * The files a batch was submitted with, from its manifest; empty when it cannot be read (the
 * CI submitter policy may only write batches/), in which case planning rejections that
 * errors.jsonl lists are still reported.
 */
export async function submittedFiles(services: Services, batchId: string): Promise<string[]> {
  try {
    const text = await services.objects.getText(manifestKeyFor(batchId));
    if (text === undefined) return [];
    const parsed = ManifestSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.files : [];
  } catch {
    return [];
  }
}
