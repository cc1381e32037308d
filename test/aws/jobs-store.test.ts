import { describe, expect, it } from 'vitest';
import { createJobsStore } from '../../shared/aws/jobs';
import type { DropClaim, JobsStore } from '../../shared/ports/jobs';
import { useLocalAws } from '../support/emulators';
import { aBatch, at, someJobs } from './factories';

const aws = useLocalAws();
const T0 = at('2026-11-03T10:00:00.000Z');
const later = (ms: number) => new Date(T0.getTime() + ms);

function store(): JobsStore {
  return createJobsStore({ ddb: aws.clients.doc, table: aws.resources.tables.jobs });
}

describe('createBatch', () => {
  it('creates the batch open with every job pending', async () => {
    const jobs = store();
    const batch = aBatch({ ci: { commit: 'abc123' }, preferOffPeak: true });

    const result = await jobs.createBatch(batch, someJobs(3));

    expect(result).toEqual({ created: true });
    const stored = await jobs.getBatch(batch);
    expect(stored).toMatchObject({
      status: 'open',
      total: 3,
      ended: 0,
      ci: { commit: 'abc123' },
      preferOffPeak: true,
      finalizeQueued: false,
    });
    const listed = await jobs.listJobs(batch);
    expect(listed.map((j) => [j.jobId, j.state, j.attempts])).toEqual([
      ['job-0000', 'pending', 0],
      ['job-0001', 'pending', 0],
      ['job-0002', 'pending', 0],
    ]);
  });

  it('does not duplicate or reset jobs when the planner message is redelivered', async () => {
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(3));
    await jobs.claimJob(batch, 'job-0000', 'worker-a', 60_000, T0);
    await jobs.endJob(
      batch,
      'job-0001',
      { state: 'failed', error: { code: 'binary', reason: 'not text' } },
      { now: T0 },
    );

    const again = await jobs.createBatch(batch, someJobs(3));

    expect(again).toEqual({ created: false });
    const listed = await jobs.listJobs(batch);
    expect(listed.map((j) => j.state)).toEqual(['running', 'failed', 'pending']);
    expect(listed[0]?.leaseOwner).toBe('worker-a');
    const stored = await jobs.getBatch(batch);
    expect(stored).toMatchObject({ total: 3, ended: 1, counters: { failed: 1 } });
  });

  it('writes batches larger than one transaction and lists them across pages', async () => {
    const jobs = store();
    const batch = aBatch();
    // Long paths push the listing past DynamoDB's 1 MB page.
    const many = someJobs(260).map((j) => ({ ...j, path: `${j.path}/${'x'.repeat(4_000)}` }));

    await jobs.createBatch(batch, many);

    const listed = await jobs.listJobs(batch);
    expect(listed).toHaveLength(260);
    expect(new Set(listed.map((j) => j.jobId)).size).toBe(260);
  });
});

describe('claimJob', () => {
  it('leases a job to one worker until the lease expires', async () => {
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(1));

    const first = await jobs.claimJob(batch, 'job-0000', 'worker-a', 60_000, T0);
    const during = await jobs.claimJob(batch, 'job-0000', 'worker-b', 60_000, later(30_000));
    const after = await jobs.claimJob(batch, 'job-0000', 'worker-b', 60_000, later(61_000));

    expect(first.job).toMatchObject({ state: 'running', leaseOwner: 'worker-a', attempts: 1 });
    expect(first.job?.leaseUntil).toBe(T0.getTime() + 60_000);
    expect(during).toEqual({ job: undefined, reason: 'leased' });
    expect(after.job).toMatchObject({ state: 'running', leaseOwner: 'worker-b', attempts: 2 });
  });

  it('grants a job to exactly one of many concurrent workers', async () => {
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(1));

    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        jobs.claimJob(batch, 'job-0000', `worker-${i}`, 60_000, T0),
      ),
    );

    expect(claims.filter((c) => c.job !== undefined)).toHaveLength(1);
    expect((await jobs.getJob(batch, 'job-0000'))?.attempts).toBe(1);
  });

  it('refuses a finished job, even after its lease would have expired', async () => {
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(1));
    await jobs.claimJob(batch, 'job-0000', 'worker-a', 60_000, T0);
    await jobs.endJob(
      batch,
      'job-0000',
      { state: 'failed', error: { code: 'BadRequestError', reason: 'request rejected' } },
      { now: later(1_000), owner: 'worker-a' },
    );

    const redelivered = await jobs.claimJob(batch, 'job-0000', 'worker-b', 60_000, later(999_000));

    expect(redelivered).toEqual({ job: undefined, reason: 'finished' });
  });

  it('refuses a job that does not exist', async () => {
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(1));

    const claim = await jobs.claimJob(batch, 'job-9999', 'worker-a', 60_000, T0);

    expect(claim).toEqual({ job: undefined, reason: 'missing' });
  });
});

