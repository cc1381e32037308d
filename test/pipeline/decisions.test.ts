import { describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../shared/aws/object-store';
import { ConfigurationError } from '../../shared/configuration-error';
import { comebackSeconds } from '../../shared/pipeline/comeback';
import { workDedupId, workGroupId } from '../../shared/pipeline/messages';
import { decodeEventKey, dropSpecs, offPeakDecision } from '../../shared/pipeline/plan';
import { parseSettings } from '../../shared/pipeline/settings';
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
  it('fills defaults around the fields given', () => {
    const settings = parseSettings(
      JSON.stringify({
        defaultModel: 'deepseek-v4-pro',
        executor: { concurrency: 7 },
        endpoints: { public: { name: 'public', baseURL: 'https://api.deepseek.com' } },
        budgets: { payments: 5_000_000_000 },
      }),
    );
    expect(settings.defaultModel).toBe('deepseek-v4-pro');
    expect(settings.executor.concurrency).toBe(7);
    expect(settings.budgets).toEqual({ payments: 5_000_000_000 });
    expect(settings.referenceModel).toBe('gpt-5.4');
  });

  it('names the bad field', () => {
    expect(() =>
      parseSettings({ endpoints: { public: { name: 'public', baseURL: 'not a url' } } }),
    ).toThrow(/endpoints\.public\.baseURL/);
    // One set of endpoint names: an endpoint is named after its sensitivity.
    expect(() =>
      parseSettings({ endpoints: { public: { name: 'deepseek', baseURL: 'https://x.test' } } }),
    ).toThrow(/endpoints\.public\.name: must be "public"/);
    expect(() => parseSettings('{')).toThrow(ConfigurationError);
  });

  it('refuses a field the schema does not name rather than dropping it', () => {
    // One set of names from the stack to the functions: a stale name (the stack's old `model`)
    // must stop the cold start, not run every job on the default model.
    expect(() =>
      parseSettings({
        model: 'deepseek-v4-pro',
        endpoints: { public: { name: 'public', baseURL: 'https://api.deepseek.com' } },
      } as never),
    ).toThrow(/invalid settings: \(settings\): Unrecognized key: "model"/);
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

describe('when a work message comes back', () => {
  const backoff = { minSeconds: 2, maxSeconds: 300 };
  const now = 1_800_000_000_000;

  it('backs off with its deliveries, within the jitter band, up to the cap', () => {
    // Act: the lowest and highest jitter at each delivery
    const at = (receives: number, random: number) =>
      comebackSeconds({}, { receiveCount: receives, receivesLeft: 9 }, backoff, now, () => random);

    // Assess: equal jitter, half fixed and half random, from 2 s doubling to 300 s
    expect([at(1, 0), at(1, 1)]).toEqual([1, 2]);
    expect([at(2, 0), at(2, 1)]).toEqual([2, 4]);
    expect([at(4, 0), at(4, 1)]).toEqual([8, 16]);
    expect([at(12, 0), at(12, 1)]).toEqual([150, 300]);
  });

  it('retries a job held elsewhere soon, but waits out its lease before the last receives', () => {
    // Act
    const held = { notBefore: now + 42_500 };
    const early = comebackSeconds(
      held,
      { receiveCount: 1, receivesLeft: 9 },
      backoff,
      now,
      () => 0,
    );
    const late = comebackSeconds(held, { receiveCount: 8, receivesLeft: 2 }, backoff, now, () => 0);

    // Assess
    expect(early).toBe(1);
    expect(late).toBe(128);
    expect(comebackSeconds(held, { receiveCount: 2, receivesLeft: 2 }, backoff, now, () => 0)).toBe(
      43,
    );
  });
});

describe("a closed drop's batches", () => {
  const settings = parseSettings({
    endpoints: { public: { name: 'public', baseURL: 'https://api.deepseek.com' } },
    sensitivity: { teams: {}, projects: { payments: { vault: 'restricted' } } },
  });
  const drop = {
    dropId: 'drop-1',
    team: 'payments',
    project: 'vault',
    kind: 'docs' as const,
    closedAt: '2026-11-03T10:00:00.000Z',
  };
  const fileOf = (key: string) => ({ key, eventId: 'e1', arrivedAt: drop.closedAt });

  it("are the drop's team's, with its project's sensitivity, and plan only files under its own prefix", async () => {
    // Prepare: a file of another team or project in the drop's list (its open-drop item, which
    // names where files go, is one the team's own credentials may update)
    const files = [
      fileOf('intake/payments/vault/docs/src/a.ts'),
      fileOf('intake/ledger/vault/docs/src/b.ts'),
      fileOf('intake/payments/shop/docs/src/c.ts'),
      fileOf('intake/payments/vault/tests/src/d.ts'),
    ];

    // Act
    const specs = await dropSpecs(
      drop,
      files,
      { objects: createMemoryObjectStore(), settings },
      [],
    );

    // Assess
    expect(specs).toHaveLength(1);
    expect(specs[0]).toMatchObject({
      batchId: 'drop-1',
      team: 'payments',
      project: 'vault',
      sensitivity: 'restricted',
    });
    expect(specs[0]?.jobs.map((j) => j.inputKey)).toEqual(['intake/payments/vault/docs/src/a.ts']);
    expect(specs[0]?.jobs.map((j) => j.sensitivity)).toEqual(['restricted']);
    expect(specs[0]?.rejections).toEqual([]);
  });
});
