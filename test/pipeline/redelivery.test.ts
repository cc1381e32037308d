/**
 * Deliveries that overlap, on the emulated whole: a work message becomes visible again while
 * its first delivery still runs it, and an identical request is met in flight by a second
 * batch. Deliveries again one at a time (an S3 event twice, a later window, planning that
 * failed half-way, a finalize message that failed to send) are in duplicates.test.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BadRequestError, ServerError } from '../../shared/llm/errors';
import {
  expectOneTerminalStateEach,
  filesFor,
  ledgerTotals,
  manifestFor,
  simTotals,
  source,
  submit,
  useHarness,
  waitForDone,
} from './support';

// No warm-up: every job of a group is in flight at once, so one stall holds them all.
// A work message becomes visible again after one second: any job slower than that is
// redelivered while its first delivery still runs it.
const h = useHarness({
  workVisibilitySeconds: 1,
  settings: { executor: { warmup: 'none', settleMs: 5, stopMarginMs: 500 } },
});

describe('a work message redelivered while its first delivery still runs', () => {
  it('makes no second call when a work message is redelivered while its first delivery still runs', async () => {
    // Prepare: every answer takes longer than the visibility timeout
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const files: Record<string, string> = {};
    for (let i = 0; i < 12; i++) files[`slow${i}.ts`] = source(200 + i);
    h.sim.configure({ faults: { stallMs: 2_500 } });

    // Act
    await submit(h, manifestFor('slow-1', 'dup', Object.keys(files)), files);
    const summary = await waitForDone(h, 'slow-1');
    process.off('warning', onWarning);

    // Assess
    const refused = h.claims.filter((c) => !c.result.job);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((c) => c.result.job === undefined && c.result.reason !== 'missing')).toBe(
      true,
    );
    const granted = h.claims.filter((c) => c.result.job).map((c) => c.jobId);
    expect(granted).toHaveLength(12);
    expect(new Set(granted).size).toBe(12);
    expect(h.sim.usage().totals.requests).toBe(12);
    expect(summary.states.succeeded).toBe(12);
    await expectOneTerminalStateEach(h, 'slow-1', 12, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
    // twelve requests held at once by the simulator, without a listener-leak warning
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('still finishes a job that fails retryably after a redelivered copy found it leased', async () => {
    // Prepare: the first call of one job is slow and then fails
    const files = { ...filesFor(3), 'late.ts': source(300) };
    const lateFoundLeased = () => {
      const late = h.claims.find((c) => c.result.job?.path === 'late.ts')?.jobId;
      return h.claims.some(
        (c) => c.jobId === late && !c.result.job && c.result.reason === 'leased',
      );
    };
    let lateCalls = 0;
    h.scriptLlm(async (request, real) => {
      const isLate =
        request.messages.length > 3 && request.messages.at(-1)?.content.includes('late.ts');
      if (isLate && ++lateCalls === 1) {
        // Slow until a redelivered copy of its message has found the job leased, then failing.
        for (const until = Date.now() + 20_000; !lateFoundLeased() && Date.now() < until; )
          await sleep(50);
        throw new ServerError('deepseek: 503 Server Overloaded', { status: 503 });
      }
      return real();
    });

    // Act
    await submit(h, manifestFor('late-1', 'dup', Object.keys(files)), files);
    const summary = await waitForDone(h, 'late-1');

    // Assess
    const late = h.claims.filter(
      (c) => c.jobId === (h.claims.find((x) => x.result.job?.path === 'late.ts')?.jobId ?? ''),
    );
    expect(late.some((c) => !c.result.job && c.result.reason === 'leased')).toBe(true);
    expect(late.filter((c) => c.result.job)).toHaveLength(2);
    expect(lateCalls).toBe(2);
    expect(summary.states.succeeded).toBe(4);
    await expectOneTerminalStateEach(h, 'late-1', 4, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});

describe('identical requests in flight', () => {
  it('sends an identical request once: the second batch waits for the first and reuses its answer at no cost', async () => {
    // Prepare: the first batch's call is held until the second batch has met it in flight
    const files = { 'same.ts': source(400) };
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    h.scriptLlm(async (_request, real) => {
      calls++;
      await held;
      return real();
    });
    const first = await submit(h, manifestFor('twin-1', 'twins', Object.keys(files)), files);
    await expect.poll(() => calls).toBe(1);

    // Act: the same file in a second batch, while the first call is in flight
    const second = await submit(h, manifestFor('twin-2', 'twins', Object.keys(files)), files);
    await expect
      .poll(() => h.claims.filter((c) => c.result.job?.batchId === 'twin-2').length, {
        timeout: 60_000,
      })
      .toBeGreaterThan(0);
    release();
    const [a, b] = [await waitForDone(h, first), await waitForDone(h, second)];

    // Assess
    expect(calls).toBe(1);
    expect(h.sim.usage().totals.requests).toBe(1);
    expect(a.states.succeeded).toBe(1);
    expect(b.states.reused).toBe(1);
    expect(b.costNanoUsd).toBe(0);
    const waited = (await h.deps.jobs.listJobs(second))[0];
    expect(waited?.state).toBe('reused');
    // Waiting is not an attempt
    expect(waited?.attempts).toBeLessThanOrEqual(1);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('runs the waiting job itself when the identical request fails for good', async () => {
    // Prepare: the first batch's call fails permanently, after the second batch met it
    const files = { 'twin.ts': source(401) };
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    h.scriptLlm(async (_request, real) => {
      if (++calls > 1) return real();
      await held;
      throw new BadRequestError('deepseek: invalid request', { status: 400, endpoint: 'deepseek' });
    });
    const first = await submit(h, manifestFor('twin-3', 'twins', Object.keys(files)), files);
    // Planning and the first call take longer than expect.poll's default second under load.
    await expect.poll(() => calls, { timeout: 60_000 }).toBe(1);

    // Act
    const second = await submit(h, manifestFor('twin-4', 'twins', Object.keys(files)), files);
    await expect
      .poll(() => h.claims.filter((c) => c.result.job?.batchId === 'twin-4').length, {
        timeout: 60_000,
      })
      .toBeGreaterThan(0);
    release();
    const [a, b] = [await waitForDone(h, first), await waitForDone(h, second)];

    // Assess: the second ran its own request once the first had failed
    expect(a.states.failed).toBe(1);
    expect(b.states.succeeded).toBe(1);
    expect(calls).toBe(2);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});
