/**
 * The ledger as the domain sees it: one cost record per billed provider response, monthly
 * roll-ups per team / project / model / kind, and budgets per team and month. shared/aws/
 * implements it over DynamoDB, writing a billed response in one transaction with everything
 * it changes, so it is in the ledger exactly once whatever retries or redeliveries happen.
 */
import type { QualityTotals } from '../quality/verdicts';
import type { Totals } from '../totals';
import type { BatchRef, Kind, Lane, PricingErrorCode, Tier, Usage } from '../types';

/** `jobId` of the records of warm-up requests, which belong to a batch but to no job. */
export const WARMUP_JOB_ID = 'warmup';

/** `jobId` of a batch's AWS line (purpose `aws`). */
export const AWS_JOB_ID = 'aws';

/**
 * What a billed response was for: a job's answer, a warm-up or cache probe, or an attempt the
 * client discarded (empty JSON, an early finish). Only job answers count in the counterfactual;
 * warm-ups and discarded attempts are the pipeline's overhead, reported as warm-up cost.
 * `aws` is no provider response: a batch's estimated AWS cost, one line per batch (its charge is
 * AWS, not the model), in `awsCostNanoUsd` and never in the model cost or the budget.
 */
export const RECORD_PURPOSES = ['job', 'warmup', 'discarded', 'aws'] as const;
export type RecordPurpose = (typeof RECORD_PURPOSES)[number];

/** Purposes that are the pipeline's model overhead (shared among a group's job answers). */
export const isModelOverhead = (purpose: RecordPurpose) =>
  purpose === 'warmup' || purpose === 'discarded';

/** The `responseId` of a batch's AWS line: one per batch, so finalizing again adds nothing. */
export const awsLineId = (batch: BatchRef) => `aws:${batch.team}:${batch.batchId}`;

/** Which catalog row priced a record, and at which tier. */
export interface RecordPrice {
  /** The row's id (`deepseek-flash@2026-09-09T16:00:00Z`). */
  rowId: string;
  /** Where the row came from: `built-in`, `s3://.../config/prices.json`, `settings...`. */
  origin: string;
  /** The model whose row applied (an alias names another model). */
  billedAs: string;
  tier: Tier;
  /** The unit prices applied, integer micro-USD per 1M tokens (absent on older records). */
  rates?: { hit: number; miss: number; output: number };
}

/** Why a billed response could not be priced; it is in the ledger all the same. */
export interface Unpriced {
  reason: PricingErrorCode;
  /** The pricing error's message: what is missing, and which models were in force. */
  detail: string;
}

/** One billed provider response. */
export interface CostRecord {
  /** The provider's response id: the idempotency key of the ledger. */
  responseId: string;
  team: string;
  project: string;
  batchId: string;
  /** The job, or WARMUP_JOB_ID. */
  jobId: string;
  /** The model the response says served it (its `model` field), which prices it. */
  model: string;
  kind: Kind;
  purpose: RecordPurpose;
  /** Absent: `primary`. Repairs and shadow runs roll up apart (their own lane). */
  lane?: Lane;
  /** Name of the endpoint that served the request (public DeepSeek, self-hosted, ...). */
  endpoint: string;
  /**
   * The prefix group the request belonged to (its prefix key): a warm-up's cost is shared among
   * the job answers of its group (shared/chargeback/amortise.ts). Absent on records written
   * before groups were recorded.
   */
  group?: string;
  /** The batch's cost-allocation tags (shared/tags.ts); absent when it has none. */
  tags?: Record<string, string>;
  usage: Usage;
  /** Integer nano-USD; 0 while `unpriced` (never read as a price: reports list those apart). */
  costNanoUsd: number;
  /** What the same tokens would have cost on `referenceModel`; 0 for overhead and unpriced. */
  counterfactualNanoUsd: number;
  referenceModel: string;
  /** ISO time the worker sent the request, on the pipeline's clock; its UTC month is the record's month. */
  sentAt: string;
  /** ISO time of the response, from the provider (`created`). */
  created: string;
  /** ISO time the answer arrived, on the pipeline's clock; absent on estimates and older records. */
  receivedAt?: string;
  /** ISO instant the prices were taken at: `sentAt` or `created`, as `pricing.instant` says. */
  pricedAt: string;
  /** The row and tier that priced it; absent while unpriced. */
  price?: RecordPrice;
  /** Set when no catalog row could price the response; `warmbatch costs reprice` clears it. */
  unpriced?: Unpriced;
  /**
   * Set when the reference model could not be priced: the counterfactual is 0 and the record
   * is left out of savings, while its own cost stands.
   */
  referenceUnpriced?: Unpriced;
  /**
   * The job's reservation, on an unpriced job answer: it stays committed until the record is
   * repriced, which settles it then.
   */
  reservation?: { nanoUsd: number; month: string };
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
  /** Absent: `primary`. */
  lane?: Lane;
  /** Hash of the full request, when the call is a job's. */
  requestHash?: string;
  /** The call's prefix group and the batch's tags, carried onto its estimated record. */
  group?: string;
  tags?: Record<string, string>;
  /** Lease owner (invocation) that made the call. */
  owner: string;
  /** ISO time the call was sent. */
  sentAt: string;
  /** Upper bound of what the call can cost: every prompt token a miss, `max_tokens` of output. */
  estimatedUsage: Usage;
  /** The estimate's cost, priced at `sentAt`; 0 while `unpriced`. */
  estimatedCostNanoUsd: number;
  /** 0 for a warm-up, and while `unpriced`: the reference model would not send one. */
  estimatedCounterfactualNanoUsd: number;
  referenceModel: string;
  /** The row and tier that priced the estimate; absent while unpriced. */
  price?: RecordPrice;
  /** Set when no catalog row could price the estimate: its record is repriced like any other. */
  unpriced?: Unpriced;
  /**
   * What a warm-up's or probe's call reserved before it was sent: its estimate settles against
   * it when the attempt is reconciled, so a lost call stays within the cap too.
   */
  reserved?: CallReservation;
}

