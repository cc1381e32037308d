/**
 * Where the pipeline keeps a batch's objects, in one place: the planner writes them, the worker
 * and finalize read them, the CLI fetches them. Every key carries the batch's team, so that IAM
 * policies can be scoped by it. Layout in docs/pipeline.md.
 */
import { batchPrefixFor } from '../inputs/manifest';

export { outputPrefixFor } from '../inputs/jobs';

import { PREFIXES } from '../resources';
import type { BatchRef } from '../types';

/** Key of a job's stored request: `batches/<team>/<batchId>/requests/<jobId>.json`. */
export function requestKeyFor(batch: BatchRef, jobId: string): string {
  return `${batchPrefixFor(batch)}requests/${jobId}.json`;
}

/** Key of the input rejections of a batch (inputs that never became jobs), read by finalize. */
export function rejectionsKeyFor(batch: BatchRef): string {
  return `${batchPrefixFor(batch)}rejections.json`;
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
 * Key of an object of a sharded batch's plan: `batches/<team>/<batchId>/plan/<planId>/<name>`
 * (the shards' jobs, their decisions, the inputs that never became jobs).
 */
export function planObjectKey(batch: BatchRef, planId: string, name: string): string {
  return `${batchPrefixFor(batch)}plan/${planId}/${name}`;
}
