/**
 * Where the pipeline keeps a batch's objects, in one place: the planner writes them, the worker
 * and finalize read them, the CLI fetches them. Layout in docs/pipeline.md.
 */
import { PREFIXES } from '../resources';

/** Key of a job's stored request. */
export function requestKeyFor(batchId: string, jobId: string): string {
  return `${PREFIXES.batches}${batchId}/requests/${jobId}.json`;
}

/** Key of the input rejections of a batch (inputs that never became jobs), read by finalize. */
export function rejectionsKeyFor(batchId: string): string {
  return `${PREFIXES.batches}${batchId}/rejections.json`;
}

/** Keys of a batch's result objects, written by finalize. */
export function resultKeys(batchId: string) {
  const base = `${PREFIXES.results}${batchId}/`;
  return {
    results: `${base}results.jsonl`,
    errors: `${base}errors.jsonl`,
    summary: `${base}summary.json`,
  };
}
