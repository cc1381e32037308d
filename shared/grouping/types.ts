/**
 * Data the planner reads and writes. The planner is generic over the job record it carries: any
 * record with these fields can be planned, and it travels in the work messages unchanged.
 */

/** What the planner needs to know about a job. */
export interface PlannableJob {
  jobId: string;
  /** Hash of model + shared messages (DESIGN.md "Prompt layout"); same key = same group. */
  prefixKey: string;
  model: string;
  /**
   * The job's unique part (e.g. its path then the head of its content). Sorting these
   * lexicographically puts jobs that share longer prefixes next to each other (radix order).
   */
  sortKey: string;
  /** Estimated tokens of the shared prefix. */
  prefixTokens: number;
  /** Estimated tokens of the job's own part. */
  uniqueTokens: number;
  maxOutputTokens: number;
}

export const WARMUP_MODES = ['auto', 'prefix-probe', 'first-job', 'none'] as const;

/**
 * How the worker warms a group's cache before fanning out: as the expected saving decides
 * (`auto`: shared/executor/warmup.ts), send the prefix alone (`prefix-probe`), send the first
 * job and wait (`first-job`), or not at all (`none`).
 */
export type WarmupMode = (typeof WARMUP_MODES)[number];

export interface PlanOptions {
  /** Most jobs in one work message; default 50. */
  maxJobsPerMessage?: number;
  /** Most UTF-8 bytes of a work message's JSON body; default SQS's 256 KiB minus headroom. */
  maxMessageBytes?: number;
  /** Default `auto`. */
  warmup?: WarmupMode;
}

/** The warm-up step the worker runs before the first chunk of a group. */
export interface WarmupStep {
  mode: WarmupMode;
  prefixTokens: number;
}

/** One SQS work message: a consecutive chunk of one group's jobs. */
export interface WorkMessage<T extends PlannableJob> {
  batchId: string;
  prefixKey: string;
  model: string;
  /** Position of this chunk in its group, 0..total-1. */
  seq: number;
  /** Number of chunks (messages) of the group. */
  total: number;
  /** Only on seq 0, and only when the warm-up mode is not `none`. */
  warmup?: WarmupStep;
  jobs: T[];
}

export interface PlannedGroup {
  prefixKey: string;
  model: string;
  prefixTokens: number;
  /** Planned jobs of the group, in the order they run. */
  jobIds: string[];
  /** Number of work messages of the group. */
  messages: number;
}

/** A job the planner refused, with a reason a person can act on. */
export interface RejectedJob {
  jobId: string;
  reason: string;
}

export interface Plan<T extends PlannableJob> {
  batchId: string;
  /** Longest prefix first. */
  groups: PlannedGroup[];
  /** The groups' chunks, group after group, in the order of `groups`. */
  messages: WorkMessage<T>[];
  /** Sorted by jobId. */
  rejected: RejectedJob[];
}
