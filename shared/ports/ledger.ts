/**
 * The ledger as the domain sees it: one cost record per billed provider response, monthly
 * roll-ups per team / project / model / kind, and budgets per team and month. shared/aws/
 * implements it over DynamoDB, writing a billed response in one transaction with everything
 * it changes, so it is in the ledger exactly once whatever retries or redeliveries happen.
 */
import type { Totals } from '../totals';
import type { BatchRef, Kind, Usage } from '../types';

/** `jobId` of the records of warm-up requests, which belong to a batch but to no job. */
export const WARMUP_JOB_ID = 'warmup';

/** One billed provider response. */
export interface CostRecord {
  /** The provider's response id: the idempotency key of the ledger. */
  responseId: string;
  team: string;
  project: string;
  batchId: string;
  /** The job, or WARMUP_JOB_ID. */
  jobId: string;
  model: string;
  kind: Kind;
  /** Name of the endpoint that served the request (public DeepSeek, self-hosted, ...). */
  endpoint: string;
  usage: Usage;
  costNanoUsd: number;
  /** What the same tokens would have cost on `referenceModel`. */
  counterfactualNanoUsd: number;
  referenceModel: string;
  /** ISO timestamp of the response; its UTC month is the record's month. */
  created: string;
  /**
   * Set on a `billed_unrecorded` record: a call whose worker died before its answer reached the
   * ledger. Its usage and cost are the attempt's upper-bound estimate, not the provider's figures.
   */
  estimated?: 'billed_unrecorded';
}

/**
 * Written before each provider call and removed in the transaction that records its billed
 * response (or when the call ends with nothing billed). One left behind means the worker died
 * in between: it is reconciled into an estimated `billed_unrecorded` record, so every call is
 * accounted for.
 */
export interface AttemptRecord {
  attemptId: string;
  team: string;
  project: string;
  batchId: string;
  /** The job, or WARMUP_JOB_ID. */
  jobId: string;
  kind: Kind;
  model: string;
  /** Hash of the full request, when the call is a job's. */
  requestHash?: string;
  /** Lease owner (invocation) that made the call. */
  owner: string;
  /** ISO time the call was sent. */
  sentAt: string;
  /** Upper bound of what the call can cost: every prompt token a miss, `max_tokens` of output. */
  estimatedUsage: Usage;
  estimatedCostNanoUsd: number;
  estimatedCounterfactualNanoUsd: number;
  referenceModel: string;
}

/** The attempt a billed response settles: removed in the same transaction. */
export type AttemptRef = Pick<AttemptRecord, 'team' | 'batchId' | 'jobId' | 'attemptId'>;

/** The job a billed response completes. */
export interface CompletedJob {
  /** Lease owner that claimed the job. */
  owner: string;
  outputKey: string;
  /** The job's reservation, settled against the actual cost. */
  reservedNanoUsd: number;
  /** Month the reservation was made in, when it differs from the record's month. */
  reservedMonth?: string;
}

export interface RecordResult {
  /** The response was already in the ledger; nothing was written. */
  duplicate: boolean;
  /**
   * The job was moved to `succeeded`. False for warm-ups, duplicates, and when the caller's
   * lease was lost: the cost is still recorded, the reservation is left to the new owner.
   */
  jobUpdated: boolean;
}

export interface Rollup extends Totals {
  month: string;
  team: string;
  project: string;
  model: string;
  kind: Kind;
}

export interface Budget {
  team: string;
  month: string;
  /** Undefined: no cap, spending is tracked but never refused. */
  capNanoUsd?: number;
  /** Reserved plus spent; reservations are granted only while this stays within the cap. */
  committedNanoUsd: number;
  spentNanoUsd: number;
}

export interface LedgerStore {
  /**
   * Writes a billed response in one transaction: the cost record and its idempotency marker,
   * the monthly roll-up, the budget settle (committed += actual - reserved; spent += actual), the
   * batch totals, and with `job` the job's move to `succeeded` plus the batch counter. A response
   * id already in the ledger makes the whole call a no-op reporting `duplicate: true`.
   */
  recordBilledResponse(input: {
    record: CostRecord;
    job?: CompletedJob;
    /** The attempt this response settles, removed in the same transaction. */
    attempt?: AttemptRef;
  }): Promise<RecordResult>;
  /** Writes the record of a call about to be sent. */
  recordAttempt(attempt: AttemptRecord): Promise<void>;
  /** Removes an attempt whose call ended with nothing billed. */
  closeAttempt(ref: AttemptRef): Promise<void>;
  /** Attempts of a batch (of one job, when given) still open, oldest first. */
  openAttempts(batch: BatchRef, jobId?: string): Promise<AttemptRecord[]>;
  /**
   * Turns an open attempt into an estimated `billed_unrecorded` cost record, in one transaction
   * that removes the attempt: done once, whoever else reconciles it at the same time.
   * Returns false when the attempt was already settled or reconciled.
   */
  reconcileAttempt(attempt: AttemptRecord): Promise<boolean>;
  /** Sets (or changes) a team's cap for a month; reservations already made stay. */
  setBudget(team: string, month: string, capNanoUsd: number): Promise<void>;
  /**
   * Reserves `estimateNanoUsd` of the team's month: true when granted. Under any concurrency the
   * granted reservations never take `committed` past the cap. No cap: always granted (and tracked).
   */
  reserve(team: string, month: string, estimateNanoUsd: number): Promise<boolean>;
  /** Returns an unused reservation (a job that ended without a billed response). */
  release(team: string, month: string, nanoUsd: number): Promise<void>;
  /** Every roll-up of a month, all teams (Query, all pages). */
  rollups(month: string): Promise<Rollup[]>;
  /** Every cost record of a team's month, in time order (Query, all pages). */
  records(team: string, month: string): Promise<CostRecord[]>;
  budget(team: string, month: string): Promise<Budget | undefined>;
}

/** The UTC month (`yyyy-mm`) of an ISO timestamp: the month a record, roll-up or budget is in. */
export function monthOf(iso: string): string {
  return isoUtc(iso).slice(0, 7);
}

/** An ISO timestamp normalized to UTC with milliseconds, so that it sorts as text. */
export function isoUtc(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) throw new RangeError(`not a timestamp: ${iso}`);
  return t.toISOString();
}
