import { describe, expect, it } from 'vitest';
import type { LlmRequest, LlmResponse } from '../../shared/llm/client';
import { type BilledResponse, EmptyContentError, ServerError } from '../../shared/llm/errors';
import {
  errorsOf,
  expectOneTerminalStateEach,
  ledgerTotals,
  monthOf,
  simTotals,
  submit,
  useFakePipeline,
  waitForDone,
} from '../support/fake-pipeline';
import { filesFor, manifestFor, source } from './support';

const MAX_ATTEMPTS = 2;

// A released job's message is delivered again at once (the in-memory pipeline has no visibility
// timeout to wait out).
const h = useFakePipeline({ settings: { maxAttempts: MAX_ATTEMPTS } });

/** True for the job request of the file at `path` (not a warm-up, not another file). */
const isJobFor = (request: LlmRequest, path: string) =>
  request.messages.length > 3 && (request.messages.at(-1)?.content.includes(path) ?? false);

const overloaded = () =>
  new ServerError('deepseek: 503 Server Overloaded', { status: 503, endpoint: 'deepseek' });

const billedOf = (r: LlmResponse): BilledResponse => ({
  responseId: r.responseId,
  model: r.model,
  created: r.created,
  sentAt: r.sentAt,
  endpoint: r.endpoint,
  usage: r.usage,
});

describe('worker failure paths', () => {
  it('gives a job back on a 503 burst beyond the retry budget and succeeds it on redelivery', async () => {
    // Prepare
    const files = { ...filesFor(4), 'flaky.ts': source(99) };
    let flakyCalls = 0;
    h.scriptLlm(async (request, real) => {
      if (isJobFor(request, 'flaky.ts') && ++flakyCalls === 1) throw overloaded();
      return real();
    });

    // Act
    await submit(h, manifestFor('retry-1', 'ops', Object.keys(files)), files);
    const summary = await waitForDone(h, 'retry-1');

    // Assess
    const flaky = (await h.deps.jobs.listJobs(h.ref('retry-1'))).find((j) => j.path === 'flaky.ts');
    expect(flaky).toMatchObject({ state: 'succeeded', attempts: 2 });
    expect(flakyCalls).toBe(2);
    expect(summary.states.succeeded).toBe(5);
    await expectOneTerminalStateEach(h, 'retry-1', 5, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('fails a job that keeps failing after maxAttempts, naming the last error, and finishes the rest', async () => {
    // Prepare
    const files = { ...filesFor(4), 'doomed.ts': source(98) };
    h.scriptLlm(async (request, real) => {
      if (isJobFor(request, 'doomed.ts')) throw overloaded();
      return real();
    });

    // Act
    await submit(h, manifestFor('doomed-1', 'ops', Object.keys(files)), files);
    const summary = await waitForDone(h, 'doomed-1');

    // Assess
    const errors = await errorsOf(h, 'doomed-1');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ path: 'doomed.ts', state: 'failed', code: 'max_attempts' });
    expect(errors[0]?.reason).toContain(`gave up after ${MAX_ATTEMPTS} attempts`);
    expect(errors[0]?.reason).toContain('HTTP 503');
    expect(errors[0]?.reason).toContain('run the batch again later');
    expect(summary.states).toMatchObject({ succeeded: 4, failed: 1 });
    await expectOneTerminalStateEach(h, 'doomed-1', 5, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('fails every remaining job of the batch on 402 with the remedy, and still finalizes', async () => {
    // Prepare: the account runs dry after its first billed request (a warm-up)
    const files = filesFor(9);
    h.sim.configure({ balanceNanoUsd: 1 });

    // Act
    await submit(h, manifestFor('broke-1', 'ops', Object.keys(files)), files);
    const summary = await waitForDone(h, 'broke-1');

    // Assess
    const errors = await errorsOf(h, 'broke-1');
    expect(errors.map((e) => e.path).sort()).toEqual(Object.keys(files).sort());
    for (const e of errors) {
      expect(e.code).toBe('InsufficientBalanceError');
      expect(e.reason).toContain('Top up the provider account');
    }
    expect(summary.states.failed).toBe(9);
    expect(h.sim.usage().totals.requests).toBeGreaterThan(0);
    await expectOneTerminalStateEach(h, 'broke-1', 9, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('bills warm-ups and discarded attempts in the ledger exactly as the provider did', async () => {
    // Prepare: one job's answer comes back unusable once (kept, then retried inside the call);
    // another's comes back unusable on its last client retry (the job is given back).
    const files = { ...filesFor(5), 'discard.ts': source(97), 'empty.ts': source(96) };
    let discardCalls = 0;
    let emptyCalls = 0;
    h.scriptLlm(async (request, real) => {
      if (isJobFor(request, 'discard.ts') && ++discardCalls === 1) {
        const unusable = await real();
        const answer = await real();
        return { ...answer, discarded: [billedOf(unusable)] };
      }
      if (isJobFor(request, 'empty.ts') && ++emptyCalls === 1) {
        const unusable = await real();
        const err = new EmptyContentError('JSON mode returned empty content');
        err.billed = [billedOf(unusable)];
        throw err;
      }
      return real();
    });

    // Act
    await submit(h, manifestFor('billed-1', 'ops', Object.keys(files)), files);
    const summary = await waitForDone(h, 'billed-1');

    // Assess
    const jobs = 7;
    expect(summary.states.succeeded).toBe(jobs);
    // every job once, plus the overhead: the warm-ups and the two unusable answers
    const records = (await h.deps.ledger.records('ops', monthOf(h))).filter(
      (r) => r.purpose !== 'aws',
    );
    const overhead = records.filter((r) => r.purpose !== 'job');
    expect(records.filter((r) => r.purpose === 'discarded')).toHaveLength(2);
    expect(records.filter((r) => r.purpose === 'warmup').length).toBeGreaterThan(0);
    expect(summary.warmupRequests).toBe(overhead.length);
    expect(summary.requests).toBe(jobs + summary.warmupRequests);
    expect(summary.warmupCostNanoUsd).toBe(overhead.reduce((n, r) => n + r.costNanoUsd, 0));
    // Overhead is not in the counterfactual: a run on the reference model would not send it.
    expect(overhead.every((r) => r.counterfactualNanoUsd === 0)).toBe(true);
    expect(summary.counterfactualNanoUsd).toBe(
      records.reduce((n, r) => n + r.counterfactualNanoUsd, 0),
    );
    expect(summary.requests).toBe(h.sim.usage().totals.requests);
    await expectOneTerminalStateEach(h, 'billed-1', jobs, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});
