/**
 * Where the pipeline keeps a batch's objects, in one place: the planner writes them, the worker
 * and finalize read them, the CLI fetches them. Every key carries the batch's team, so that IAM
 * policies can be scoped by it. Layout in docs/pipeline.md.
 */
export { outputPrefixFor } from '../inputs/jobs';

import { PREFIXES } from '../resources';
import type { BatchRef } from '../types';

/**
 * Where the pipeline keeps what it writes about a batch: `pipeline/<team>/<batchId>/`. Outside
 * `batches/<team>/`, which the team's own credentials may write, so nothing read back from here
 * can have been changed by a submitter.
 */
export function pipelinePrefixFor(batch: BatchRef): string {
  return `${PREFIXES.pipeline}${batch.team}/${batch.batchId}/`;
}

/** Where a batch's stored requests live: `pipeline/<team>/<batchId>/requests/`. */
export function requestsPrefixFor(batch: BatchRef): string {
  return `${pipelinePrefixFor(batch)}requests/`;
}

/**
 * Key of one job's stored request, `requests/<jobId>.json`: the layout of batches planned before
 * requests were stored in sets (see requestSetKeyFor); still read.
 */
export function requestKeyFor(batch: BatchRef, jobId: string): string {
  return `${requestsPrefixFor(batch)}${jobId}.json`;
}

/**
 * Key of a set of up to 50 jobs' stored requests, `requests/set-<setId>.json`: one S3 PUT and one
 * GET serve 50 jobs. The id is a hash of the jobs and their requests' hashes, so a key always
 * holds the same bytes.
 */
export function requestSetKeyFor(batch: BatchRef, setId: string): string {
  return `${requestsPrefixFor(batch)}set-${setId}.json`;
}

/** True when `key` is a stored request (single or set) of `batch`, and nothing else. */
export function isRequestKeyOf(batch: BatchRef, key: string): boolean {
  const prefix = requestsPrefixFor(batch);
  return key.startsWith(prefix) && /^[A-Za-z0-9_-]+\.json$/.test(key.slice(prefix.length));
}

/** Key of the input rejections of a batch (inputs that never became jobs), read by finalize. */
export function rejectionsKeyFor(batch: BatchRef): string {
  return `${pipelinePrefixFor(batch)}rejections.json`;
}

/** Where a batch's result objects live: `results/<team>/<batchId>/`. */
export function resultsPrefixFor(batch: BatchRef): string {
  return `${PREFIXES.results}${batch.team}/${batch.batchId}/`;
}

/** Keys of a batch's result objects, written by finalize. */
export function resultKeys(batch: BatchRef) {
  const base = resultsPrefixFor(batch);
  return {
    results: `${base}results.jsonl`,
    errors: `${base}errors.jsonl`,
    summary: `${base}summary.json`,
  };
}

/**
 * Key of an object of a sharded batch's plan: `pipeline/<team>/<batchId>/plan/<planId>/<name>`
 * (the shards' jobs, their decisions, the inputs that never became jobs).
 */
export function planObjectKey(batch: BatchRef, planId: string, name: string): string {
  return `${pipelinePrefixFor(batch)}plan/${planId}/${name}`;
}
