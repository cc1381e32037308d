import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/lib/run';
import type { BatchRef } from '../../shared/types';
import { bufferIo } from '../cli/support';
import {
  expectOneTerminalStateEach,
  ledgerTotals,
  simTotals,
  useFakePipeline,
} from '../support/fake-pipeline';
import { filesFor, manifestFor } from './support';

// One request at a time and no warm-up, so a test decides exactly which requests were sent (the
// in-memory pipeline runs one work message at a time: the two prefix groups, ts and py, never
// send side by side).
const h = useFakePipeline({ settings: { executor: { concurrency: 1, warmup: 'none' } } });

const T0 = '2027-03-03T12:00:00.000Z';
const HOUR = 3_600_000;

/** `warmbatch status <batchId> --team <team>` against the harness: exit code and output. */
async function status({ team, batchId }: BatchRef) {
  const io = bufferIo(process.cwd());
  const { objects, jobs, ledger } = h.deps;
  const code = await runCli(['status', batchId, '--team', team], {
    io,
    clock: h.deps.clock,
    connect: async () => ({ objects, jobs, ledger, close() {} }),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    pollMs: 50,
  });
  return { code, out: io.out() };
}

describe('batch deadlines', () => {
  it('sends nothing for a batch whose deadline passed before it ran, and expires every job', async () => {
    // Prepare
    h.setClock(T0);
    const files = filesFor(4);
    const deadline = new Date(Date.parse(T0) - HOUR).toISOString();

    // Act
    const ref = await h.submit(
      manifestFor('late-1', 'ops', Object.keys(files), { deadline }),
      files,
    );
    const summary = await h.done(ref);

    // Assess
    expect(h.sim.usage().totals.requests).toBe(0);
    expect(summary.states.expired).toBe(4);
    await expectOneTerminalStateEach(h, ref, 4, summary);
    const errors = await h.errors(ref);
    expect(errors.map((e) => e.code)).toEqual(['deadline', 'deadline', 'deadline', 'deadline']);
    expect(errors[0]?.reason).toContain(deadline);
    const run = await status(ref);
    expect(run.code).toBe(3);
    expect(run.out).toContain('4 expired');
  });

  it('sends no request after the deadline passes mid-batch: the rest expire, the sent ones are billed', async () => {
    // Prepare
    h.setClock(T0);
    const files = filesFor(6);
    const deadline = new Date(Date.parse(T0) + HOUR).toISOString();
    const sentAt: number[] = [];
    h.scriptLlm(async (_request, real, n) => {
      sentAt.push(h.deps.clock.now().getTime());
      const response = await real();
      // The second answer arrives two hours later: the deadline has passed.
      if (n === 2) h.advanceClock(2 * HOUR);
      return response;
    });

    // Act
    const ref = await h.submit(
      manifestFor('late-2', 'ops', Object.keys(files), { deadline }),
      files,
    );
    const summary = await h.done(ref);

    // Assess
    expect(sentAt).toHaveLength(2);
    for (const t of sentAt) expect(t).toBeLessThan(Date.parse(deadline));
    expect(summary.states).toMatchObject({ succeeded: 2, expired: 4 });
    await expectOneTerminalStateEach(h, ref, 6, summary);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
    expect((await status(ref)).code).toBe(3);
  });
});
