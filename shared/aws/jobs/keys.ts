/**
 * Keys of the jobs table's items: a batch and its jobs share a partition, so one Query reads a
 * batch's jobs; a drop and its files likewise; reuse entries, event markers, a prefix's open
 * drop and a project's batch index have partitions of their own. A batch's partition starts with
 * its team (`BATCH#<team>#<batchId>`), so a team's IAM policy can be limited to its own batches
 * with a `dynamodb:LeadingKeys` condition on `BATCH#<team>#*`.
 */
import { createHash } from 'node:crypto';
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

/** Key of the mark of a request being sent: identical requests elsewhere wait for it. */
export function inflightKey(requestHash: string): { pk: string; sk: string } {
  return { pk: `INFLIGHT#${requestHash}`, sk: 'INFLIGHT' };
}

/** Key of the marker of one S3 object event: which drop (or batch) has it. */
export function dropKey(key: string, eventId: string): { pk: string; sk: string } {
  return { pk: `DROP#${key}`, sk: eventId };
}

/** Key of the open drop of a prefix; segments come from splitting a key on '/', so hold none. */
export function openDropKey(
  team: string,
  project: string,
  kind: string,
): { pk: string; sk: string } {
  return { pk: `DROPS#${team}/${project}/${kind}`, sk: 'OPEN' };
}

/** Key of a closed drop's record. */
export function closedDropKey(dropId: string): { pk: string; sk: string } {
  return { pk: `DROPSET#${dropId}`, sk: 'META' };
}

/** Sort key prefix of a drop's file items. */
export const DROP_FILE_SK_PREFIX = 'FILE#';

/** Key of one file event of a drop; hashed, as a key and its event id can pass 1 KB. */
export function dropFileKey(
  dropId: string,
  key: string,
  eventId: string,
): { pk: string; sk: string } {
  const hash = createHash('sha256').update(`${key}\0${eventId}`, 'utf8').digest('hex');
  return { pk: `DROPSET#${dropId}`, sk: `${DROP_FILE_SK_PREFIX}${hash}` };
}

/** Key of a batch's entry in its project's index, newest last by creation time. */
export function projectBatchKey(
  team: string,
  project: string,
  createdAt: string,
  batchId: string,
): { pk: string; sk: string } {
  return { pk: projectBatchPk(team, project), sk: `${createdAt}#${batchId}` };
}

/** Partition of a project's batch index. */
export function projectBatchPk(team: string, project: string): string {
  return `BATCHES#${team}/${project}`;
}

/**
 * The only attributes a team's own credentials may write in its batch and job items: what
 * `warmbatch cancel` changes (the batch's status and the pending jobs it ends, with the batch's
 * counters) and the keys and conditions of those writes. Everything else in those items (model,
 * sensitivity, request hashes and keys, estimates, a sharded batch's plan) is written by the
 * pipeline only, so a team cannot rewrite what the pipeline obeys (infra/constructs/access.ts).
 */
export const CANCEL_ATTRIBUTES = [
  'pk',
  'sk',
  'status',
  'cancelledAt',
  'state',
  'updatedAt',
  'leaseOwner',
  'leaseUntil',
  'cancelled',
  'ended',
] as const;
