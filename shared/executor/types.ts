/** The executor's vocabulary: groups and jobs in, what became of every call out. */
import type { WarmupMode } from '../grouping/types';
import type { CallOptions, LlmClient, LlmRequest, LlmResponse } from '../llm/client';
import type { Logger } from '../ports/logger';
import type { ChatMessage, Sensitivity } from '../types';
import type { CacheProfile } from './profile';
import type { GroupPrices, WarmupPlan } from './warmup';

/** The planner's warm-up modes (WARMUP_MODES), which the executor carries out. */
export type { WarmupMode };

export interface ExecJob {
  jobId: string;
  /** The full request: the group's shared messages followed by the job's own. */
  messages: ChatMessage[];
  maxTokens?: number;
}

export interface ExecGroup {
  prefixKey: string;
  model: string;
  team: string;
  sensitivity: Sensitivity;
  /** The shared messages (1-3 of the layout); a prefix-probe warm-up sends exactly these. */
  prefixMessages: ChatMessage[];
  /** Estimated tokens of the shared prefix; replaced by the probe's measured prompt size. */
  prefixTokens: number;
  /** Jobs in planned (longest-shared-prefix) order. */
  jobs: ExecJob[];
  /**
   * Jobs of the same prefix group that run after this call (the group's later work messages):
   * they too use what a warm-up builds, so they count in `auto`'s decision.
   */
  laterJobs?: number;
  /** The model's prices now, for `auto`'s decision; typical DeepSeek ratios without them. */
  prices?: GroupPrices;
}

export interface ExecutorOptions {
  /** How to warm a group; the benchmark chooses the default. */
  warmup: WarmupMode;
  /** Requests in flight at once across all groups. */
  concurrency: number;
  /**
   * A fixed wait after a warm-up before relying on the cache, checks then at 1, 2, 3... times
   * it. Absent (the default), the waits come from the measured cache profile.
   */
  settleMs?: number;
  /** Sequential cache checks before fanning out anyway. */
  maxVerifications: number;
  /** The cache "served" a job when its hit tokens cover this share of the prefix. */
  minPrefixCover: number;
  /** `auto`: groups of at least this many jobs check the cache serves before fanning out. */
  verifyMinJobs: number;
  /** Stop starting jobs when less than this is left before the deadline. */
  stopMarginMs: number;
  /**
   * Share of the invocation's usable time a group's warm-up (probe and checks) may take; past
   * it the group fans out unverified, so a slow or failing provider cannot spend the whole
   * invocation warming and release every job with nothing done.
   */
  warmupShare: number;
  /**
   * Warm a long head shared by several groups once (prefix-tree.ts): two groups' first requests
   * build it, the others start once it is built. Applies where one run holds several groups.
   */
  shareRoots: boolean;
}

export const DEFAULT_EXECUTOR_OPTIONS: ExecutorOptions = {
  warmup: 'auto',
  concurrency: 32,
  maxVerifications: 4,
  minPrefixCover: 0.9,
  verifyMinJobs: 8,
  stopMarginMs: 30_000,
  warmupShare: 0.25,
  shareRoots: true,
};

/** Why a request was not started: the caller acts differently on each. */
export type NotStartedCause =
  /** The batch's own deadline passed: the job expires. */
  | 'batch_deadline'
  /** Too little of this invocation is left: the job runs on a later delivery. */
  | 'invocation_time'
  /** The caller stopped the batch (cancelled), or a call's error stops it (bad key, balance). */
  | 'stopped'
  /** The caller's `send` refused it (no budget, the attempt not recorded): nothing was sent. */
  | 'before_call';

export type JobOutcome =
  | {
      jobId: string;
      status: 'succeeded';
      response: LlmResponse;
      cacheServed: boolean;
      attemptId?: string;
    }
  | { jobId: string; status: 'failed'; error: Error; attemptId?: string }
  | {
      jobId: string;
      status: 'not_started';
      reason: string;
      cause: NotStartedCause;
      /** With cause `before_call`: why the caller's `send` did not send it. */
      error?: Error;
    };

export interface WarmupOutcome {
  prefixKey: string;
  response?: LlmResponse;
  error?: Error;
  attemptId?: string;
}

export interface GroupReport {
  prefixKey: string;
  warmup: WarmupMode;
  /** In `auto` mode: what was decided for this group, and why. */
  plan?: WarmupPlan;
  /** Billed warm-up (prefix-probe) requests; they belong in the ledger like any other. */
  warmups: WarmupOutcome[];
  /** True when a check (probe or job) saw the prefix served from the cache before fan-out. */
  cacheVerified: boolean;
  jobs: JobOutcome[];
}

/** One request the executor asks for: a job's (`jobId` set) or a warm-up's or check probe's. */
export interface ExecCall {
  jobId?: string;
  messages: ChatMessage[];
  maxTokens?: number;
  /** A warm-up or check: sent only to the level's own endpoint, never to a fallback. */
  purpose?: 'warmup';
}

/** What became of one call: the executor turns it into the outcome it reports. */
export type CallResult =
  | {
      status: 'answered';
      response: LlmResponse;
      /** Epoch ms the request went out and its answer came back (the cache profile's waits). */
      sentAt: number;
      answeredAt: number;
      attemptId?: string;
    }
  | { status: 'failed'; error: unknown; attemptId?: string }
  /** Nothing was sent (no budget, the attempt not recorded). */
  | { status: 'not_sent'; error: Error };

/**
 * Sends one call and says what became of it. The default sends the request as it is with `llm`;
 * the worker passes its own step (budget, attempt record, the provider, the ledger). A throw is
 * not an outcome: it ends the run.
 */
export type SendCall = (
  group: ExecGroup,
  call: ExecCall,
  request: LlmRequest,
  options: CallOptions,
) => Promise<CallResult>;

export interface ExecutorDeps {
  llm: LlmClient;
  /** Epoch ms. */
  now: () => number;
  /** Epoch ms by which every call must have settled (Lambda's remaining time). */
  deadline: number;
  /** Epoch ms after which no request is sent, not even a retry (the batch's own deadline). */
  startBy?: number;
  /** Sends each call, inside its concurrency slot; without it, `llm` is called directly. */
  send?: SendCall;
  logger?: Logger;
  /**
   * Asked before each request starts; a reason (e.g. the batch was cancelled) stops every group:
   * requests not yet started are handed back as not started with that reason.
   */
  checkStop?: () => Promise<string | undefined>;
  /**
   * The cache profile of a group's model and endpoint, which the executor reads and moves; the
   * caller loads and saves it. Without it, one profile per model lives for this call only.
   */
  profileFor?: (group: ExecGroup) => CacheProfile;
  /** Waits this long (default a timer); a test passes one that moves its clock. */
  sleep?: (ms: number) => Promise<void>;
}
