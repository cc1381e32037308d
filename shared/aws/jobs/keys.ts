/**
 * Keys of the jobs table's items: a batch and its jobs share a partition, so one Query reads a
 * batch's jobs; reuse entries and drop markers have partitions of their own. A batch's partition
 * starts with its team (`BATCH#<team>#<batchId>`), so a team's IAM policy can be limited to its
 * own batches with a `dynamodb:LeadingKeys` condition on `BATCH#<team>#*`.
 */
import type { BatchRef } from '../../types';

/** Partition key prefix of one team's batches: what its submitter policy's LeadingKeys allow. */
export function teamBatchesPkPrefix(team: string): string {
  return `BATCH#${team}#`;
}

/** Sort key prefix of a batch's job items. */
export const JOB_SK_PREFIX = 'JOB#';

/** Key of a batch item. */
export function batchKey(batch: BatchRef): { pk: string; sk: string } {
  return { pk: `${teamBatchesPkPrefix(batch.team)}${batch.batchId}`, sk: 'META' };
}

/** Key of a job item. */
export function jobKey(batch: BatchRef, jobId: string): { pk: string; sk: string } {
  return { pk: batchKey(batch).pk, sk: `${JOB_SK_PREFIX}${jobId}` };
}

/** Key of a result-reuse item. */
export function reuseKey(requestHash: string): { pk: string; sk: string } {
  return { pk: `REUSE#${requestHash}`, sk: 'REUSE' };
}

/** Key of the marker of one S3 object event (`eventId`: sequencer, or eTag without one). */
export function dropKey(key: string, eventId: string): { pk: string; sk: string } {
  return { pk: `DROP#${key}`, sk: eventId };
}
