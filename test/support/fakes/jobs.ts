/** An in-memory JobsStore: every aggregate's fake over one shared table, as the adapter's. */
import type { JobsStore } from '../../../shared/ports/jobs';
import { fakeBatchesStore } from './batches';
import { fakeDropsStore } from './drops';
import { fakeInFlightStore, fakePlansStore, fakeReuseStore } from './requests';
import { type FakeJobsTable, newFakeJobsTable } from './table';

export function fakeJobsStore(table: FakeJobsTable = newFakeJobsTable()): JobsStore {
  return {
    ...fakeBatchesStore(table),
    ...fakeInFlightStore(table),
    ...fakeReuseStore(table),
    ...fakeDropsStore(table),
    ...fakePlansStore(table),
  };
}
