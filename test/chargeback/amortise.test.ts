/**
 * Amortised warm-up: a group's overhead is spread over its job answers pro rata by prompt
 * tokens, in integers that add up exactly, so every total per team (and per project, model,
 * kind and day) is the same in both views.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { amortise, splitExactly } from '../../shared/chargeback/amortise';
import { type CostRecord, WARMUP_JOB_ID } from '../../shared/ports/ledger';
import { aCostRecord } from '../aws/factories';

const usage = (prompt: number) => ({
  promptHitTokens: prompt,
  promptMissTokens: 0,
  completionTokens: 10,
  reasoningTokens: 0,
});

describe('splitExactly', () => {
  it('gives the units left over to the largest remainders', () => {
    // Act
    const parts = splitExactly(10, [1, 1, 1]);

    // Assess
    expect(parts).toEqual([4, 3, 3]);
  });

  it('gives each unit left over to the largest remainder first, not the smallest', () => {
    // Prepare: 5 over weights 1, 1, 2 is 1.25, 1.25, 2.5: remainders 1, 1, 2 (in quarters).
    // Act
    const parts = splitExactly(5, [1, 1, 2]);

    // Assess: the one unit left goes to the largest remainder, the last weight.
    expect(parts).toEqual([1, 1, 3]);
    expect(splitExactly(7, [3, 1, 1, 5])).toEqual([2, 1, 1, 3]);
  });

  it('splits evenly when no weight is positive', () => {
    // Assess
    expect(splitExactly(7, [0, 0])).toEqual([4, 3]);
  });
});

describe('amortise', () => {
  it("moves a group's warm-up onto its jobs by prompt tokens", () => {
    // Prepare
    const records = [
      aCostRecord({ jobId: WARMUP_JOB_ID, group: 'g', costNanoUsd: 1_000 }),
      aCostRecord({ jobId: 'a', group: 'g', costNanoUsd: 5_000, usage: usage(3_000) }),
      aCostRecord({ jobId: 'b', group: 'g', costNanoUsd: 5_000, usage: usage(1_000) }),
    ];

    // Act
    const out = amortise(records);

    // Assess
    expect(out.map((a) => a.warmupShareNanoUsd)).toEqual([-1_000, 750, 250]);
    expect(out.map((a) => a.amortisedCostNanoUsd)).toEqual([0, 5_750, 5_250]);
  });

  it("shares a warm-up with its group's jobs sent after midnight UTC", () => {
    // Prepare: the batch crosses midnight: warm-up on one day, its group's jobs on the next.
    const records = [
      aCostRecord({
        jobId: WARMUP_JOB_ID,
        group: 'g',
        costNanoUsd: 1_000,
        sentAt: '2026-11-30T23:59:00.000Z',
      }),
      aCostRecord({ jobId: 'a', group: 'g', sentAt: '2026-12-01T00:00:01.000Z', usage: usage(1) }),
    ];

    // Act
    const out = amortise(records);

    // Assess
    expect(out.map((a) => a.warmupShareNanoUsd)).toEqual([-1_000, 1_000]);
  });

  it('keeps overhead as overhead when its group has no priced job answer', () => {
    // Prepare
    const records = [
      aCostRecord({
        jobId: WARMUP_JOB_ID,
        group: 'g',
        costNanoUsd: 1_000,
        sentAt: '2026-11-30T23:59:00.000Z',
      }),
      aCostRecord({ jobId: 'a', group: 'other', sentAt: '2026-12-01T00:00:01.000Z' }),
      aCostRecord({
        jobId: 'b',
        group: 'other',
        costNanoUsd: 0,
        unpriced: { reason: 'unknown_model', detail: '' },
      }),
    ];

    // Act
    const out = amortise(records);

    // Assess
    expect(out.map((a) => a.warmupShareNanoUsd)).toEqual([0, 0, 0]);
  });

  const aRecord = fc
    .record({
      team: fc.constantFrom('alpha', 'beta'),
      batchId: fc.constantFrom('b1', 'b2'),
      group: fc.constantFrom('g1', 'g2', undefined),
      purpose: fc.constantFrom('job', 'job', 'warmup', 'discarded'),
      cost: fc.integer({ min: 0, max: 50_000_000 }),
      prompt: fc.integer({ min: 0, max: 200_000 }),
      day: fc.constantFrom('2026-11-30T23:59:59.000Z', '2026-12-01T00:00:00.000Z'),
      unpriced: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    })
    .map(
      (r): CostRecord =>
        aCostRecord({
          team: r.team,
          batchId: r.batchId,
          ...(r.group ? { group: r.group } : {}),
          jobId: r.purpose === 'warmup' ? WARMUP_JOB_ID : 'job',
          purpose: r.purpose as CostRecord['purpose'],
          costNanoUsd: r.unpriced ? 0 : r.cost,
          usage: usage(r.prompt),
          sentAt: r.day,
          ...(r.unpriced ? { unpriced: { reason: 'unknown_model', detail: '' } } : {}),
        }),
    );

  it('sums to the unamortised total per team exactly, with no negative job share', () => {
    fc.assert(
      fc.property(fc.array(aRecord, { maxLength: 60 }), (records) => {
        // Act
        const out = amortise(records);

        // Assess
        const totals = (cost: (i: number) => number) => {
          const by = new Map<string, number>();
          records.forEach((r, i) => {
            const key = r.team;
            by.set(key, (by.get(key) ?? 0) + cost(i));
          });
          return by;
        };
        expect(totals((i) => out[i]?.amortisedCostNanoUsd ?? Number.NaN)).toEqual(
          totals((i) => records[i]?.costNanoUsd ?? Number.NaN),
        );
        out.forEach((a) => {
          if (a.record.purpose === 'job') expect(a.warmupShareNanoUsd).toBeGreaterThanOrEqual(0);
          else expect(a.amortisedCostNanoUsd).toBeGreaterThanOrEqual(0);
        });
      }),
      { numRuns: 300 },
    );
  });
});
