import { describe, expect, it } from 'vitest';
import { workDedupId, workGroupId } from '../../shared/pipeline/messages';
import { decodeEventKey, offPeakDecision } from '../../shared/pipeline/plan';
import { parseSettings, SettingsError } from '../../shared/pipeline/settings';
import { stripOuterFence } from '../../shared/pipeline/work';

// deepseek-flash bills peak prices 01:00-04:00 and 06:00-10:00 UTC on Chinese working days.
const PEAK_MODEL = 'deepseek-flash';
const tuesdayPeak = new Date('2026-11-24T02:30:00Z');

describe('off-peak deferral', () => {
  it('defers a peak-time batch to the next off-peak hour when the deadline allows', () => {
    // Act
    const decision = offPeakDecision({
      model: PEAK_MODEL,
      now: tuesdayPeak,
      deadline: '2026-11-24T20:00:00Z',
      preferOffPeak: true,
    });

    // Assess
    expect(decision).toEqual({ defer: true, until: new Date('2026-11-24T04:00:00Z') });
  });

  it('runs at once when waiting would leave too little time before the deadline', () => {
    const decision = offPeakDecision({
      model: PEAK_MODEL,
      now: tuesdayPeak,
      deadline: '2026-11-24T04:30:00Z',
      preferOffPeak: true,
    });
    expect(decision.defer).toBe(false);
  });

  it('runs at once off-peak, for models without peak prices, and when not asked to wait', () => {
    const deadline = '2026-11-25T00:00:00Z';
    const offPeak = new Date('2026-11-24T12:00:00Z');
    expect(
      offPeakDecision({ model: PEAK_MODEL, now: offPeak, deadline, preferOffPeak: true }).defer,
    ).toBe(false);
    expect(
      offPeakDecision({
        // Flat prices all day (deepseek-v4-flash is now billed as deepseek-flash, which peaks).
        model: 'gpt-5.4',
        now: tuesdayPeak,
        deadline,
        preferOffPeak: true,
      }).defer,
    ).toBe(false);
    expect(offPeakDecision({ model: PEAK_MODEL, now: tuesdayPeak, deadline }).defer).toBe(false);
  });
});

describe('settings', () => {
  it('fills defaults and reads the stack field names', () => {
    const settings = parseSettings(
      JSON.stringify({
        model: 'deepseek-v4-pro',
        providerConcurrency: 7,
        endpoints: { public: { name: 'deepseek', baseURL: 'https://api.deepseek.com' } },
        teams: { payments: { monthlyBudgetNanoUsd: 5_000_000_000 } },
      }),
    );
    expect(settings.defaultModel).toBe('deepseek-v4-pro');
    expect(settings.executor.concurrency).toBe(7);
    expect(settings.budgets).toEqual({ payments: 5_000_000_000 });
    expect(settings.referenceModel).toBe('gpt-5.4');
  });

  it('names the bad field', () => {
    expect(() =>
      parseSettings({ endpoints: { public: { name: 'deepseek', baseURL: 'not a url' } } }),
    ).toThrow(/endpoints\.public\.baseURL/);
    expect(() => parseSettings('{')).toThrow(SettingsError);
  });
});

describe('keys and outputs', () => {
  it('decodes S3 notification keys: plus is a space, then percent-decoding', () => {
    expect(decodeEventKey('intake/t/p/docs/my+file%2B1%C3%A9.ts')).toBe(
      'intake/t/p/docs/my file+1é.ts',
    );
  });

  it('keeps deduplication ids within SQS limits and group ids stable', () => {
    const long = 'b'.repeat(128);
    expect(workDedupId('b1', 'k', 0)).toBe('b1:k:0');
    expect(workDedupId(long, 'k'.repeat(64), 3).length).toBeLessThanOrEqual(128);
    expect(workGroupId('b1', 'k', 'batch-prefix')).not.toBe(workGroupId('b2', 'k', 'batch-prefix'));
    expect(workGroupId('b1', 'k', 'prefix')).toBe(workGroupId('b2', 'k', 'prefix'));
  });

  it('strips one fence around a whole test file but not fences inside it', () => {
    expect(stripOuterFence('```ts\nit("x", () => {});\n```\n')).toBe('it("x", () => {});\n');
    const inner = 'text\n```ts\ncode\n```\nmore';
    expect(stripOuterFence(inner)).toBe(inner);
  });
});