describe('releaseJob and endJob', () => {
  it('lets only the lease owner give a job back', async () => {
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(1));
    await jobs.claimJob(batch, 'job-0000', 'worker-a', 60_000, T0);

    const stranger = await jobs.releaseJob(batch, 'job-0000', 'worker-b', T0);
    const owner = await jobs.releaseJob(batch, 'job-0000', 'worker-a', T0);

    expect([stranger, owner]).toEqual(['not_owner', 'released']);
    const job = await jobs.getJob(batch, 'job-0000');
    expect(job).toMatchObject({ state: 'pending', attempts: 1 });
    expect(job?.leaseOwner).toBeUndefined();
  });

  it('counts each terminal state once on the batch', async () => {
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(3));

    const ends = [
      await jobs.endJob(batch, 'job-0000', { state: 'skipped_budget' }, { now: T0 }),
      await jobs.endJob(batch, 'job-0000', { state: 'skipped_budget' }, { now: T0 }),
      await jobs.endJob(batch, 'job-0001', { state: 'reused', responseId: 'r-1' }, { now: T0 }),
    ];

    expect(ends).toEqual([true, false, true]);
    const stored = await jobs.getBatch(batch);
    expect(stored).toMatchObject({ ended: 2, counters: { skipped_budget: 1, reused: 1 } });
    expect((await jobs.getJob(batch, 'job-0001'))?.responseId).toBe('r-1');
  });
});

describe('cancelBatch', () => {
  it('cancels every pending job, refuses new claims and leaves no job pending', async () => {
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(5));
    await jobs.claimJob(batch, 'job-0000', 'worker-a', 60_000, T0);

    const result = await jobs.cancelBatch(batch, later(1_000));
    const claim = await jobs.claimJob(batch, 'job-0001', 'worker-b', 60_000, later(2_000));
    const release = await jobs.releaseJob(batch, 'job-0000', 'worker-a', later(3_000));

    expect(result).toEqual({ cancelled: 4 });
    expect(claim).toEqual({ job: undefined, reason: 'cancelled' });
    expect(release).toBe('cancelled');
    const states = (await jobs.listJobs(batch)).map((j) => j.state);
    expect(states).not.toContain('pending');
    expect(states.every((s) => s === 'cancelled')).toBe(true);
    expect(await jobs.getBatch(batch)).toMatchObject({
      status: 'cancelled',
      ended: 5,
      counters: { cancelled: 5 },
    });
  });

  it('lets a running job finish and is safe to repeat', async () => {
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(2));
    await jobs.claimJob(batch, 'job-0000', 'worker-a', 60_000, T0);
    await jobs.cancelBatch(batch, T0);

    const again = await jobs.cancelBatch(batch, T0);
    const finished = await jobs.endJob(
      batch,
      'job-0000',
      {
        state: 'failed',
        error: { code: 'DeadlineExceededError', reason: 'no answer in 10 minutes' },
      },
      { now: T0, owner: 'worker-a' },
    );

    expect(again).toEqual({ cancelled: 0 });
    expect(finished).toBe(true);
    expect(await jobs.getBatch(batch)).toMatchObject({
      ended: 2,
      counters: { cancelled: 1, failed: 1 },
    });
  });

  it('reports a batch that does not exist', async () => {
    expect(
      await store().cancelBatch({ team: 'payments', batchId: 'no-such-batch' }, T0),
    ).toBeUndefined();
  });
});

describe('markFinalizeQueued', () => {
  it('answers true exactly once, and only when every job has ended', async () => {
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(2));
    await jobs.endJob(batch, 'job-0000', { state: 'skipped_budget' }, { now: T0 });
    const early = await jobs.markFinalizeQueued(batch);
    await jobs.endJob(batch, 'job-0001', { state: 'skipped_budget' }, { now: T0 });

    const racing = await Promise.all(
      Array.from({ length: 5 }, () => jobs.markFinalizeQueued(batch)),
    );

    expect(early).toBe(false);
    expect(racing.filter(Boolean)).toHaveLength(1);
    expect(await jobs.getBatch(batch)).toMatchObject({
      status: 'finalizing',
      finalizeQueued: true,
    });
    expect(await jobs.finishBatch(batch, T0)).toBe(true);
    expect((await jobs.getBatch(batch))?.status).toBe('done');
  });
});

describe('result reuse', () => {
  it('returns a stored entry until it expires', async () => {
    const jobs = store();
    const expiresAt = Math.floor(T0.getTime() / 1000) + 3_600;
    await jobs.putReuse({
      requestHash: 'h-1',
      outputKey: 'outputs/payments/checkout/b0/src/a.md',
      responseId: 'r-9',
      createdAt: T0.toISOString(),
      expiresAt,
    });

    const fresh = await jobs.getReuse('h-1', later(60_000));
    const stale = await jobs.getReuse('h-1', later(3_600_000));

    expect(fresh).toMatchObject({ responseId: 'r-9', expiresAt });
    expect(stale).toBeUndefined();
    expect(await jobs.getReuse('h-unknown', T0)).toBeUndefined();
  });
});

