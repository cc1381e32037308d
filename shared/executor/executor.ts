import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { LlmRequest, LlmResponse } from '../llm/client';
import { planSharedRoots, RootGate } from './prefix-tree';
import { CacheProfile, emptyProfile } from './profile';
import type {
  CallResult,
  ExecCall,
  ExecGroup,
  ExecJob,
  ExecutorDeps,
  ExecutorOptions,
  GroupReport,
  JobOutcome,
  NotStartedCause,
  SendCall,
  WarmupOutcome,
} from './types';
import { DEFAULT_EXECUTOR_OPTIONS } from './types';
import { CACHE_UNIT_TOKENS, decideWarmup, type WarmupPlan } from './warmup';

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

export * from './types';

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

type Blocked = { reason: string; cause: NotStartedCause; error?: Error };

/** What the groups of one run share: the concurrency limit, the stop, the clock checks. */
function runSession(deps: ExecutorDeps, options: Partial<ExecutorOptions>) {
  const opts = { ...DEFAULT_EXECUTOR_OPTIONS, ...options };
  const ownProfiles = new Map<string, CacheProfile>();
  let stopReason: string | undefined;
  const timeLeft = () => deps.deadline - deps.now();
  const canStart = (): Blocked | undefined => {
    if (stopReason) return { reason: stopReason, cause: 'stopped' };
    if (deps.startBy !== undefined && deps.now() >= deps.startBy)
      return { reason: "the batch's deadline passed", cause: 'batch_deadline' };
    if (timeLeft() < opts.stopMarginMs)
      return { reason: 'not enough time left in this invocation', cause: 'invocation_time' };
    return undefined;
  };
  const direct: SendCall = async (_group, _call, request, callOptions) => {
    const sentAt = deps.now();
    try {
      const response = await deps.llm.complete(request, callOptions);
      return { status: 'answered', response, sentAt, answeredAt: deps.now() };
    } catch (error) {
      return { status: 'failed', error };
    }
  };
  return {
    deps,
    opts,
    /** Shared heads several groups of this run wait on (runGroups sets it). */
    roots: undefined as RootGate | undefined,
    limit: pLimit(opts.concurrency),
    wait: deps.sleep ?? ((ms: number) => sleep(ms)),
    timeLeft,
    canStart,
    profileOf(group: ExecGroup): CacheProfile {
      if (deps.profileFor) return deps.profileFor(group);
      let p = ownProfiles.get(group.model);
      if (!p) {
        p = new CacheProfile(emptyProfile(group.model, new Date(deps.now())));
        ownProfiles.set(group.model, p);
      }
      return p;
    },
    /** A failed call as an Error; one that stops the batch stops every group. */
    failure(err: unknown): Error {
      const error = err instanceof Error ? err : new Error(String(err));
      if (stopsBatch(err)) stopReason ??= `batch stopped: ${error.message}`;
      return error;
    },
    /** Why no new request may start now, if anything: asks the caller too. */
    async mayStart(): Promise<Blocked | undefined> {
      const blocked = canStart();
      if (blocked || !deps.checkStop) return blocked;
      const reason = await deps.checkStop();
      if (reason) stopReason ??= reason;
      return reason ? { reason, cause: 'stopped' } : undefined;
    },
    /** Sends one call of a group, with the invocation's deadline unless a shorter one is given. */
    send(group: ExecGroup, call: ExecCall, deadline = deps.deadline): Promise<CallResult> {
      const request: LlmRequest = {
        model: group.model,
        messages: call.messages,
        maxTokens: call.maxTokens,
        sensitivity: group.sensitivity,
        team: group.team,
        ...(call.purpose ? { purpose: call.purpose } : {}),
      };
      const callOptions = {
        deadline,
        ...(deps.startBy !== undefined ? { startBy: deps.startBy } : {}),
      };
      return (deps.send ?? direct)(group, call, request, callOptions);
    },
  };
}
type Session = ReturnType<typeof runSession>;

/** One group's run: its report, and what the warm-up learned so far. */
function groupRun(s: Session, group: ExecGroup) {
  const report: GroupReport = {
    prefixKey: group.prefixKey,
    warmup: s.opts.warmup,
    warmups: [],
    cacheVerified: false,
    jobs: [],
  };
  // The warm-up's share of the invocation: probes settle by then, checks stop by then.
  const warmupEnds = Math.floor(
    s.deps.now() +
      Math.max(0, s.timeLeft() - s.opts.stopMarginMs) * Math.min(1, s.opts.warmupShare),
  );
  const run = {
    group,
    report,
    /** Estimated until the probe measures it. */
    prefixTokens: group.prefixTokens,
    // Measured waits, unless a fixed settle time is given.
    profile: s.opts.settleMs === undefined ? s.profileOf(group) : undefined,
    /** When the warm-up's answer came back: what the cache's readiness is counted from. */
    warmedAt: undefined as number | undefined,
    warmupEnds,
    warmupLeft: () => warmupEnds - s.deps.now(),
    // Providers cache whole units (64 tokens in DeepSeek's older rule), so allow at least one
    // unit's shortfall besides the configured share.
    covered: (r: LlmResponse) =>
      r.usage.promptHitTokens >=
      run.prefixTokens -
        Math.max(CACHE_UNIT_TOKENS, run.prefixTokens * (1 - s.opts.minPrefixCover)),
  };
  return run;
}
type GroupRun = ReturnType<typeof groupRun>;

