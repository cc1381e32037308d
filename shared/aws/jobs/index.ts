/** The jobs table over DynamoDB: the store, and the keys the ledger store also writes to. */
export type { DropTable } from './drops';
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
export { createJobsStore, type JobsStoreOptions } from './store';
