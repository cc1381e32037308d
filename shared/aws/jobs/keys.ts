/**
 * Keys of the jobs table's items: a batch and its jobs share a partition, so one Query reads a
 * batch's jobs; reuse entries and drop markers have partitions of their own.
 */

/** Key of a batch item. */
export function batchKey(batchId: string): { pk: string; sk: string } {
  return { pk: `BATCH#${batchId}`, sk: 'META' };
}

/** Key of a job item. */
export function jobKey(batchId: string, jobId: string): { pk: string; sk: string } {
  return { pk: `BATCH#${batchId}`, sk: `JOB#${jobId}` };
}

/** Sort key prefix of a batch's job items. */
export const JOB_SK_PREFIX = 'JOB#';

/** Key of a result-reuse item. */
export function reuseKey(requestHash: string): { pk: string; sk: string } {
  return { pk: `REUSE#${requestHash}`, sk: 'REUSE' };
}

/** Key of the marker of one S3 object event (`eventId`: sequencer, or eTag without one). */
export function dropKey(key: string, eventId: string): { pk: string; sk: string } {
  return { pk: `DROP#${key}`, sk: eventId };
}
