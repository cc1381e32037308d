/** The jobs table over DynamoDB: the store, and the keys the ledger store also writes to. */
export { claimDrop, type DropTable } from './drops';
export { MalformedItemError } from './items';
export { batchKey, dropKey, jobKey, reuseKey, teamBatchesPkPrefix } from './keys';
export { createJobsStore, type JobsStoreOptions } from './store';
