import { describe, expect, it } from 'vitest';
import {
  expectOneTerminalStateEach,
  ledgerTotals,
  monthOf,
  simTotals,
  submit,
  useFakePipeline,
  waitForDone,
} from '../support/fake-pipeline';
import { filesFor, manifestFor } from './support';

// One request at a time, so the test knows which call died. A dead invocation never gives its
// message back: the in-memory queue delivers it again once the dead owner's lease ran out, and
// its job is claimed again by another owner.
const h = useFakePipeline({ settings: { executor: { concurrency: 1 }, leaseMs: 8_000 } });

/** True for a job's request (not a warm-up probe, which asks for one token). */
const isJob = (maxTokens: number | undefined) => maxTokens !== 1;

describe('a worker that dies between the answer and the ledger', () => {
  it('is accounted for: its billed call becomes a marked estimate, the job runs again once', async () => {
    // Prepare: the third job's answer is billed, then its worker never does anything again
    const files = filesFor(5);
    let jobCalls = 0;
    let crashedCost = 0;
    h.scriptLlm(async (request, real) => {
      if (!isJob(request.maxTokens) || ++jobCalls !== 3) return real();
      const before = h.sim.usage().totals.costNanoUsd;
      await real();
      crashedCost = h.sim.usage().totals.costNanoUsd - before;
      return h.die();
    });

    // Act
    const ref = await submit(h, manifestFor('crash-1', 'ops', Object.keys(files)), files);
    const summary = await waitForDone(h, ref);

    // Assess: every job succeeded once; the ledger holds every call, one of them estimated
    expect(crashedCost).toBeGreaterThan(0);
    expect(summary.states.succeeded).toBe(5);
    await expectOneTerminalStateEach(h, ref, 5, summary);
    const sim = simTotals(h);
    const ledger = await ledgerTotals(h);
    const records = (await h.deps.ledger.records('ops', monthOf(h))).filter(
      (r) => r.purpose !== 'aws',
    );
    const estimated = records.filter((r) => r.estimated === 'billed_unrecorded');
    expect(estimated).toHaveLength(1);
    expect(summary.estimatedRequests).toBe(1);
    expect(ledger.requests).toBe(sim.requests);
    const estimate = estimated[0]?.costNanoUsd ?? 0;
    expect(ledger.costNanoUsd - estimate).toBe(sim.costNanoUsd - crashedCost);
    // The estimate is an upper bound of what the lost answer cost
    expect(estimate).toBeGreaterThanOrEqual(crashedCost);
    expect(await h.deps.ledger.openAttempts(ref)).toEqual([]);
    // The estimate settled against the reservation the dead owner held, the rest went back,
    // and the job reserved anew: nothing is left committed beyond what was spent.
    const budget = await h.deps.ledger.budget('ops', monthOf(h));
    expect(budget?.committedNanoUsd).toBe(budget?.spentNanoUsd);
    expect(budget?.spentNanoUsd).toBe(ledger.costNanoUsd);
  });

  it('leaves no attempt open and no estimate when nothing dies', async () => {
    // Act
    const files = filesFor(3);
    const ref = await submit(h, manifestFor('calm-1', 'ops', Object.keys(files)), files);
    const summary = await waitForDone(h, ref);

    // Assess
    expect(summary.estimatedRequests).toBe(0);
    expect(await h.deps.ledger.openAttempts(ref)).toEqual([]);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});