/** Runs one job in a slot; returns its outcome (also recorded in the report). */
function runJob(s: Session, run: GroupRun, job: ExecJob): Promise<JobOutcome> {
  return s.limit(async () => {
    const blocked = await s.mayStart();
    const sent = blocked ? undefined : await s.send(run.group, job);
    let outcome: JobOutcome;
    if (!sent) outcome = { jobId: job.jobId, status: 'not_started', ...(blocked as Blocked) };
    else if (sent.status === 'not_sent')
      outcome = {
        jobId: job.jobId,
        status: 'not_started',
        reason: sent.error.message,
        cause: 'before_call',
        error: sent.error,
      };
    else if (sent.status === 'failed')
      outcome = {
        jobId: job.jobId,
        status: 'failed',
        error: s.failure(sent.error),
        ...(sent.attemptId ? { attemptId: sent.attemptId } : {}),
      };
    else {
      const { response } = sent;
      if (run.profile && run.warmedAt !== undefined && run.prefixTokens >= CACHE_UNIT_TOKENS)
        run.profile.observeAnswer(
          sent.sentAt - run.warmedAt,
          run.covered(response),
          run.report.cacheVerified,
          new Date(sent.answeredAt),
        );
      outcome = {
        jobId: job.jobId,
        status: 'succeeded',
        response,
        cacheServed: run.covered(response),
        ...(sent.attemptId ? { attemptId: sent.attemptId } : {}),
      };
    }
    run.report.jobs.push(outcome);
    s.roots?.settled(run.group.prefixKey, outcome.status === 'succeeded');
    return outcome;
  });
}

/** Sends the group's shared prefix alone (a warm-up or a check); nothing when it may not start. */
function probe(s: Session, run: GroupRun): Promise<WarmupOutcome | undefined> {
  return s.limit(async () => {
    if (await s.mayStart()) return undefined;
    if (run.warmupLeft() <= 0) return undefined;
    const call: ExecCall = { messages: run.group.prefixMessages, maxTokens: 1, purpose: 'warmup' };
    const sent = await s.send(run.group, call, Math.min(s.deps.deadline, run.warmupEnds));
    if (sent.status === 'not_sent') return undefined;
    const outcome: WarmupOutcome = {
      prefixKey: run.group.prefixKey,
      ...(sent.attemptId ? { attemptId: sent.attemptId } : {}),
    };
    if (sent.status === 'answered') {
      outcome.response = sent.response;
      run.profile?.observeProbeLatency(sent.answeredAt - sent.sentAt);
      run.prefixTokens = sent.response.usage.promptHitTokens + sent.response.usage.promptMissTokens;
    } else outcome.error = s.failure(sent.error);
    run.report.warmups.push(outcome);
    s.roots?.settled(run.group.prefixKey, outcome.response !== undefined);
    return outcome;
  });
}

/**
 * Warms the prefix and checks that the cache serves it before fanning out: with prefix-probe,
 * by probing the prefix again (one short request at the hit price, instead of a whole job run
 * alone); with first-job, by running the next job alone (useful work; a miss costs one job).
 * Jobs it runs leave `queue`.
 */