describe('claimDrop', () => {
  const DAY_S = 86_400;
  const aDrop = (overrides: Partial<DropClaim> = {}): DropClaim => ({
    key: 'intake/payments/checkout/docs/src/a b.ts',
    team: 'payments',
    eventId: '0062A1B2C3D4E5F601',
    batchId: 'drop-first',
    expiresAt: Math.floor(T0.getTime() / 1000) + 4 * DAY_S,
    ...overrides,
  });
  const opts = (now: Date) => ({ now, staleAfterMs: 120_000 });

  it('grants an event to its first batch, again to that batch, and not to another', async () => {
    // Prepare
    const jobs = store();

    // Act
    const first = await jobs.claimDrop(aDrop(), opts(T0));
    const again = await jobs.claimDrop(aDrop(), opts(later(1_000)));
    const other = await jobs.claimDrop(aDrop({ batchId: 'drop-later' }), opts(later(2_000)));

    // Assess
    expect(first).toEqual({ claimed: true });
    expect(again).toEqual({ claimed: true });
    expect(other).toEqual({ claimed: false, owner: 'drop-first' });
  });

  it('treats a new sequencer for the same key as a new event', async () => {
    // Prepare
    const jobs = store();
    await jobs.claimDrop(aDrop(), opts(T0));

    // Act
    const overwrite = await jobs.claimDrop(
      aDrop({ eventId: '0062A1B2C3D4E5F6FF', batchId: 'drop-later' }),
      opts(later(1_000)),
    );

    // Assess
    expect(overwrite).toEqual({ claimed: true });
  });

  it('keeps an event for a batch that exists, however old the claim', async () => {
    // Prepare
    const jobs = store();
    await jobs.createBatch(aBatch({ batchId: 'drop-first' }), someJobs(1));
    await jobs.claimDrop(aDrop(), opts(T0));

    // Act
    const result = await jobs.claimDrop(aDrop({ batchId: 'drop-later' }), opts(later(3_600_000)));

    // Assess
    expect(result).toEqual({ claimed: false, owner: 'drop-first' });
  });

  it('hands over an event whose claiming batch was never created, once the claim is stale', async () => {
    // Prepare: drop-first claimed the event, then its planning failed before creating the batch
    const jobs = store();
    await jobs.claimDrop(aDrop(), opts(T0));

    // Act
    const early = await jobs.claimDrop(aDrop({ batchId: 'drop-later' }), opts(later(60_000)));
    const stale = await jobs.claimDrop(aDrop({ batchId: 'drop-later' }), opts(later(180_000)));
    const loser = await jobs.claimDrop(aDrop({ batchId: 'drop-third' }), opts(later(181_000)));

    // Assess
    expect(early).toEqual({ claimed: false, owner: 'drop-first' });
    expect(stale).toEqual({ claimed: true });
    expect(loser).toEqual({ claimed: false, owner: 'drop-later' });
  });

  it('counts an expired marker as absent', async () => {
    // Prepare
    const jobs = store();
    await jobs.claimDrop(aDrop({ expiresAt: Math.floor(T0.getTime() / 1000) + 60 }), opts(T0));
    await jobs.createBatch(aBatch({ batchId: 'drop-first' }), someJobs(1));

    // Act
    const result = await jobs.claimDrop(aDrop({ batchId: 'drop-later' }), opts(later(120_000)));

    // Assess
    expect(result).toEqual({ claimed: true });
  });
});

describe('markPlanned', () => {
  it('leaves a new batch unplanned until its work messages are recorded as sent', async () => {
    // Prepare
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(2));
    const before = await jobs.getBatch(batch);

    // Act
    const marked = await jobs.markPlanned(batch, { workMessages: 3, now: T0 });

    // Assess
    expect(before?.plannedAt).toBeUndefined();
    expect(marked).toBe(true);
    expect(await jobs.getBatch(batch)).toMatchObject({
      plannedAt: T0.toISOString(),
      workMessages: 3,
    });
  });

  it('keeps the first plan when a redelivered planning marks the batch again', async () => {
    // Prepare
    const jobs = store();
    const batch = aBatch();
    await jobs.createBatch(batch, someJobs(1));
    await jobs.markPlanned(batch, { workMessages: 2, now: T0 });

    // Act
    await jobs.markPlanned(batch, { workMessages: 0, now: later(5_000) });

    // Assess
    expect(await jobs.getBatch(batch)).toMatchObject({
      plannedAt: T0.toISOString(),
      workMessages: 2,
    });
  });

  it('marks nothing for a batch that does not exist', async () => {
    const NO_SUCH_BATCH = { team: 'payments', batchId: 'no-such-batch' };
    const jobs = store();

    const marked = await jobs.markPlanned(NO_SUCH_BATCH, { workMessages: 1, now: T0 });

    expect(marked).toBe(false);
    expect(await jobs.getBatch(NO_SUCH_BATCH)).toBeUndefined();
  });
});
