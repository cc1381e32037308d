/** The jobs table over DynamoDB: the store, and the keys the ledger store also writes to. */

export { type BatchesStoreOptions, createBatchesStore } from './batches';
export type { DropTable } from './drops';
export { createDropsStore } from './drops';
export { createInFlightStore } from './inflight';
export { MalformedItemError } from './items';
export {
  batchKey,
  CANCEL_ATTRIBUTES,
  closedDropKey,
  dropKey,
  jobKey,
  openDropKey,
  projectBatchPk,
  reuseKey,
  teamBatchesPkPrefix,
} from './keys';
export { createPlansStore } from './plans';
export { createReuseStore } from './reuse';
export { createJobsStore, type JobsStoreOptions } from './store';
export type { JobsTable } from './table';