async function warmAndCheck(
  s: Session,
  run: GroupRun,
  queue: ExecJob[],
  mode: 'prefix-probe' | 'first-job',
  plan: WarmupPlan | undefined,
): Promise<void> {
  const { profile, report } = run;
  // A group warmed without a check still waits for the provider to build its cache; so does
  // one whose provider misses warm prefixes so often that a check tells nothing.
  const checks =
    (plan?.mode === 'prefix-probe' && !plan.verify) || (profile && !profile.checkWorthIt())
      ? 0
      : s.opts.maxVerifications;
  // Waits after the warm-up (cumulative) at which to check: from the profile, or 1, 1+2,
  // 1+2+3... times a fixed settle time.
  const schedule = profile
    ? profile.checkSchedule(checks)
    : Array.from({ length: checks }, (_, i) => ((s.opts.settleMs ?? 0) * ((i + 1) * (i + 2))) / 2);
  let warmed = false;
  if (mode === 'prefix-probe') warmed = (await probe(s, run))?.response !== undefined;
  else {
    const first = queue.shift();
    if (first) warmed = (await runJob(s, run, first)).status === 'succeeded';
  }
  if (warmed) run.warmedAt = s.deps.now();
  let lastCheckAt: number | undefined;
  if (warmed && checks === 0 && !s.canStart()) await settleCache(s, run);
  for (let i = 0; warmed && i < checks && queue.length > 1; i++) {
    if (s.canStart() || run.warmupLeft() <= 0) break;
    const due = (run.warmedAt ?? s.deps.now()) + (schedule[i] ?? 0);
    await s.wait(Math.min(Math.max(0, due - s.deps.now()), Math.max(0, run.warmupLeft())));
    lastCheckAt = s.deps.now();
    const waited = lastCheckAt - (run.warmedAt ?? lastCheckAt);
    if (mode === 'prefix-probe') {
      const check = await probe(s, run);
      if (!check?.response) break;
      const served = run.covered(check.response);
      profile?.observeCheck(waited, served, new Date(s.deps.now()));
      if (served) {
        report.cacheVerified = true;
        break;
      }
      continue;
    }
    const next = queue.shift();
    if (!next) break;
    const outcome = await runJob(s, run, next);
    if (outcome.status === 'succeeded')
      profile?.observeCheck(waited, outcome.cacheServed, new Date(s.deps.now()));
    if (outcome.status === 'succeeded' && outcome.cacheServed) {
      report.cacheVerified = true;
      break;
    }
    if (outcome.status === 'failed') break;
  }
  if (profile && warmed && !report.cacheVerified && lastCheckAt !== undefined)
    profile.observeNeverServed(lastCheckAt - (run.warmedAt ?? lastCheckAt), new Date(s.deps.now()));
  s.deps.logger?.info('group warmed', {
    prefixKey: run.group.prefixKey,
    warmup: mode,
    cacheVerified: report.cacheVerified,
    prefixTokens: run.prefixTokens,
    jobs: run.group.jobs.length,
    ...(plan ? { decision: plan.reason } : {}),
  });
}

/** Gives the provider time to build its cache, within the warm-up's share. */
function settleCache(s: Session, run: GroupRun): Promise<void> {
  const settleFor = run.profile?.settleMs() ?? s.opts.settleMs ?? 0;
  return s.wait(Math.min(settleFor, Math.max(0, run.warmupLeft())));
}

/** Runs one group in a session: warm-up as decided, then every job. */
async function runIn(s: Session, group: ExecGroup): Promise<GroupReport> {
  const run = groupRun(s, group);
  const queue = [...group.jobs];
  const plan =
    s.opts.warmup === 'auto'
      ? decideWarmup({
          jobs: queue.length + (group.laterJobs ?? 0),
          prefixTokens: group.prefixTokens,
          ...(group.prices ? { prices: group.prices } : {}),
          verifyMinJobs: s.opts.verifyMinJobs,
        })
      : undefined;
  if (plan) run.report.plan = plan;
  const mode = plan ? plan.mode : s.opts.warmup;
  if (mode === 'first-alone' && queue.length > 1) {
    const first = queue.shift();
    if (first && (await runJob(s, run, first)).status === 'succeeded' && !s.canStart()) {
      run.warmedAt = s.deps.now();
      await settleCache(s, run);
    }
  } else if (
    (mode === 'prefix-probe' || mode === 'first-job') &&
    (queue.length > 1 || (plan !== undefined && queue.length > 0))
  )
    await warmAndCheck(s, run, queue, mode, plan);
  await Promise.all(queue.map((job) => runJob(s, run, job)));
  return run.report;
}

/** Runs one prefix group (a work message's jobs) and reports what became of every call. */
export function runGroup(
  group: ExecGroup,
  deps: ExecutorDeps,
  options: Partial<ExecutorOptions> = {},
): Promise<GroupReport> {
  return runIn(runSession(deps, options), group);
}

/**
 * Runs several groups under one concurrency limit (the cache benchmark's many groups at once);
 * an error that stops the batch stops them all.
 */
export async function runGroups(
  groups: readonly ExecGroup[],
  deps: ExecutorDeps,
  options: Partial<ExecutorOptions> = {},
): Promise<GroupReport[]> {
  const s = runSession(deps, options);
  if (s.opts.shareRoots) s.roots = new RootGate(planSharedRoots(groups), deps.now);
  // Start longest prefixes first so their warm-ups take the first slots; report in the
  // caller's order.
  const order = groups
    .map((g, i) => ({ g, i }))
    .sort((a, b) => b.g.prefixTokens - a.g.prefixTokens);
  const reports: GroupReport[] = new Array(groups.length);
  await Promise.all(
    order.map(async ({ g, i }) => {
      // A group under a shared root starts once the root's builders have built it.
      await s.roots?.ready(
        g.prefixKey,
        () => s.opts.settleMs ?? s.profileOf(g).settleMs(),
        s.wait,
        Math.max(0, s.timeLeft() - s.opts.stopMarginMs) * s.opts.warmupShare,
      );
      try {
        reports[i] = await runIn(s, g);
      } finally {
        s.roots?.settled(g.prefixKey, false);
      }
    }),
  );
  return reports;
}
