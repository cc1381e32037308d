/**
 * The jobs table as the domain sees it: batches, jobs, result-reuse entries and drop markers,
 * and the store whose conditional writes carry the pipeline's invariants (a job is claimed by
 * one worker at a time, ends in exactly one terminal state, and is counted once on its batch).
 * shared/aws/jobs/ implements it over DynamoDB.
 */
import type { JobErrorCode } from '../job-errors';
import type { BatchQuality, Verdict } from '../quality/verdicts';
import type { Totals } from '../totals';
import {
  type BatchRef,
  type JobState,
  type Kind,
  type Lane,
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
  /** Cost-allocation tags: the project's defaults merged with the batch's own. */
  tags?: Record<string, string>;
  /** Absent: `primary`. A repair batch and a shadow batch are ledgered in their own lane. */
  lane?: Lane;
  /** A repair batch: the batch whose failed tests it repairs, the batch it all began with, the round. */
  repairOf?: { batchId: string; origin: string; round: number };
  /** A shadow batch: the batch it shadows. */
  shadowOf?: string;
  /** A batch with a shadow run: its batch, model and sample rate. */
  shadow?: { batchId: string; model: string; rate: number };
}

export type { BatchQuality };

/** A batch as stored: its settings, lifecycle, per-state counters and spend. */
export interface BatchItem extends NewBatch {
  status: BatchStatus;
  /** Number of jobs created with the batch. */
  total: number;
  /** Set once verdicts were recorded (shared/pipeline/verdicts.ts). */
  quality?: BatchQuality;
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
  /**
   * Upper bound of the job's cost (every prompt token a miss, `max_tokens` of output, at the
   * dearest price it can meet): what the worker reserves on the team's budget before the call.
   */
  estimateNanoUsd?: number;
  /** A repair job: the job whose answer it repairs. */
  repairOf?: { batchId: string; jobId: string };
}

/** What validation said of a job's answer (recorded from the batch's verdicts). */
export interface JobVerdict {
  verdict: Verdict;
  /** The round it was judged in: 0 for the batch's own answer, k for the k-th repair. */
  round: number;
  /** On the first job: the final verdict after repairs, and the repair job that reached it. */
  final?: Verdict;
  repairedBy?: { batchId: string; jobId: string };
  kept?: boolean;
  coverage?: { before: number; after: number; total: number };
}

/** Why a job did not succeed, in terms a person can act on. */
export interface JobError {
  code: JobErrorCode;
  reason: string;
}

export interface JobItem extends Omit<NewJob, 'estimateNanoUsd'> {
  batchId: string;
  estimateNanoUsd: number;
  state: JobState;
  /** Times the job was claimed. */
  attempts: number;
  leaseOwner?: string;
  /** Epoch ms after which another worker may take the job over. */
  leaseUntil?: number;
  /** Budget the job's current owner reserved; 0 while the job holds none. */
  reservedNanoUsd: number;
  /** Month (`YYYY-MM`) of that reservation. */
  reservedMonth?: string;
  error?: JobError;
  /** The billed response that produced the output (for `reused`, the earlier one). */
  responseId?: string;
  usage?: Usage;
  /**
   * What the answer cost, from its ledger record (written in the same transaction, and again by
   * `costs reprice`); absent while that record is unpriced (`costUnpriced` says why): an
   * unknown cost is never 0. Read it through `answerCost`.
   */
  costNanoUsd?: number;
  /** The pricing error code of the answer's record while it is unpriced. */
  costUnpriced?: string;
  /** Milliseconds from sending the answered request to its answer. */
  latencyMs?: number;
  /** The model the answering response named (may differ from the batch's: an alias). */
  servedModel?: string;
  /** The endpoint that served the answer. */
  servedBy?: string;
  /** The answer's finish_reason. */
  finishReason?: string;
  verdict?: JobVerdict;
  /** ISO timestamp of the last state change. */
  updatedAt: string;
}

/** A terminal state reached without a billed response of this job. */
export type JobEnd =
  | { state: 'failed'; error: JobError }
  | { state: 'skipped_budget' | 'cancelled'; error?: JobError }
  | { state: 'expired'; error: JobError }
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

export type ClaimResult =
  | { job: JobItem }
  /** `leaseUntil` (epoch ms): when a `leased` job's lease runs out. */
  | { job: undefined; reason: ClaimRefusal; leaseUntil?: number };

/** Who is sending a request right now: identical requests elsewhere wait for its answer. */
export interface RequestHolder {
  team: string;
  batchId: string;
  jobId: string;
}

/** Result-reuse entry: the output of an earlier identical request. */
export interface ReuseItem {
  requestHash: string;
  outputKey: string;
  responseId: string;
  createdAt: string;
  /** Epoch seconds; DynamoDB TTL deletes the item some time after. */
  expiresAt: number;
  /**
   * Where the request that produced the output is stored: the job that sent it. A repair of a
   * job that reused this output reads that request (entries written before this have none).
   */
  origin?: { team: string; batchId: string; jobId: string; requestKey: string };
}

