import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { WarmupMode } from '../grouping/types';
import type { LlmClient, LlmRequest, LlmResponse } from '../llm/client';
import type { Logger } from '../ports/logger';
import type { ChatMessage, Sensitivity } from '../types';
import { CacheProfile, emptyProfile } from './profile';
import { CACHE_UNIT_TOKENS, decideWarmup, type GroupPrices, type WarmupPlan } from './warmup';

/**
 * Cache-aware execution of prefix groups (DESIGN.md "Warm-up protocol").
 *
 * Per group: warm the shared prefix and wait for it, give the provider time to build its cache,
 * check that the cache serves the prefix (a second prefix probe, or the next job in first-job
 * mode; re-checked a bounded number of times), then fan the rest out. In `auto` mode (the
 * default) the expected saving decides per group (warmup.ts): a group of one is just run, a
 * small group is warmed without the check, a group whose probe would not pay runs its first
 * job alone and then the rest. All groups share one concurrency limit; groups are started
 * longest prefix first, so their warm-ups take the first slots and run side by side.
 *
 * How long to wait for the cache is not a constant: it comes from the provider's measured cache
 * profile (profile.ts), per model and endpoint, which every check probe and every answer moves.
 * A fixed `settleMs` overrides it (tests, and runs against a provider with no delay at all).
 */

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
}

export const DEFAULT_EXECUTOR_OPTIONS: ExecutorOptions = {
  warmup: 'auto',
  concurrency: 32,
  maxVerifications: 4,
  minPrefixCover: 0.9,
  verifyMinJobs: 8,
  stopMarginMs: 30_000,
  warmupShare: 0.25,
};

/** Why a request was not started: the caller acts differently on each. */
export type NotStartedCause =
  /** The batch's own deadline passed: the job expires. */
  | 'batch_deadline'
  /** Too little of this invocation is left: the job runs on a later delivery. */
  | 'invocation_time'
  /** The caller stopped the batch (cancelled), or a call's error stops it (bad key, balance). */
  | 'stopped'
  /** `beforeCall` refused or failed (no budget, the attempt not recorded): nothing was sent. */
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
      /** With cause `before_call`: what `beforeCall` threw. */
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

export interface ExecutorDeps {
  llm: LlmClient;
  /** Epoch ms. */
  now: () => number;
  /** Epoch ms by which every call must have settled (Lambda's remaining time). */
  deadline: number;
  /** Epoch ms after which no request is sent, not even a retry (the batch's own deadline). */
  startBy?: number;
  /**
   * Awaited before each request is sent (a job's, or with `jobId` undefined a warm-up's); the
   * id it returns travels with the outcome. A throw means the request is not sent.
   */
  beforeCall?: (
    group: ExecGroup,
    call: { jobId?: string; messages: ChatMessage[]; maxTokens?: number },
  ) => Promise<string | undefined>;
  logger?: Logger;
  /** Awaited after each job settles, inside its concurrency slot (e.g. to persist the output). */
  onJobSettled?: (group: ExecGroup, outcome: JobOutcome) => Promise<void>;
  /**
   * Asked before each request starts; a reason (e.g. the batch was cancelled) stops every group:
   * requests not yet started are handed back as not started with that reason.
   */
  checkStop?: () => Promise<string | undefined>;
  /** Awaited after each warm-up settles. */
  onWarmupSettled?: (group: ExecGroup, outcome: WarmupOutcome) => Promise<void>;
  /**
   * The cache profile of a group's model and endpoint, which the executor reads and moves; the
   * caller loads and saves it. Without it, one profile per model lives for this call only.
   */
  profileFor?: (group: ExecGroup) => CacheProfile;
  /** Waits this long (default a timer); a test passes one that moves its clock. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * An error that makes further calls pointless for the whole batch (bad key, no balance). Read
 * from LlmError's `stopsBatch` field rather than by `instanceof`: the executor knows the client
 * only by its interface (a type-only import), so any LlmClient, a test's fake included, can flag it.
 */
function stopsBatch(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && (err as { stopsBatch?: unknown }).stopsBatch === true
  );
}

