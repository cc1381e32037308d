/**
 * What every JobsStore must do, whatever holds its data: the conditional writes the planner and
 * the worker rely on. test/aws/jobs-store.test.ts runs it against the DynamoDB adapter,
 * test/contracts/fakes.test.ts against the in-memory fake, so a rule tested on the fake holds on
 * DynamoDB too.
 */
import { describe, expect, it } from 'vitest';
import type { DropEvent, JobsStore, NewPlan, OpenDrop } from '../../shared/ports/jobs';
import { aBatch, at, someJobs } from '../aws/factories';

const T0 = at('2026-11-03T10:00:00.000Z');
const NOW = new Date('2026-11-30T12:00:00Z');
const later = (ms: number) => new Date(T0.getTime() + ms);

/** Registers the JobsStore contract; `make` returns a store over empty (or unrelated) data. */
export function jobsStoreContract(make: () => JobsStore): void {
  describe('createBatch', () => {
    it('creates the batch open with every job pending', async () => {
      const jobs = make();
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
      const jobs = make();
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
  });

  describe('claimJob', () => {
    it('leases a job to one worker until the lease expires', async () => {
      const jobs = make();
      const batch = aBatch();
      await jobs.createBatch(batch, someJobs(1));

      const first = await jobs.claimJob(batch, 'job-0000', 'worker-a', 60_000, T0);
      const during = await jobs.claimJob(batch, 'job-0000', 'worker-b', 60_000, later(30_000));
      const after = await jobs.claimJob(batch, 'job-0000', 'worker-b', 60_000, later(61_000));

      expect(first.job).toMatchObject({ state: 'running', leaseOwner: 'worker-a', attempts: 1 });
      expect(first.job?.leaseUntil).toBe(T0.getTime() + 60_000);
      expect(during).toMatchObject({ job: undefined, reason: 'leased' });
      expect(during).toMatchObject({ leaseUntil: T0.getTime() + 60_000 });
      expect(after.job).toMatchObject({ state: 'running', leaseOwner: 'worker-b', attempts: 2 });
    });

    it('grants a job to exactly one of many concurrent workers', async () => {
      const jobs = make();
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
      const jobs = make();
      const batch = aBatch();
      await jobs.createBatch(batch, someJobs(1));
      await jobs.claimJob(batch, 'job-0000', 'worker-a', 60_000, T0);
      await jobs.endJob(
        batch,
        'job-0000',
        { state: 'failed', error: { code: 'BadRequestError', reason: 'request rejected' } },
        { now: later(1_000), owner: 'worker-a' },
      );

      const redelivered = await jobs.claimJob(
        batch,
        'job-0000',
        'worker-b',
        60_000,
        later(999_000),
      );

      expect(redelivered).toEqual({ job: undefined, reason: 'finished' });
    });

    it('refuses a job that does not exist', async () => {
      const jobs = make();
      const batch = aBatch();
      await jobs.createBatch(batch, someJobs(1));

      const claim = await jobs.claimJob(batch, 'job-9999', 'worker-a', 60_000, T0);

      expect(claim).toEqual({ job: undefined, reason: 'missing' });
    });
  });

  describe('releaseJob and endJob', () => {
    it('lets only the lease owner give a job back', async () => {
      const jobs = make();
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
      const jobs = make();
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
      const jobs = make();
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
      const jobs = make();
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
        await make().cancelBatch({ team: 'payments', batchId: 'no-such-batch' }, T0),
      ).toBeUndefined();
    });
  });

  describe('markFinalizeQueued', () => {
    it('answers true exactly once, and only when every job has ended', async () => {
      const jobs = make();
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
      const jobs = make();
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

  describe('in-flight requests', () => {
    const A = { team: 'payments', batchId: 'b-1', jobId: 'job-a' };
    const B = { team: 'ledger', batchId: 'b-2', jobId: 'job-b' };

    it('lets one holder send a request until its mark runs out or it lets go', async () => {
      // Prepare
      const jobs = make();
      await jobs.holdRequest('h-1', A, T0.getTime() + 60_000, T0);

      // Act
      const during = await jobs.holdRequest('h-1', B, T0.getTime() + 60_000, later(1_000));
      const again = await jobs.holdRequest('h-1', A, T0.getTime() + 90_000, later(1_000));
      const expired = await jobs.holdRequest('h-1', B, later(200_000).getTime(), later(100_000));
      await jobs.letGoRequest('h-1', A);
      const stillB = await jobs.holdRequest('h-1', A, later(300_000).getTime(), later(101_000));
      await jobs.letGoRequest('h-1', B);
      const free = await jobs.holdRequest('h-1', A, later(300_000).getTime(), later(102_000));

      // Assess
      expect(during).toEqual({ held: false, by: A, untilMs: T0.getTime() + 60_000 });
      expect(again).toEqual({ held: true });
      expect(expired).toEqual({ held: true });
      expect(stillB).toEqual({ held: false, by: B, untilMs: later(200_000).getTime() });
      expect(free).toEqual({ held: true });
    });
  });

  describe('reservations', () => {
    it('records a reservation only for the lease owner, and a release gives it back', async () => {
      // Prepare
      const jobs = make();
      const batch = aBatch();
      await jobs.createBatch(batch, someJobs(1));
      await jobs.claimJob(batch, 'job-0000', 'worker-a', 60_000, T0);

      // Act
      const stranger = await jobs.setReservation(batch, 'job-0000', 'worker-b', {
        nanoUsd: 5,
        month: '2026-11',
      });
      const owner = await jobs.setReservation(batch, 'job-0000', 'worker-a', {
        nanoUsd: 7_000,
        month: '2026-11',
      });
      const held = await jobs.getJob(batch, 'job-0000');
      await jobs.releaseJob(batch, 'job-0000', 'worker-a', later(1_000), { uncounted: true });

      // Assess
      expect([stranger, owner]).toEqual([false, true]);
      expect(held).toMatchObject({ reservedNanoUsd: 7_000, reservedMonth: '2026-11' });
      const released = await jobs.getJob(batch, 'job-0000');
      expect(released).toMatchObject({ state: 'pending', reservedNanoUsd: 0, attempts: 0 });
      expect(released?.reservedMonth).toBeUndefined();
      await expect(
        jobs.setReservation(batch, 'job-0000', 'worker-a', { nanoUsd: 1.5, month: '2026-11' }),
      ).rejects.toThrow(RangeError);
    });
  });

  describe('drops', () => {
    const DAY_S = 86_400;
    const PREFIX = { team: 'payments', project: 'checkout', kind: 'docs' } as const;
    const anEvent = (overrides: Partial<DropEvent> = {}): DropEvent => ({
      key: 'intake/payments/checkout/docs/src/a b.ts',
      eventId: '0062A1B2C3D4E5F601',
      expiresAt: Math.floor(T0.getTime() / 1000) + 4 * DAY_S,
      ...overrides,
    });
    const file = (name: string, eventId = 'e1') =>
      anEvent({ key: `intake/payments/checkout/docs/src/${name}`, eventId });
    const closeIt = async (jobs: JobsStore, at: Date, batchIds = ['b']) => {
      const open = await jobs.getOpenDrop(PREFIX);
      if (!open) throw new Error('no open drop');
      return jobs.closeDrop(open, { closedAt: at, files: 1, batchIds });
    };

    it('opens a drop for the first file of a prefix and adds later files to it', async () => {
      // Prepare
      const jobs = make();

      // Act
      const first = await jobs.joinDrop(PREFIX, [file('a.ts')], { now: T0, newDropId: 'drop-1' });
      const second = await jobs.joinDrop(PREFIX, [file('b.ts'), file('c.ts')], {
        now: later(5_000),
        newDropId: 'drop-2',
      });

      // Assess
      expect(first).toEqual({
        joined: [{ index: 0, dropId: 'drop-1' }],
        owned: [],
        opened: ['drop-1'],
      });
      expect(second.joined.map((j) => j.dropId)).toEqual(['drop-1', 'drop-1']);
      expect(second.opened).toEqual([]);
      expect(await jobs.getOpenDrop(PREFIX)).toMatchObject({
        dropId: 'drop-1',
        openedAt: T0.toISOString(),
        lastArrivalAt: later(5_000).toISOString(),
        arrivals: 3,
      });
      expect((await jobs.listDropFiles('drop-1')).map((f) => f.key.split('/').pop())).toEqual([
        'a.ts',
        'b.ts',
        'c.ts',
      ]);
    });

    it('takes an event again into its own drop, and not into a later one', async () => {
      // Prepare
      const jobs = make();
      await jobs.joinDrop(PREFIX, [anEvent()], { now: T0, newDropId: 'drop-first' });

      // Act
      const again = await jobs.joinDrop(PREFIX, [anEvent(), anEvent()], {
        now: later(1_000),
        newDropId: 'drop-x',
      });
      await closeIt(jobs, later(2_000));
      const later1 = await jobs.joinDrop(PREFIX, [anEvent()], {
        now: later(3_000),
        newDropId: 'drop-later',
      });

      // Assess
      expect(again.joined).toEqual([
        { index: 0, dropId: 'drop-first' },
        { index: 1, dropId: 'drop-first' },
      ]);
      expect(await jobs.listDropFiles('drop-first')).toHaveLength(1);
      expect(later1).toEqual({
        joined: [],
        owned: [{ index: 0, owner: 'drop-first' }],
        opened: [],
      });
      expect(await jobs.getOpenDrop(PREFIX)).toBeUndefined();
    });

    it('treats a new sequencer for the same key as a new event, in the next drop', async () => {
      // Prepare
      const jobs = make();
      await jobs.joinDrop(PREFIX, [anEvent()], { now: T0, newDropId: 'drop-first' });
      await closeIt(jobs, later(1_000));

      // Act
      const overwrite = await jobs.joinDrop(PREFIX, [anEvent({ eventId: '0062A1B2C3D4E5F6FF' })], {
        now: later(2_000),
        newDropId: 'drop-later',
      });

      // Assess
      expect(overwrite).toEqual({
        joined: [{ index: 0, dropId: 'drop-later' }],
        owned: [],
        opened: ['drop-later'],
      });
    });

    it('counts an expired marker as absent', async () => {
      // Prepare
      const jobs = make();
      await jobs.joinDrop(PREFIX, [anEvent({ expiresAt: Math.floor(T0.getTime() / 1000) + 60 })], {
        now: T0,
        newDropId: 'drop-first',
      });
      await closeIt(jobs, later(1_000));

      // Act
      const result = await jobs.joinDrop(PREFIX, [anEvent()], {
        now: later(120_000),
        newDropId: 'drop-later',
      });

      // Assess
      expect(result.joined).toEqual([{ index: 0, dropId: 'drop-later' }]);
    });

    it('closes a drop only if no file joined since it was read, and records its batches', async () => {
      // Prepare
      const jobs = make();
      await jobs.joinDrop(PREFIX, [file('a.ts')], { now: T0, newDropId: 'drop-1' });
      const read = (await jobs.getOpenDrop(PREFIX)) as OpenDrop;
      await jobs.joinDrop(PREFIX, [file('b.ts')], { now: later(1_000), newDropId: 'drop-2' });

      // Act
      const stale = await jobs.closeDrop(read, {
        closedAt: later(2_000),
        files: 1,
        batchIds: ['x'],
      });
      const fresh = await jobs.closeDrop((await jobs.getOpenDrop(PREFIX)) as OpenDrop, {
        closedAt: later(3_000),
        files: 2,
        batchIds: ['drop-1'],
      });
      const twice = await jobs.closeDrop(read, {
        closedAt: later(4_000),
        files: 1,
        batchIds: ['y'],
      });

      // Assess
      expect(stale).toBe(false);
      expect(fresh).toBe(true);
      expect(twice).toBe(false);
      expect(await jobs.getOpenDrop(PREFIX)).toBeUndefined();
      expect(await jobs.getClosedDrop('drop-1')).toEqual({
        ...PREFIX,
        dropId: 'drop-1',
        openedAt: T0.toISOString(),
        closedAt: later(3_000).toISOString(),
        files: 2,
        batchIds: ['drop-1'],
      });
    });

    it('lets files that race a close land either in the closed drop or in the next one', async () => {
      // Prepare
      const jobs = make();
      await jobs.joinDrop(PREFIX, [file('seed.ts')], { now: T0, newDropId: 'drop-1' });

      // Act: twenty files join from parallel planners while the drop is being closed
      const joins = Array.from({ length: 20 }, (_, i) =>
        jobs.joinDrop(PREFIX, [file(`f${i}.ts`)], { now: later(1_000), newDropId: `drop-n${i}` }),
      );
      let closed = false;
      for (let i = 0; i < 10 && !closed; i++)
        closed = await closeIt(jobs, later(2_000), ['drop-1']);
      const results = await Promise.all(joins);

      // Assess: every file is in exactly one drop
      const dropIds = new Set(results.flatMap((r) => r.joined.map((j) => j.dropId)));
      const files = (
        await Promise.all([...new Set([...dropIds, 'drop-1'])].map((d) => jobs.listDropFiles(d)))
      )
        .flat()
        .map((f) => f.key);
      expect(closed).toBe(true);
      expect(new Set(files).size).toBe(21);
      expect(files).toHaveLength(21);
    });
  });

  describe('latestBatch', () => {
    it("finds the newest batch of a team's project", async () => {
      // Prepare
      const jobs = make();
      await jobs.createBatch(aBatch({ batchId: 'old', createdAt: '2026-11-03T10:00:00.000Z' }), []);
      await jobs.createBatch(aBatch({ batchId: 'new', createdAt: '2026-11-03T11:00:00.000Z' }), []);
      await jobs.createBatch(
        aBatch({ batchId: 'other', project: 'ledger', createdAt: '2026-11-03T12:00:00.000Z' }),
        [],
      );

      // Act
      const latest = await jobs.latestBatch('payments', 'checkout');

      // Assess
      expect(latest?.batchId).toBe('new');
      expect(await jobs.latestBatch('payments', 'nothing')).toBeUndefined();
    });

    it("finds a team's own batch when another team has a batch of the same id", async () => {
      // Prepare: batch ids are unique only within a team
      const jobs = make();
      await jobs.createBatch(aBatch({ batchId: 'same', team: 'payments' }), someJobs(2));
      await jobs.createBatch(aBatch({ batchId: 'same', team: 'ledger' }), someJobs(3));

      // Act
      const latest = await jobs.latestBatch('ledger', 'checkout');

      // Assess
      expect(latest).toMatchObject({ team: 'ledger', batchId: 'same', total: 3 });
    });
  });

  describe('markPlanned', () => {
    it('leaves a new batch unplanned until its work messages are recorded as sent', async () => {
      // Prepare
      const jobs = make();
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
      const jobs = make();
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
      const jobs = make();

      const marked = await jobs.markPlanned(NO_SUCH_BATCH, { workMessages: 1, now: T0 });

      expect(marked).toBe(false);
      expect(await jobs.getBatch(NO_SUCH_BATCH)).toBeUndefined();
    });
  });

  function aPlan(shards: number, overrides: Partial<NewPlan> = {}): NewPlan {
    return { planId: 'p1', shards, jobs: shards * 10, batch: aBatch(), ...overrides };
  }

  describe('plans of sharded batches', () => {
    it('keeps the first plan written: a second planning of other content gets the first back', async () => {
      // Prepare
      const jobs = make();
      const plan = aPlan(3);
      const ref = plan.batch;

      // Act
      const first = await jobs.createPlan(ref, plan, NOW);
      const second = await jobs.createPlan(ref, { ...plan, planId: 'p2', shards: 5 }, NOW);

      // Assess
      expect(first).toMatchObject({ planId: 'p1', shards: 3, done: [], finishQueued: false });
      expect(second).toMatchObject({ planId: 'p1', shards: 3 });
      expect(await jobs.getPlan(ref)).toMatchObject({ planId: 'p1', jobs: 30 });
    });

    it('counts a shard done once however often it is marked', async () => {
      // Prepare
      const jobs = make();
      const plan = aPlan(3);
      await jobs.createPlan(plan.batch, plan, NOW);

      // Act
      await jobs.markShardDone(plan.batch, 1);
      await jobs.markShardDone(plan.batch, 1);
      const after = await jobs.markShardDone(plan.batch, 0);

      // Assess
      expect(after.done).toEqual([0, 1]);
      await expect(jobs.markShardDone(plan.batch, 3)).rejects.toThrow();
      expect((await jobs.getPlan(plan.batch))?.done).toEqual([0, 1]);
    });

    it('lets exactly one caller queue the finish, and only once every shard is done', async () => {
      // Prepare
      const jobs = make();
      const plan = aPlan(2);
      await jobs.createPlan(plan.batch, plan, NOW);
      await jobs.markShardDone(plan.batch, 0);
      const early = await jobs.markPlanFinishQueued(plan.batch);
      await jobs.markShardDone(plan.batch, 1);

      // Act: the two last shards' invocations both try at once, five times over.
      const tries = await Promise.all(
        Array.from({ length: 10 }, () => jobs.markPlanFinishQueued(plan.batch)),
      );

      // Assess
      expect(early).toBe(false);
      expect(tries.filter(Boolean)).toHaveLength(1);
      expect((await jobs.getPlan(plan.batch))?.finishQueued).toBe(true);
    });

    it("reads a plan's batch as the key's, whatever its attributes say", async () => {
      const jobs = make();
      const plan = aPlan(1);
      await jobs.createPlan(plan.batch, { ...plan, batch: { ...plan.batch } }, NOW);

      const read = await jobs.getPlan(plan.batch);

      expect(read?.batch.team).toBe(plan.batch.team);
      expect(read?.batch.batchId).toBe(plan.batch.batchId);
      expect(await jobs.getPlan({ team: 'other', batchId: plan.batch.batchId })).toBeUndefined();
    });
  });
}
