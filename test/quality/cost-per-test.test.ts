/**
 * Cost per passing test reads each answer's cost from its job, the one place a job's cost is
 * kept (from its ledger record, and again after `costs reprice`): an answer no row priced yet
 * makes the figure unknown, with the reason, never $0.
 */
import { describe, expect, it } from 'vitest';
import { answerCost, emptyBatchQuality, tallyTest } from '../../shared/quality/tally';
import { qualityReport } from '../../shared/quality/verdicts';

const round = (costNanoUsd: number | undefined) => ({
  verdict: 'passed' as const,
  costNanoUsd,
  promptTokens: 100,
  hitTokens: 0,
});

describe('cost per passing test', () => {
  it('is unknown, with the reason, while an answer is unpriced', () => {
    // Prepare: one answer priced, one whose record no row covered (a 2027 weekday peak)
    const job = { state: 'succeeded' as const, costUnpriced: 'holidays_unknown' };
    const q = emptyBatchQuality('2027-01-04T03:00:00Z');

    // Act
    tallyTest(q, { lane: 'primary', kept: true, rounds: [round(500_000)] });
    tallyTest(q, { lane: 'primary', kept: true, rounds: [round(answerCost(job))] });
    const report = qualityReport(q);

    // Assess
    expect(answerCost(job)).toBeUndefined();
    expect(report.testsPassed).toBe(2);
    expect(report.costPerPassingTestNanoUsd).toBeNull();
    expect(report.testsCostUnknown).toBe(1);
    expect(report.costUnknown).toContain('costs reprice');
  });

  it('is the priced cost once the job carries it again', () => {
    // Prepare: the same job after reprice
    const job = { state: 'succeeded' as const, costNanoUsd: 300_000 };
    const q = emptyBatchQuality('2027-01-04T03:00:00Z');

    // Act
    tallyTest(q, { lane: 'primary', kept: true, rounds: [round(500_000)] });
    tallyTest(q, { lane: 'primary', kept: true, rounds: [round(answerCost(job))] });

    // Assess
    expect(qualityReport(q).costPerPassingTestNanoUsd).toBe(400_000);
    expect(qualityReport(q).costUnknown).toBeNull();
  });

  it('costs nothing for an answer reused from an earlier identical request', () => {
    expect(answerCost({ state: 'reused' })).toBe(0);
  });
});
