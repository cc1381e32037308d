/**
 * The jobs table over DynamoDB: one batch item per batch, one item per job, result-reuse items,
 * in-flight marks, drops and plans, each aggregate's adapter in the file beside this one. The
 * conditional writes there carry the pipeline's invariants: a job is claimed by one worker at a
 * time, ends in exactly one terminal state, and is counted once on its batch.
 */
import type { JobsStore } from '../../ports/jobs';
import { type BatchesStoreOptions, createBatchesStore } from './batches';
import { createDropsStore } from './drops';
import { createInFlightStore } from './inflight';
import { createPlansStore } from './plans';
import { createReuseStore } from './reuse';
import type { JobsTable } from './table';

export interface JobsStoreOptions extends BatchesStoreOptions {}

/** A JobsStore over the jobs table; the document client is built by the caller, once. */
export function createJobsStore(options: JobsStoreOptions): JobsStore {
  const table: JobsTable = {
    ddb: options.ddb,
    table: options.table,
    ...(options.retry ? { retry: options.retry } : {}),
  };
  return {
    ...createBatchesStore(options),
    ...createInFlightStore(table),
    ...createReuseStore(table),
    ...createDropsStore(table),
    ...createPlansStore(table),
  };
}
