/**
 * The cache benchmark's runs: a naive loop (shuffled or in path order) and the executor, each
 * over one simulator, with what they were billed; and the check that the responses and the
 * simulator agree on it.
 */
import pLimit from 'p-limit';
import type { SimUsageReport } from '../../local/sim/server';
import { type ExecGroup, type ExecutorOptions, runGroups } from '../../shared/executor/executor';
import { CacheProfile, type CacheProfileData } from '../../shared/executor/profile';
import type { LlmClient, LlmResponse } from '../../shared/llm';
import type { Usage } from '../../shared/types';
import type { Tally } from './metrics';
import { seededRandom, shuffled, type Workload } from './workload';

export interface RunOutcome {
  usages: Usage[];
  warmupRequests: number;
  wastedProbes: number;
  learnedSettleMs?: number;
  /** The warm-up requests' usage, also in `usages`. */
  warmupUsages: Usage[];
  jobsSucceeded: number;
  jobsFailed: number;
  /** Prompt tokens each succeeded job was billed, by job id, to check the workload's counts. */
  promptByJob: Map<string, number>;
  outputByJob: Map<string, number>;
}

function billed(response: LlmResponse): Usage[] {
  return [...response.discarded.map((d) => d.usage), response.usage];
}

function emptyOutcome(): RunOutcome {
  return {
    usages: [],
    warmupRequests: 0,
    wastedProbes: 0,
    warmupUsages: [],
    jobsSucceeded: 0,
    jobsFailed: 0,
    promptByJob: new Map(),
    outputByJob: new Map(),
  };
}

function recordSucceeded(out: RunOutcome, jobId: string, response: LlmResponse): void {
  out.usages.push(...billed(response));
  out.jobsSucceeded++;
  out.promptByJob.set(jobId, response.usage.promptHitTokens + response.usage.promptMissTokens);
  out.outputByJob.set(jobId, response.usage.completionTokens);
}

/**
 * What a user's loop does: every job of every group, all submitted at once under the concurrency
 * limit, shuffled with the seed or (with `seed` undefined) in the order given.
 */
export async function runNaive(
  groups: readonly ExecGroup[],
  llm: LlmClient,
  concurrency: number,
  seed: number | undefined,
): Promise<RunOutcome> {
  const all = groups.flatMap((group) => group.jobs.map((job) => ({ group, job })));
  const jobs = seed === undefined ? all : shuffled(all, seededRandom(seed));
  const limit = pLimit(concurrency);
  const out = emptyOutcome();
  const deadline = Date.now() + 3_600_000;
  await Promise.all(
    jobs.map(({ group, job }) =>
      limit(async () => {
        try {
          const response = await llm.complete(
            {
              model: group.model,
              messages: job.messages,
              maxTokens: job.maxTokens,
              sensitivity: group.sensitivity,
              team: group.team,
            },
            { deadline },
          );
          recordSucceeded(out, job.jobId, response);
        } catch {
          out.jobsFailed++;
        }
      }),
    ),
  );
  return out;
}

export async function runExecutor(
  groups: readonly ExecGroup[],
  llm: LlmClient,
  options: Partial<ExecutorOptions>,
  start: CacheProfileData,
): Promise<RunOutcome> {
  // One profile for the run, as a worker keeps one per model and endpoint.
  const profile = new CacheProfile(start);
  const reports = await runGroups(
    groups,
    { llm, now: Date.now, deadline: Date.now() + 3_600_000, profileFor: () => profile },
    options,
  );
  const out = emptyOutcome();
  out.wastedProbes = profile.data.wastedProbes;
  out.learnedSettleMs = profile.settleMs();
  for (const report of reports) {
    for (const warmup of report.warmups) {
      if (!warmup.response) continue;
      out.warmupRequests++;
      out.usages.push(...billed(warmup.response));
      out.warmupUsages.push(...billed(warmup.response));
    }
    for (const job of report.jobs) {
      if (job.status === 'succeeded') recordSucceeded(out, job.jobId, job.response);
      else out.jobsFailed++;
    }
  }
  return out;
}

/** The executor's groups re-cut into one job per group, in the order of the jobs' paths. */
export function sortedByPath(workload: Workload, groups: readonly ExecGroup[]): ExecGroup[] {
  const groupOf = new Map<string, ExecGroup>();
  for (const g of groups) for (const j of g.jobs) groupOf.set(j.jobId, g);
  return workload.groups
    .flatMap((g) => g.jobs)
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((job) => {
      const group = groupOf.get(job.jobId) as ExecGroup;
      const exec = group.jobs.find((j) => j.jobId === job.jobId) as ExecGroup['jobs'][number];
      return { ...group, jobs: [exec] };
    });
}

/** The responses' totals and the simulator's own report disagree: a billing bug, not a figure. */
export class UsageMismatchError extends Error {
  override name = 'UsageMismatchError';
}

export function crossCheck(t: Tally, sim: SimUsageReport, what: string): void {
  const s = sim.totals;
  if (
    s.requests !== t.requests ||
    s.hitTokens !== t.hitTokens ||
    s.missTokens !== t.missTokens ||
    s.outputTokens !== t.outputTokens
  )
    throw new UsageMismatchError(
      `${what}: responses say ${t.requests} requests, ${t.hitTokens} hit, ${t.missTokens} miss, ${t.outputTokens} output tokens; the simulator billed ${s.requests}, ${s.hitTokens}, ${s.missTokens}, ${s.outputTokens}`,
    );
}
