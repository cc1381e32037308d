import type { PlannableJob } from './types';

/** Jobs of one prefix key, in the order they should run. */
export interface JobGroup<T extends PlannableJob> {
  prefixKey: string;
  /** The model of the group's first job. */
  model: string;
  /** The largest prefix estimate among the group's jobs (they share one prefix). */
  prefixTokens: number;
  jobs: T[];
}

// Code-unit order, not localeCompare: it is locale-independent and several times faster, and
// only adjacency of shared prefixes matters here.
function compareStrings(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/**
 * Order of jobs inside a group: by sortKey, so jobs sharing longer prefixes run together
 * (radix / longest-shared-prefix order), then by jobId so that equal sort keys stay deterministic.
 */
export function compareJobs(a: PlannableJob, b: PlannableJob): number {
  return compareStrings(a.sortKey, b.sortKey) || compareStrings(a.jobId, b.jobId);
}

/**
 * Order of groups: longest prefix first (it saves the most once warm), then the larger group,
 * then the prefix key, so that the order never depends on input order.
 */
export function compareGroups<T extends PlannableJob>(a: JobGroup<T>, b: JobGroup<T>): number {
  return (
    b.prefixTokens - a.prefixTokens ||
    b.jobs.length - a.jobs.length ||
    compareStrings(a.prefixKey, b.prefixKey)
  );
}

/** Builds a group from jobs that share a prefix key; sorts `jobs` in place. */
export function makeGroup<T extends PlannableJob>(prefixKey: string, jobs: T[]): JobGroup<T> {
  jobs.sort(compareJobs);
  let prefixTokens = 0;
  for (const job of jobs) if (job.prefixTokens > prefixTokens) prefixTokens = job.prefixTokens;
  return { prefixKey, model: jobs[0]?.model ?? '', prefixTokens, jobs };
}

/**
 * Groups jobs by prefix key, orders the jobs inside each group (`compareJobs`) and the groups
 * (`compareGroups`). Expects unique jobIds (`planBatch` rejects duplicates before grouping) and
 * does not check that a group's jobs agree on the model; `planBatch` does.
 */
export function groupJobs<T extends PlannableJob>(jobs: readonly T[]): JobGroup<T>[] {
  const byKey = new Map<string, T[]>();
  for (const job of jobs) {
    const members = byKey.get(job.prefixKey);
    if (members) members.push(job);
    else byKey.set(job.prefixKey, [job]);
  }
  const groups: JobGroup<T>[] = [];
  for (const [prefixKey, members] of byKey) groups.push(makeGroup(prefixKey, members));
  return groups.sort(compareGroups);
}

/** Sorts rejections by jobId then reason, so they do not depend on input order. */
export function compareRejections(
  a: { jobId: string; reason: string },
  b: { jobId: string; reason: string },
): number {
  return compareStrings(a.jobId, b.jobId) || compareStrings(a.reason, b.reason);
}

export { compareStrings };