/**
 * The jobs table by aggregate: each port below is one consistency boundary with conditional
 * writes of its own, so a rule can take just the one it uses and a test can hand it a small fake
 * (test/support/fakes/). `JobsStore` is all of them, as one table holds them.
 */
export interface JobsStore
  extends BatchesStore,
    InFlightStore,
    ReuseStore,
    DropsStore,
    PlansStore {}

/** Batches and their jobs: creation, leases, terminal states, verdicts and finalization. */
export interface BatchesStore {
  /**
   * Creates the batch and its jobs, idempotently: jobs that exist are left as they are (a
   * redelivered planner message neither duplicates nor resets them). Jobs are written before the
   * batch item, so a batch that exists has all its jobs. `created` is false when the batch existed.
   */
  createBatch(
    batch: NewBatch,
    jobs: readonly NewJob[],
    options?: {
      /** The jobs were written already (`createJobs`, by a sharded batch's shards): only the batch item is. */
      jobsWritten?: boolean;
    },
  ): Promise<{ created: boolean }>;
  /**
   * Writes jobs of a batch whose batch item does not exist yet (the shards of a sharded batch),
   * idempotently like `createBatch`: jobs that exist are left as they are.
   */
  createJobs(batch: BatchRef & Pick<NewBatch, 'createdAt'>, jobs: readonly NewJob[]): Promise<void>;
  /**
   * Leases a job to `owner` for `leaseMs`: pending, or running with an expired lease, becomes
   * running with attempts + 1, only while the batch is open. A refusal means: make no LLM call.
   */
  claimJob(
    batch: BatchRef,
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
    batch: BatchRef,
    jobId: string,
    owner: string,
    now: Date,
    options?: {
      /** The job waited (for budget, or for an identical request) and made no call: its claim does not count as an attempt. */
      uncounted?: boolean;
    },
  ): Promise<'released' | 'cancelled' | 'not_owner'>;
  /**
   * Records the budget the job's owner reserved for it, so whoever ends or takes over the job
   * knows what to give back or settle. False when `owner` no longer holds the job.
   */
  setReservation(
    batch: BatchRef,
    jobId: string,
    owner: string,
    reservation: { nanoUsd: number; month: string },
  ): Promise<boolean>;
  /**
   * Ends a job without a billed response of its own, counting it on the batch in the same
   * transaction. With `owner` the job must be running under that lease; without, it must be
   * pending. False when the job was not in that state (nothing changed).
   */
  endJob(
    batch: BatchRef,
    jobId: string,
    end: JobEnd,
    options: { now: Date; owner?: string },
  ): Promise<boolean>;
  /**
   * Cancels the batch: no job can be claimed afterwards, every pending job becomes cancelled,
   * running jobs finish. Idempotent; `undefined` when there is no such batch.
   */
  cancelBatch(batch: BatchRef, now: Date): Promise<{ cancelled: number } | undefined>;
  getBatch(batch: BatchRef): Promise<BatchItem | undefined>;
  /** Every job of the batch (strongly consistent, all pages), in job id order. */
  listJobs(batch: BatchRef): Promise<JobItem[]>;
  getJob(batch: BatchRef, jobId: string): Promise<JobItem | undefined>;
  /**
   * Records verdicts: each job's on its item (SET, so recording twice writes the same), and the
   * batch's quality counters on the batch item.
   */
  recordVerdicts(
    batch: BatchRef,
    jobs: readonly { jobId: string; verdict: JobVerdict }[],
    quality?: BatchQuality,
  ): Promise<void>;
  /**
   * True exactly once, for the caller that should enqueue finalization: when every job is in a
   * terminal state and no one queued it before. Moves the batch to `finalizing`.
   */
  markFinalizeQueued(batch: BatchRef): Promise<boolean>;
  /** Marks a finalized batch `done`. False unless finalization was queued. */
  finishBatch(batch: BatchRef, now: Date): Promise<boolean>;
  /**
   * Records that the planner sent the batch's work messages, so a batch left half-planned (jobs
   * created, messages never sent) can be told apart and planned again. The first time is kept;
   * false when there is no such batch.
   */
  markPlanned(batch: BatchRef, plan: { workMessages: number; now: Date }): Promise<boolean>;
  /** The newest batch of a team's project (by creation time), for `status --latest`. */
  latestBatch(team: string, project: string): Promise<BatchItem | undefined>;
}

/** Requests being sent right now, so identical ones wait for the answer instead of paying twice. */
export interface InFlightStore {
  /**
   * Marks a request hash as being sent by `holder` until `untilMs`, unless another holder's
   * mark is still in force: then returns that holder and when its mark ends.
   */
  holdRequest(
    requestHash: string,
    holder: RequestHolder,
    untilMs: number,
    now: Date,
  ): Promise<{ held: true } | { held: false; by: RequestHolder; untilMs: number }>;
  /** Ends `holder`'s mark on a request hash (nothing if someone else holds it now). */
  letGoRequest(requestHash: string, holder: RequestHolder): Promise<void>;
}

