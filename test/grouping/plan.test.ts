import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  groupJobs,
  InvalidPlanOptionsError,
  planBatch,
  SQS_MAX_MESSAGE_BYTES,
} from '../../shared/grouping';
import { makeJob, makeJobs, type TestJob } from './factories';

describe('planBatch', () => {
  it('splits a group of 120 jobs into messages of 50, 50 and 20 by default', () => {
    // Prepare
    const jobs = makeJobs(120);

    // Act
    const plan = planBatch('b1', jobs);

    // Assess
    expect(plan.messages.map((m) => [m.seq, m.total, m.jobs.length])).toEqual([
      [0, 3, 50],
      [1, 3, 50],
      [2, 3, 20],
    ]);
    expect(plan.messages[0]?.warmup).toEqual({ mode: 'auto', prefixTokens: 1_000 });
    expect(plan.groups).toEqual([
      {
        prefixKey: 'prefix-a',
        model: 'deepseek-v4-flash',
        prefixTokens: 1_000,
        jobIds: jobs.map((j) => j.jobId),
        messages: 3,
      },
    ]);
  });

  it('keeps the default message size under the SQS limit', () => {
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBeLessThan(SQS_MAX_MESSAGE_BYTES);
  });

  it('splits by bytes when the jobs are large', () => {
    // Prepare: three 100 KB files fit two to a message at most
    const jobs = makeJobs(3, { content: 'x'.repeat(100_000) });

    // Act
    const plan = planBatch('b1', jobs);

    // Assess
    expect(plan.messages.map((m) => m.jobs.length)).toEqual([2, 1]);
    for (const message of plan.messages)
      expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThanOrEqual(
        DEFAULT_MAX_MESSAGE_BYTES,
      );
  });

  /** Plans two jobs at exactly their message's size, then one byte under it. */
  function planAtTheLimit(jobs: TestJob[]) {
    const whole = {
      batchId: 'b1',
      prefixKey: 'prefix-a',
      model: 'deepseek-v4-flash',
      seq: 0,
      total: 1,
      warmup: { mode: 'auto', prefixTokens: 1_000 },
      jobs,
    };
    const exact = Buffer.byteLength(JSON.stringify(whole));
    return {
      whole,
      fits: planBatch('b1', jobs, { maxMessageBytes: exact }),
      tooSmall: planBatch('b1', jobs, { maxMessageBytes: exact - 1 }),
    };
  }

  // Every class of character JSON writes differently: each control character (escaped to six
  // bytes, or two for \b \t \n \f \r), quote and backslash (two), printable ASCII and DEL (one),
  // three- and four-byte UTF-8, lone surrogates (escaped to six).
  const characters = [
    ...Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)),
    '"',
    '\\',
    ' ~!#[]',
    '\u007f',
    '€',
    '😀',
    '\ud800',
    '\udfff',
  ];
  it.each(characters)('fills a message to the exact byte limit and no further with %j', (ch) => {
    // Prepare
    const jobs = makeJobs(2, { content: ch.repeat(3_000) });

    // Act
    const { whole, fits, tooSmall } = planAtTheLimit(jobs);

    // Assess
    expect(fits.messages).toEqual([whole]);
    expect(tooSmall.messages.map((m) => m.jobs.length)).toEqual([1, 1]);
  });

  it('fills a message to the exact byte limit and no further with the longest numbers', () => {
    // Prepare: keys of characters escaped to six bytes cost exactly what the size bound allows
    // for them, so only the numbers decide whether the bound holds.
    const sixByte = [1, 2, 3, 4, 5, 6, 7, 11, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25];
    const char = (i: number) => String.fromCharCode(sixByte[Math.floor(i) % 20] ?? 1);
    const numbers = Object.fromEntries(
      Array.from({ length: 3_000 }, (_, i) => [
        char(i) + char(i / 20) + char(i / 400),
        -1.2345678901234567e-308,
      ]),
    );
    const jobs = makeJobs(2, numbers);

    // Act
    const { whole, fits, tooSmall } = planAtTheLimit(jobs);

    // Assess
    expect(fits.messages).toEqual([whole]);
    expect(tooSmall.messages.map((m) => m.jobs.length)).toEqual([1, 1]);
  });

  it('measures size in UTF-8 bytes, not characters', () => {
    // Prepare: 60,000 three-byte characters are 180 KB on the wire
    const jobs = makeJobs(2, { content: '€'.repeat(60_000) });

    // Act
    const plan = planBatch('b1', jobs);

    // Assess
    expect(plan.messages.map((m) => m.jobs.length)).toEqual([1, 1]);
  });

  it('rejects a job too large for any message and plans the others', () => {
    // Prepare
    const huge = makeJob({ jobId: 'huge', content: 'x'.repeat(300_000) });
    const small = makeJob({ jobId: 'small' });

    // Act
    const plan = planBatch('b1', [huge, small]);

    // Assess
    expect(plan.messages.flatMap((m) => m.jobs)).toEqual([small]);
    expect(plan.rejected).toEqual([
      { jobId: 'huge', reason: expect.stringMatching(/too large .*300\d{3} bytes/) },
    ]);
  });

  it('rejects the second job with a duplicate id and plans the first once', () => {
    // Prepare
    const job = makeJob({ jobId: 'same' });

    // Act
    const plan = planBatch('b1', [job, { ...job }]);

    // Assess
    expect(plan.messages.flatMap((m) => m.jobs.map((j) => j.jobId))).toEqual(['same']);
    expect(plan.rejected).toEqual([{ jobId: 'same', reason: expect.stringMatching(/duplicate/) }]);
  });

  it('keeps the same one of two different jobs sharing an id whatever their order', () => {
    // Prepare
    const a = makeJob({ jobId: 'same', path: 'src/a.ts' });
    const b = makeJob({ jobId: 'same', path: 'src/b.ts' });

    // Act
    const kept = [planBatch('b1', [a, b]), planBatch('b1', [b, a])].map(
      (plan) => plan.messages[0]?.jobs[0],
    );

    // Assess
    expect(kept[0]).toBe(kept[1]);
  });

  it('rejects a job whose model disagrees with its prefix group', () => {
    // Prepare
    const jobs = [
      makeJob({ jobId: 'a', sortKey: 'a' }),
      makeJob({ jobId: 'b', sortKey: 'b', model: 'deepseek-v4-pro' }),
    ];

    // Act
    const plan = planBatch('b1', jobs);

    // Assess
    expect(plan.groups.map((g) => [g.model, g.jobIds])).toEqual([['deepseek-v4-flash', ['a']]]);
    expect(plan.rejected).toEqual([
      { jobId: 'b', reason: expect.stringMatching(/belongs to model deepseek-v4-flash/) },
    ]);
  });

  it('rejects an invalid record with the field at fault and goes on', () => {
    // Prepare
    const jobs = [makeJob({ jobId: 'bad', uniqueTokens: -1 }), makeJob({ jobId: 'good' })];

    // Act
    const plan = planBatch('b1', jobs);

    // Assess
    expect(plan.groups[0]?.jobIds).toEqual(['good']);
    expect(plan.rejected).toEqual([
      { jobId: 'bad', reason: expect.stringMatching(/^invalid job: uniqueTokens/) },
    ]);
  });

  it('orders groups by prefix length, then size, then key', () => {
    // Prepare
    const jobs = [
      ...makeJobs(1, { prefixKey: 'short', prefixTokens: 100 }),
      ...makeJobs(2, { prefixKey: 'long-b', prefixTokens: 5_000 }),
      ...makeJobs(2, { prefixKey: 'long-a', prefixTokens: 5_000 }),
      ...makeJobs(3, { prefixKey: 'long-big', prefixTokens: 5_000 }),
    ];

    // Act
    const plan = planBatch('b1', jobs);

    // Assess
    expect(plan.groups.map((g) => g.prefixKey)).toEqual(['long-big', 'long-a', 'long-b', 'short']);
  });

  it('runs jobs sharing a longer path prefix next to each other', () => {
    // Prepare
    const paths = ['src/b/x.ts', 'src/a/y.ts', 'lib/z.ts', 'src/a/x.ts', 'src/b.ts'];
    const jobs = paths.map((p, i) => makeJob({ jobId: `j${i}`, sortKey: p, path: p }));

    // Act
    const plan = planBatch('b1', jobs);

    // Assess
    expect(plan.messages[0]?.jobs.map((j) => j.path)).toEqual([
      'lib/z.ts',
      'src/a/x.ts',
      'src/a/y.ts',
      'src/b.ts',
      'src/b/x.ts',
    ]);
  });

  it('leaves the warm-up step out when warm-up is off', () => {
    // Prepare
    const jobs = makeJobs(3);

    // Act
    const plan = planBatch('b1', jobs, { warmup: 'none', maxJobsPerMessage: 2 });

    // Assess
    expect(plan.messages).toHaveLength(2);
    for (const message of plan.messages) expect(message).not.toHaveProperty('warmup');
  });

  it('plans an empty batch as no messages', () => {
    expect(planBatch('b1', [])).toEqual({ batchId: 'b1', groups: [], messages: [], rejected: [] });
  });

  it.each([
    [{ maxJobsPerMessage: 0 }, /maxJobsPerMessage/],
    [{ maxMessageBytes: 1.5 }, /maxMessageBytes/],
    [{ warmup: 'eager' as 'none' }, /warmup/],
  ])('refuses out-of-range options %o', (options, message) => {
    expect(() => planBatch('b1', makeJobs(1), options)).toThrow(InvalidPlanOptionsError);
    expect(() => planBatch('b1', makeJobs(1), options)).toThrow(message);
  });

  it('refuses an empty batch id', () => {
    expect(() => planBatch('', makeJobs(1))).toThrow(InvalidPlanOptionsError);
  });

  it('accounts for 10,000 jobs across 7 groups by counting ids', () => {
    // Prepare
    const jobs: TestJob[] = [];
    for (let g = 0; g < 7; g++)
      jobs.push(
        ...makeJobs(Math.floor(10_000 / 7) + (g < 10_000 % 7 ? 1 : 0), { prefixKey: `p${g}` }),
      );

    // Act
    const plan = planBatch('b1', jobs);

    // Assess
    const ids = plan.messages.flatMap((m) => m.jobs.map((j) => j.jobId));
    expect(plan.rejected).toEqual([]);
    expect(ids).toHaveLength(jobs.length);
    expect(new Set(ids).size).toBe(jobs.length);
    expect(plan.groups.reduce((n, g) => n + g.jobIds.length, 0)).toBe(jobs.length);
  });
});

describe('groupJobs', () => {
  it('groups by prefix key, longest prefix first, jobs in sort-key order', () => {
    // Prepare
    const jobs = [
      makeJob({ jobId: 'b', sortKey: 'b', prefixKey: 'short', prefixTokens: 10 }),
      makeJob({ jobId: 'c', sortKey: 'c', prefixKey: 'long', prefixTokens: 900 }),
      makeJob({ jobId: 'a', sortKey: 'a', prefixKey: 'long', prefixTokens: 900 }),
    ];

    // Act
    const groups = groupJobs(jobs);

    // Assess
    expect(groups.map((g) => [g.prefixKey, g.prefixTokens, g.jobs.map((j) => j.jobId)])).toEqual([
      ['long', 900, ['a', 'c']],
      ['short', 10, ['b']],
    ]);
  });
});
