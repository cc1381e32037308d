/**
 * Invariants a finished batch holds, checked the same way on the emulated pipeline
 * (test/pipeline/support.ts) and on the fakes (test/support/fake-pipeline.ts).
 */
import { expect } from 'vitest';
import type { SimHandle } from '../../local/sim/server';
import type { ResultsSummary } from '../../shared/pipeline/finalize';
import type { JobsStore } from '../../shared/ports/jobs';
import type { LedgerStore, Rollup } from '../../shared/ports/ledger';
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

/** What the money checks read of a pipeline under test: its ledger, clock and simulator. */
export interface BillReader {
  deps: { ledger: Pick<LedgerStore, 'rollups'>; clock: { now(): Date } };
  sim: Pick<SimHandle, 'usage'>;
}

/** The month (`YYYY-MM`) the pipeline's clock is in: the month its costs are booked to. */
export const monthOf = (h: Pick<BillReader, 'deps'>) =>
  h.deps.clock.now().toISOString().slice(0, 7);

/** Ledger roll-ups of the pipeline clock's month, summed over teams. */
export async function ledgerTotals(h: Pick<BillReader, 'deps'>) {
  const rollups = await h.deps.ledger.rollups(monthOf(h));
  const sum = (f: keyof Rollup) => rollups.reduce((n, r) => n + (r[f] as number), 0);
  return {
    requests: sum('requests'),
    hitTokens: sum('hitTokens'),
    missTokens: sum('missTokens'),
    outputTokens: sum('outputTokens'),
    costNanoUsd: sum('costNanoUsd'),
  };
}

/** What the simulator billed since its last reset, in the ledger's terms. */
export function simTotals(h: Pick<BillReader, 'sim'>) {
  const t = h.sim.usage().totals;
  return {
    requests: t.requests,
    hitTokens: t.hitTokens,
    missTokens: t.missTokens,
    outputTokens: t.outputTokens,
    costNanoUsd: t.costNanoUsd,
  };
}