/** Outputs of earlier identical requests, kept for a while. */
export interface ReuseStore {
  /** Stores a reuse entry (last writer wins: identical requests have interchangeable outputs). */
  putReuse(entry: ReuseItem): Promise<void>;
  /** The reuse entry of a request hash, unless it expired (TTL deletes lazily). */
  getReuse(requestHash: string, now: Date): Promise<ReuseItem | undefined>;
}

/** Dropped files collected per prefix until the drop closes and is planned. */
export interface DropsStore {
  /**
   * Adds dropped files' events to the open drop of their prefix, opening one with `newDropId`
   * when there is none, each in one transaction with the event's marker, so that an event
   * belongs to exactly one drop. An event an earlier drop (or batch) already has is `owned`
   * instead; a redelivered event of the open drop joins it again without change.
   */
  joinDrop(
    prefix: DropPrefix,
    events: readonly DropEvent[],
    options: { now: Date; newDropId: string },
  ): Promise<JoinedDrop>;
  /** The open drop of a prefix, if any (strongly consistent); a closed one reads as none. */
  getOpenDrop(prefix: DropPrefix): Promise<OpenDrop | undefined>;
  /** Every file event of a drop, in key order. */
  listDropFiles(dropId: string): Promise<DropFile[]>;
  /**
   * Closes an open drop, only if no file joined it since it was read (`arrivals` unchanged), and
   * records it closed with the batches it is planned as. False when it changed or was closed.
   */
  closeDrop(
    drop: OpenDrop,
    closed: { closedAt: Date; files: number; batchIds: string[] },
  ): Promise<boolean>;
  /** A closed drop, if `dropId` names one. */
  getClosedDrop(dropId: string): Promise<ClosedDrop | undefined>;
}

/** Plans of batches too large for one planner invocation, planned in shards. */
export interface PlansStore {
  /**
   * Records how a batch too large for one invocation is planned in shards, unless a plan is
   * already recorded: the first one written is the plan, and is returned either way.
   */
  createPlan(batch: BatchRef, plan: NewPlan, now: Date): Promise<PlanRecord>;
  /** The plan of a sharded batch (strongly consistent), if it has one. */
  getPlan(batch: BatchRef): Promise<PlanRecord | undefined>;
  /** Adds a shard to the plan's finished ones (again: no change) and returns the plan after. */
  markShardDone(batch: BatchRef, shard: number): Promise<PlanRecord>;
  /**
   * True exactly once, for the caller that should send the step that finishes the batch's
   * planning: when every shard is done and no one marked it before.
   */
  markPlanFinishQueued(batch: BatchRef): Promise<boolean>;
}

/**
 * How a batch too large for one planner invocation is planned: its jobs, in path order, cut
 * into `shards` shards of consecutive jobs, each decided by an invocation of its own; a last
 * step then creates the batch and sends its work.
 */
export interface NewPlan {
  /**
   * Names what was planned: a hash of the batch's settings and jobs. Shard objects are kept
   * under it, so a second planning of different content cannot mix with the first.
   */
  planId: string;
  shards: number;
  /** Jobs of the batch in all. */
  jobs: number;
  /** The batch, as the last step creates it. */
  batch: NewBatch;
  /** A manifest's batch budget (integer nano-USD), checked by the last step. */
  budgetNanoUsd?: number;
}

/** A plan as stored: which shards are done, and whether the last step was sent. */
export interface PlanRecord extends NewPlan {
  /** Shard indices (0-based) whose jobs are decided. */
  done: number[];
  finishQueued: boolean;
  /** ISO time the plan was recorded. */
  createdAt: string;
}

/** Where files are dropped: `intake/<team>/<project>/<kind>/`. */
export interface DropPrefix {
  team: string;
  project: string;
  kind: Kind;
}

/** One S3 object event of a dropped file. */
export interface DropEvent {
  /** The object key, decoded. */
  key: string;
  /** What tells two events of one key apart: the S3 sequencer (or eTag, or message id). */
  eventId: string;
  /** Epoch seconds; DynamoDB TTL deletes the event's marker some time after. */
  expiresAt: number;
}

/** Where each event of a join went, by its index in the events given. */
export interface JoinedDrop {
  joined: { index: number; dropId: string }[];
  /** Events an earlier drop or batch already has, and which. */
  owned: { index: number; owner: string }[];
  /** Drops this join opened. */
  opened: string[];
}

/** The drop of a prefix that is still collecting files. */
export interface OpenDrop extends DropPrefix {
  dropId: string;
  /** ISO timestamps of the first and the latest file event. */
  openedAt: string;
  lastArrivalAt: string;
  /** File events joined so far (a redelivered one counts again): the drop's version. */
  arrivals: number;
}

/** A file event of a drop. */
export interface DropFile {
  key: string;
  eventId: string;
  /** ISO timestamp. */
  arrivedAt: string;
}

/** A drop that stopped collecting: its files are planned as `batchIds`. */
export interface ClosedDrop extends DropPrefix {
  dropId: string;
  openedAt: string;
  closedAt: string;
  files: number;
  batchIds: string[];
}