/** Runs planned groups under one concurrency limit and reports every job's outcome. */
export async function runGroups(
  groups: readonly ExecGroup[],
  deps: ExecutorDeps,
  options: Partial<ExecutorOptions> = {},
): Promise<GroupReport[]> {
  const opts = { ...DEFAULT_EXECUTOR_OPTIONS, ...options };
  const limit = pLimit(opts.concurrency);
  const wait = deps.sleep ?? ((ms: number) => sleep(ms));
  const ownProfiles = new Map<string, CacheProfile>();
  const profileOf = (group: ExecGroup): CacheProfile => {
    if (deps.profileFor) return deps.profileFor(group);
    let p = ownProfiles.get(group.model);
    if (!p) {
      p = new CacheProfile(emptyProfile(group.model, new Date(deps.now())));
      ownProfiles.set(group.model, p);
    }
    return p;
  };
  let stopReason: string | undefined;
  type Blocked = { reason: string; cause: NotStartedCause; error?: Error };

  const timeLeft = () => deps.deadline - deps.now();
  const canStart = (): Blocked | undefined => {
    if (stopReason) return { reason: stopReason, cause: 'stopped' };
    if (deps.startBy !== undefined && deps.now() >= deps.startBy)
      return { reason: "the batch's deadline passed", cause: 'batch_deadline' };
    if (timeLeft() < opts.stopMarginMs)
      return { reason: 'not enough time left in this invocation', cause: 'invocation_time' };
    return undefined;
  };
  /** A failed call as an Error; one that stops the batch stops every group. */
  const failure = (err: unknown): Error => {
    const error = err instanceof Error ? err : new Error(String(err));
    if (stopsBatch(err)) stopReason ??= `batch stopped: ${error.message}`;
    return error;
  };
  /** Why no new request may start now, if anything: asks the caller too. */
  const mayStart = async (): Promise<Blocked | undefined> => {
    const blocked = canStart();
    if (blocked || !deps.checkStop) return blocked;
    const reason = await deps.checkStop();
    if (reason) stopReason ??= reason;
    return reason ? { reason, cause: 'stopped' } : undefined;
  };
  const callOptions = (deadline = deps.deadline) => ({
    deadline,
    ...(deps.startBy !== undefined ? { startBy: deps.startBy } : {}),
  });
  /** The id `beforeCall` returns, or the reason the request must not be sent. */
  const before = async (
    group: ExecGroup,
    call: { jobId?: string; messages: ChatMessage[]; maxTokens?: number },
  ): Promise<{ attemptId?: string } | { blocked: Blocked }> => {
    if (!deps.beforeCall) return {};
    try {
      const attemptId = await deps.beforeCall(group, call);
      return attemptId === undefined ? {} : { attemptId };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      return { blocked: { reason: error.message, cause: 'before_call', error } };
    }
  };

  const request = (
    group: ExecGroup,
    messages: ChatMessage[],
    maxTokens?: number,
    purpose?: 'warmup',
  ): LlmRequest => ({
    model: group.model,
    messages,
    maxTokens,
    sensitivity: group.sensitivity,
    team: group.team,
    ...(purpose ? { purpose } : {}),
  });

  const runGroup = async (group: ExecGroup): Promise<GroupReport> => {
    const report: GroupReport = {
      prefixKey: group.prefixKey,
      warmup: opts.warmup,
      warmups: [],
      cacheVerified: false,
      jobs: [],
    };
    let prefixTokens = group.prefixTokens;
    // Measured waits, unless a fixed settle time is given.
    const profile = opts.settleMs === undefined ? profileOf(group) : undefined;
    /** When the warm-up's answer came back: what the cache's readiness is counted from. */
    let warmedAt: number | undefined;
    // Providers cache whole units (64 tokens in DeepSeek's older rule), so allow at least one
    // unit's shortfall besides the configured share.
    const covered = (r: LlmResponse) =>
      r.usage.promptHitTokens >=
      prefixTokens - Math.max(CACHE_UNIT_TOKENS, prefixTokens * (1 - opts.minPrefixCover));

    /** Runs one job in a slot; returns its outcome (also recorded in the report). */
    const runJob = (job: ExecJob): Promise<JobOutcome> =>
      limit(async () => {
        const blocked = await mayStart();
        const ticket = blocked ? { blocked } : await before(group, job);
        let outcome: JobOutcome;
        if ('blocked' in ticket) {
          outcome = { jobId: job.jobId, status: 'not_started', ...ticket.blocked };
        } else {
          try {
            const sentAt = deps.now();
            const response = await deps.llm.complete(
              request(group, job.messages, job.maxTokens),
              callOptions(),
            );
            if (profile && warmedAt !== undefined && prefixTokens >= CACHE_UNIT_TOKENS)
              profile.observeAnswer(
                sentAt - warmedAt,
                covered(response),
                report.cacheVerified,
                new Date(deps.now()),
              );
            outcome = {
              jobId: job.jobId,
              status: 'succeeded',
              response,
              cacheServed: covered(response),
              ...ticket,
            };
          } catch (err) {
            outcome = { jobId: job.jobId, status: 'failed', error: failure(err), ...ticket };
          }
        }
        report.jobs.push(outcome);
        await deps.onJobSettled?.(group, outcome);
        return outcome;
      });

    // The warm-up's share of the invocation: probes settle by then, checks stop by then.
    const warmupEnds = Math.floor(
      deps.now() + Math.max(0, timeLeft() - opts.stopMarginMs) * Math.min(1, opts.warmupShare),
    );
    const warmupLeft = () => warmupEnds - deps.now();

    const probe = () =>
      limit(async () => {
        if (await mayStart()) return undefined;
        if (warmupLeft() <= 0) return undefined;
        const ticket = await before(group, { messages: group.prefixMessages, maxTokens: 1 });
        if ('blocked' in ticket) return undefined;
        const outcome: WarmupOutcome = { prefixKey: group.prefixKey, ...ticket };
        try {
          const sentAt = deps.now();
          outcome.response = await deps.llm.complete(
            request(group, group.prefixMessages, 1, 'warmup'),
            callOptions(Math.min(deps.deadline, warmupEnds)),
          );
          profile?.observeProbeLatency(deps.now() - sentAt);
          prefixTokens =
            outcome.response.usage.promptHitTokens + outcome.response.usage.promptMissTokens;
        } catch (err) {
          outcome.error = failure(err);
        }
        report.warmups.push(outcome);
        await deps.onWarmupSettled?.(group, outcome);
        return outcome;
      });

    const queue = [...group.jobs];
    const plan =
      opts.warmup === 'auto'
        ? decideWarmup({
            jobs: queue.length + (group.laterJobs ?? 0),
            prefixTokens: group.prefixTokens,
            ...(group.prices ? { prices: group.prices } : {}),
            verifyMinJobs: opts.verifyMinJobs,
          })
        : undefined;
    if (plan) report.plan = plan;
    const mode = plan ? plan.mode : opts.warmup;
    // A group warmed without a check still waits for the provider to build its cache; so does
    // one whose provider misses warm prefixes so often that a check tells nothing.
    const checks =
      (plan?.mode === 'prefix-probe' && !plan.verify) || (profile && !profile.checkWorthIt())
        ? 0
        : opts.maxVerifications;
    const settleFor = () => profile?.settleMs() ?? opts.settleMs ?? 0;
    const settle = () => wait(Math.min(settleFor(), Math.max(0, warmupLeft())));
    // Waits after the warm-up (cumulative) at which to check: from the profile, or 1, 1+2,
    // 1+2+3... times a fixed settle time.
    const schedule = profile
      ? profile.checkSchedule(checks)
      : Array.from({ length: checks }, (_, i) => ((opts.settleMs ?? 0) * ((i + 1) * (i + 2))) / 2);
    if (mode === 'first-alone' && queue.length > 1) {
      const first = queue.shift();
      if (first && (await runJob(first)).status === 'succeeded' && !canStart()) {
        warmedAt = deps.now();
        await settle();
      }
    } else if (
      (mode === 'prefix-probe' || mode === 'first-job') &&
      (queue.length > 1 || (plan !== undefined && queue.length > 0))
    ) {
      let warmed = false;
      if (mode === 'prefix-probe') {
        const outcome = await probe();
        warmed = outcome?.response !== undefined;
      } else {
        const first = queue.shift();
        if (first) warmed = (await runJob(first)).status === 'succeeded';
      }
      if (warmed) warmedAt = deps.now();
      let lastCheckAt: number | undefined;
      if (warmed && checks === 0 && !canStart()) await settle();
      // Check that the cache serves the prefix before fanning out: with prefix-probe, by probing
      // the prefix again (one short request at the hit price, instead of a whole job run alone);
      // with first-job, by running the next job alone (useful work; a miss costs one job).
      for (let i = 0; warmed && i < checks && queue.length > 1; i++) {
        if (canStart() || warmupLeft() <= 0) break;
        const due = (warmedAt ?? deps.now()) + (schedule[i] ?? 0);
        await wait(Math.min(Math.max(0, due - deps.now()), Math.max(0, warmupLeft())));
        lastCheckAt = deps.now();
        const waited = lastCheckAt - (warmedAt ?? lastCheckAt);
        if (mode === 'prefix-probe') {
          const check = await probe();
          if (!check?.response) break;
          const served = covered(check.response);
          profile?.observeCheck(waited, served, new Date(deps.now()));
          if (served) {
            report.cacheVerified = true;
            break;
          }
          continue;
        }
        const next = queue.shift();
        if (!next) break;
        const outcome = await runJob(next);
        if (outcome.status === 'succeeded')
          profile?.observeCheck(waited, outcome.cacheServed, new Date(deps.now()));
        if (outcome.status === 'succeeded' && outcome.cacheServed) {
          report.cacheVerified = true;
          break;
        }
        if (outcome.status === 'failed') break;
      }
      if (
        profile &&
        warmed &&
        !report.cacheVerified &&
        lastCheckAt !== undefined &&
        warmedAt !== undefined
      )
        profile.observeNeverServed(lastCheckAt - warmedAt, new Date(deps.now()));
      deps.logger?.info('group warmed', {
        prefixKey: group.prefixKey,
        warmup: mode,
        cacheVerified: report.cacheVerified,
        prefixTokens,
        jobs: group.jobs.length,
        ...(plan ? { decision: plan.reason } : {}),
      });
    }
    await Promise.all(queue.map(runJob));
    return report;
  };

  // Start longest prefixes first so their warm-ups take the first slots; report in the
  // caller's order.
  const order = groups
    .map((g, i) => ({ g, i }))
    .sort((a, b) => b.g.prefixTokens - a.g.prefixTokens);
  const reports: GroupReport[] = new Array(groups.length);
  await Promise.all(
    order.map(async ({ g, i }) => {
      reports[i] = await runGroup(g);
    }),
  );
  return reports;
}
