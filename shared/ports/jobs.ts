/**
 * The jobs table as the domain sees it: batches, jobs, result-reuse entries and drop markers,
 * and the store whose conditional writes carry the pipeline's invariants (a job is claimed by
 * one worker at a time, ends in exactly one terminal state, and is counted once on its batch).
 * shared/aws/jobs/ implements it over DynamoDB.
 */
import type { JobErrorCode } from '../job-errors';
import type { Totals } from '../totals';
import {
  type JobState,
  type Kind,
  type Sensitivity,
  TERMINAL_STATES,
  type TerminalState,
  type Usage,
} from '../types';

export const BATCH_STATUSES = ['open', 'cancelled', 'finalizing', 'done'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/**
 * Terminal states counted on the batch item; their sum is `ended`. They are the terminal job
 * states, so a new terminal state gets its counter without a second list to keep in step.
 */
export const END_COUNTERS = TERMINAL_STATES;
export type EndState = TerminalState;

/** What the planner knows about a batch when it creates it. */
export interface NewBatch {
  batchId: string;
  team: string;
  project: string;
  kind: Kind;
  model: string;
  sensitivity: Sensitivity;
  /** ISO timestamp. */
  createdAt: string;
  /** ISO timestamp after which the batch should not start new work. */
  deadline?: string;
  preferOffPeak?: boolean;
  /** CI metadata (repository, commit, run URL), shown in summaries. */
  ci?: Record<string, string>;
}

/** A batch as stored: its settings, lifecycle, per-state counters and spend. */
export interface BatchItem extends NewBatch {
  status: BatchStatus;
  /** Number of jobs created with the batch. */
  total: number;
  /** Jobs in a terminal state; the batch is complete when `ended === total`. */
  ended: number;
  counters: Record<EndState, number>;
  /**
   * Every billed request of the batch, warm-ups included. Responses the catalog could not price
   * count in requests and tokens, not in cost: `unpricedRequests` says how many.
   */
  totals: Totals & { unpricedRequests: number };
  finalizeQueued: boolean;
  /**
   * When the planner finished sending the batch's work messages (absent: planning has not
   * finished, perhaps failed half-way).
   */
  plannedAt?: string;
  /** Work messages the planner sent, recorded with `plannedAt`. */
  workMessages?: number;
  cancelledAt?: string;
  doneAt?: string;
}

/** What the planner knows about a job when it creates it. */
export interface NewJob {
  jobId: string;
  path: string;
  inputKey: string;
  outputKey: string;
  /** S3 key of the full request (messages and parameters) the worker sends. */
  requestKey?: string;
  /** Hash of the full request; the key of result reuse. */
  requestHash?: string;
  customId?: string;
  /** Budget reserved for this job at planning time, settled when its response is recorded. */
  reservedNanoUsd?: number;
}

/** Why a job did not succeed, in terms a person can act on. */
export interface JobError {
  code: JobErrorCode;
  reason: string;
}

export interface JobItem extends Omit<NewJob, 'reservedNanoUsd'> {
  batchId: string;
  state: JobState;
  /** Times the job was claimed. */
  attempts: number;
  leaseOwner?: string;
  /** Epoch ms after which another worker may take the job over. */
  leaseUntil?: number;
  reservedNanoUsd: number;
  error?: JobError;
  /** The billed response that produced the output (for `reused`, the earlier one). */
  responseId?: string;
  usage?: Usage;
  costNanoUsd?: number;
  /** ISO timestamp of the last state change. */
  updatedAt: string;
}

/** A terminal state reached without a billed response of this job. */
export type JobEnd =
  | { state: 'failed'; error: JobError }
  | { state: 'skipped_budget' | 'cancelled'; error?: JobError }
  | { state: 'reused'; responseId: string };

export type ClaimRefusal =
  /** No such job (or no such batch). */
  | 'missing'
  /** The job already reached a terminal state, or its batch is being finalized. */
  | 'finished'
  /** Another worker holds an unexpired lease. */
  | 'leased'
  /** The batch (or the job) was cancelled. */
  | 'cancelled';

export type ClaimResult = { job: JobItem } | { job: undefined; reason: ClaimRefusal };

/** Result-reuse entry: the output of an earlier identical request. */
export interface ReuseItem {
  requestHash: string;
  outputKey: string;
  responseId: string;
  createdAt: string;
  /** Epoch seconds; DynamoDB TTL deletes the item some time after. */
  expiresAt: number;
}

export interface JobsStore {
  /**
   * Creates the batch and its jobs, idempotently: jobs that exist are left as they are (a
   * redelivered planner message neither duplicates nor resets them). Jobs are written before the
   * batch item, so a batch that exists has all its jobs. `created` is false when the batch existed.
   */
  createBatch(batch: NewBatch, jobs: readonly NewJob[]): Promise<{ created: boolean }>;
  /**
   * Leases a job to `owner` for `leaseMs`: pending, or running with an expired lease, becomes
   * running with attempts + 1, only while the batch is open. A refusal means: make no LLM call.
   */
  claimJob(
    batchId: string,
    jobId: string,
    owner: string,
    leaseMs: number,
    now: Date,
  ): Promise<ClaimResult>;
  /**
   * Gives a running job back (not started, or a retryable failure): running -> pending, only by
   * its lease owner. In a cancelled batch the job is cancelled instead, so none stays pending.
   */
  releaseJob(
    batchId: string,
    jobId: string,
    owner: string,
    now: Date,
  ): Promise<'released' | 'cancelled' | 'not_owner'>;
  /**
   * Ends a job without a billed response of its own, counting it on the batch in the same
   * transaction. With `owner` the job must be running under that lease; without, it must be
   * pending. False when the job was not in that state (nothing changed).
   */
  endJob(
    batchId: string,
    jobId: string,
    end: JobEnd,
    options: { now: Date; owner?: string },
  ): Promise<boolean>;
  /**
   * Cancels the batch: no job can be claimed afterwards, every pending job becomes cancelled,
   * running jobs finish. Idempotent; `undefined` when there is no such batch.
   */
  cancelBatch(batchId: string, now: Date): Promise<{ cancelled: number } | undefined>;
  getBatch(batchId: string): Promise<BatchItem | undefined>;
  /** Every job of the batch (strongly consistent, all pages), in job id order. */
  listJobs(batchId: string): Promise<JobItem[]>;
  getJob(batchId: string, jobId: string): Promise<JobItem | undefined>;
  /** Stores a reuse entry (last writer wins: identical requests have interchangeable outputs). */
  putReuse(entry: ReuseItem): Promise<void>;
  /** The reuse entry of a request hash, unless it expired (TTL deletes lazily). */
  getReuse(requestHash: string, now: Date): Promise<ReuseItem | undefined>;
  /**
   * True exactly once, for the caller that should enqueue finalization: when every job is in a
   * terminal state and no one queued it before. Moves the batch to `finalizing`.
   */
  markFinalizeQueued(batchId: string): Promise<boolean>;
  /** Marks a finalized batch `done`. False unless finalization was queued. */
  finishBatch(batchId: string, now: Date): Promise<boolean>;
  /**
   * Records that the planner sent the batch's work messages, so a batch left half-planned (jobs
   * created, messages never sent) can be told apart and planned again. The first time is kept;
   * false when there is no such batch.
   */
  markPlanned(batchId: string, plan: { workMessages: number; now: Date }): Promise<boolean>;
  /**
   * Claims one S3 object event for a batch, so the same event delivered again in a later
   * batching window is recognized. True when the marker was absent, expired, already this
   * batch's, or left by a planning that never created its batch (claimed longer than
   * `staleAfterMs` ago, batch absent); otherwise `owner` names the batch that has the event.
   */
  claimDrop(
    claim: DropClaim,
    options: { now: Date; staleAfterMs: number },
  ): Promise<DropClaimResult>;
}

/** One S3 object event claimed by the batch that plans it. */
export interface DropClaim {
  /** The object key, decoded. */
  key: string;
  /** What tells two events of one key apart: the S3 sequencer, or the eTag without one. */
  eventId: string;
  batchId: string;
  /** Epoch seconds; DynamoDB TTL deletes the marker some time after. */
  expiresAt: number;
}

export type DropClaimResult = { claimed: true } | { claimed: false; owner: string };
