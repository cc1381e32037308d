/**
 * The in-memory jobs table the fakes share, as DynamoDB's one table is shared by the adapters:
 * a fake ledger store ends jobs and adds to batch totals in the same state the fake batches
 * store reads. Every read hands out a copy, so a caller cannot change stored state by mutating
 * what it read.
 */
import type {
  BatchItem,
  ClosedDrop,
  DropFile,
  JobItem,
  OpenDrop,
  PlanRecord,
  RequestHolder,
  ReuseItem,
} from '../../../shared/ports/jobs';
import type { BatchRef } from '../../../shared/types';

export interface FakeJobsTable {
  batches: Map<string, BatchItem>;
  /** Jobs by batch key, then job id. */
  jobs: Map<string, Map<string, JobItem>>;
  reuse: Map<string, ReuseItem>;
  inflight: Map<string, RequestHolder & { untilMs: number }>;
  /** Open (or closed, still marked) drop of each prefix, by `team/project/kind`. */
  openDrops: Map<string, OpenDrop & { status: 'open' | 'closed' }>;
  closedDrops: Map<string, ClosedDrop>;
  /** Files of each drop by `key\0eventId`. */
  dropFiles: Map<string, Map<string, DropFile>>;
  /** The drop that has each event, by `key\0eventId`. */
  markers: Map<string, { owner: string; expiresAt: number }>;
  plans: Map<string, PlanRecord>;
}

export function newFakeJobsTable(): FakeJobsTable {
  return {
    batches: new Map(),
    jobs: new Map(),
    reuse: new Map(),
    inflight: new Map(),
    openDrops: new Map(),
    closedDrops: new Map(),
    dropFiles: new Map(),
    markers: new Map(),
    plans: new Map(),
  };
}

/** The key of a batch: its team and id, as the adapter's partition key. */
export const batchKeyOf = (batch: BatchRef): string => `${batch.team}#${batch.batchId}`;

/** The job map of a batch, created on first use (jobs may be written before their batch). */
export function jobsOf(table: FakeJobsTable, batch: BatchRef): Map<string, JobItem> {
  const key = batchKeyOf(batch);
  let jobs = table.jobs.get(key);
  if (!jobs) {
    jobs = new Map();
    table.jobs.set(key, jobs);
  }
  return jobs;
}

export const copy = <T>(value: T): T => structuredClone(value);

/** What DynamoDB throws when a plain (non-transaction) write's condition fails. */
export function conditionFailed(what: string): Error {
  const err = new Error(`The conditional request failed: ${what}`);
  err.name = 'ConditionalCheckFailedException';
  return err;
}

/** Compares strings by code unit, as DynamoDB orders sort keys. */
export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