/** What `reprice` did for a month. */
export interface RepriceResult {
  /** Records priced by this run. */
  repriced: number;
  /** Records still unpriced (no row yet), with their reasons. */
  stillUnpriced: { responseId: string; model: string; reason: PricingErrorCode }[];
  /** Records another run priced first (counted once, by that run). */
  alreadyPriced: number;
  /**
   * Batches with a job answer this run priced: their jobs now carry its cost, and the figures
   * derived from job costs (quality counters, cost per passing test, summary.json) are
   * recorded again from them (`rerecordQuality`).
   */
  batches: BatchRef[];
}

/** The attempt a billed response settles: removed in the same transaction. */
export type AttemptRef = Pick<AttemptRecord, 'team' | 'batchId' | 'jobId' | 'attemptId'>;

/** Budget a call (a warm-up or cache probe) reserved before it was sent. */
export interface CallReservation {
  nanoUsd: number;
  month: string;
}

/** The job a billed response completes. */
export interface CompletedJob {
  /** Lease owner that claimed the job. */
  owner: string;
  outputKey: string;
  /** The job's reservation, settled against the actual cost. */
  reservedNanoUsd: number;
  /** Month the reservation was made in, when it differs from the record's month. */
  reservedMonth?: string;
  /** Milliseconds from sending the request to its answer, kept on the job. */
  latencyMs?: number;
  /** The answer's `finish_reason` (`stop`, `length`, ...), kept on the job for results.jsonl. */
  finishReason?: string;
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

export interface Rollup extends Totals, QualityTotals {
  month: string;
  /** Set on a daily roll-up (`yyyy-mm-dd`); absent on a monthly one. */
  day?: string;
  team: string;
  project: string;
  model: string;
  kind: Kind;
  lane: Lane;
  /** A roll-up of unpriced records: requests and tokens only, no cost yet. */
  unpriced?: boolean;
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
    /**
     * Without a job: the part of its call's reservation (a warm-up's or probe's) this response
     * settles: `committed += cost - reserved`, as a job's does.
     */
    reserved?: CallReservation;
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
  reconcileAttempt(
    attempt: AttemptRecord,
    /**
     * What the estimate settles against (`committed += estimate - reserved`): a job's held
     * reservation on takeover; default the attempt's own (`attempt.reserved`, a probe's).
     */
    reserved?: CallReservation,
  ): Promise<boolean>;
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
  /** Every daily roll-up of a month, all teams (one Query, all pages). */
  dailyRollups(month: string): Promise<Rollup[]>;
  /** Every cost record of a team's month, in time order (Query, all pages). */
  records(team: string, month: string): Promise<CostRecord[]>;
  /** The cost records a team's UTC day holds (`yyyy-mm-dd`), in time order (one Query). */
  recordsOfDay(team: string, day: string): Promise<CostRecord[]>;
  /** The unpriced records of a month, all teams (Query on the month's unpriced index). */
  unpricedRecords(month: string): Promise<CostRecord[]>;
  /**
   * Prices one unpriced record (`priced` holds its new cost, counterfactual and price) in one
   * transaction: the record, its move from the unpriced roll-up to the priced one, the batch
   * totals, and the budget (the job's reservation settled). False when another run priced it
   * first: each record is repriced, and each roll-up updated, exactly once.
   */
  repriceRecord(
    record: CostRecord,
    priced: Pick<
      CostRecord,
      'costNanoUsd' | 'counterfactualNanoUsd' | 'price' | 'referenceUnpriced'
    >,
  ): Promise<boolean>;
  budget(team: string, month: string): Promise<Budget | undefined>;
  /**
   * Records a batch's verdicts in the month's roll-ups, and with `day` in that day's daily
   * roll-ups too (quality over time), exactly once per content: the counters recorded before
   * for the batch are kept with it, and only the difference is added, in one transaction with
   * the new ones. Recording the same rows again changes nothing.
   */
  recordQuality(input: {
    batch: BatchRef;
    month: string;
    /** The UTC day (`yyyy-mm-dd`, within `month`) the batch's quality belongs to. */
    day?: string;
    rows: readonly QualityRow[];
  }): Promise<{ changed: boolean }>;
}

/** The quality counters of one roll-up (team, project, model, kind, lane) from one batch. */
export interface QualityRow {
  project: string;
  model: string;
  kind: Kind;
  lane: Lane;
  quality: Partial<QualityTotals>;
}

/** The month of a record: the UTC month in which the worker sent its request. */
export const recordMonth = (record: Pick<CostRecord, 'sentAt'>) => monthOf(record.sentAt);

/** The day of a record: the UTC day (`yyyy-mm-dd`) in which the worker sent its request. */
export const recordDay = (record: Pick<CostRecord, 'sentAt'>) => dayOf(record.sentAt);

/** The UTC day (`yyyy-mm-dd`) of an ISO timestamp. */
export function dayOf(iso: string): string {
  return isoUtc(iso).slice(0, 10);
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
