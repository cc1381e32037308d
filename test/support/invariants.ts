/**
 * Invariants a finished batch holds, checked the same way on the emulated pipeline
 * (test/pipeline/support.ts) and on the fakes (test/support/fake-pipeline.ts).
 */
import { expect } from 'vitest';
import type { ResultsSummary } from '../../shared/pipeline/finalize';
import type { JobsStore } from '../../shared/ports/jobs';
import { type BatchRef, JOB_STATES, type JobState, TERMINAL_STATES } from '../../shared/types';

/** What the checks read of a pipeline under test. */
export interface BatchReader<B> {
  deps: { jobs: Pick<JobsStore, 'listJobs'> };
  ref(batch: B): BatchRef;
}

/** Jobs per state in the jobs table. */
export async function statesInTable<B>(h: BatchReader<B>, batch: B) {
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
  for (const job of await h.deps.jobs.listJobs(h.ref(batch))) counts[job.state]++;
  return counts;
}

/**
 * Invariant 1 for a finished batch: each of `inputs` has one job, every job is in a terminal
 * state in the jobs table, and summary.json counts the same states.
 */
export async function expectOneTerminalStateEach<B>(
  h: BatchReader<B>,
  batch: B,
  inputs: number,
  summary: ResultsSummary,
): Promise<void> {
  const jobs = await h.deps.jobs.listJobs(h.ref(batch));
  expect(jobs).toHaveLength(inputs);
  expect(new Set(jobs.map((j) => j.path)).size).toBe(inputs);
  for (const job of jobs) expect(TERMINAL_STATES).toContain(job.state);
  expect(summary.jobs).toBe(inputs);
  expect(summary.states).toEqual(await statesInTable(h, batch));
  const ended = TERMINAL_STATES.reduce((n, s) => n + summary.states[s], 0);
  expect(ended).toBe(inputs);
}
