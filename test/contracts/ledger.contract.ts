/**
 * What every LedgerStore must do, with the JobsStore whose jobs and batches its billed responses
 * settle into: test/aws/ledger-store.test.ts holds the DynamoDB adapters to it,
 * test/contracts/fakes.test.ts the in-memory ones.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attemptFor } from '../../shared/pipeline/attempts';
import type { JobsStore } from '../../shared/ports/jobs';
import type { LedgerStore } from '../../shared/ports/ledger';
import { type CostRecord, WARMUP_JOB_ID } from '../../shared/ports/ledger';
import { defaultCatalog } from '../../shared/pricing/catalog';
import { type BatchRef, KINDS } from '../../shared/types';
import { aBatch, aCostRecord, at, someJobs, uid } from '../aws/factories';

const T0 = at('2026-11-03T10:00:00.000Z');
const MONTH = '2026-11';

/** Stores over empty (or unrelated) data that share one jobs table. */
export interface LedgerStores {
  jobs: JobsStore;
  ledger: LedgerStore;
}

/** Registers the LedgerStore contract. */
export function ledgerStoreContract(stores: () => LedgerStores): void {
  /** A batch of one job, claimed by `worker-a`, with 1,000,000 nano-USD reserved for it. */
  async function aRunningJob(team = 'payments') {
    const { jobs, ledger } = stores();
    const batch = aBatch({ team });
    await jobs.createBatch(batch, someJobs(1, { estimateNanoUsd: 1_000_000 }));
    await ledger.reserve(team, MONTH, 1_000_000);
    await jobs.claimJob(batch, 'job-0000', 'worker-a', 60_000, T0);
    const record = aCostRecord({ team, batchId: batch.batchId, jobId: 'job-0000' });
    const job = { owner: 'worker-a', outputKey: 'outputs/x.md', reservedNanoUsd: 1_000_000 };
    return { batch, record, job };
  }

  describe('recordBilledResponse', () => {
    it('records a billed response with its roll-up, budget settle, job and batch in one write', async () => {
      const { jobs, ledger } = stores();
      const { batch, record, job } = await aRunningJob();

      const result = await ledger.recordBilledResponse({ record, job });

      expect(result).toEqual({ duplicate: false, jobUpdated: true });
      expect(await ledger.records('payments', MONTH)).toEqual([record]);
      expect(await ledger.budget('payments', MONTH)).toMatchObject({
        committedNanoUsd: record.costNanoUsd,
        spentNanoUsd: record.costNanoUsd,
      });
      expect(await jobs.getJob(batch, 'job-0000')).toMatchObject({
        state: 'succeeded',
        responseId: record.responseId,
        usage: record.usage,
        costNanoUsd: record.costNanoUsd,
      });
      expect(await jobs.getBatch(batch)).toMatchObject({
        ended: 1,
        counters: { succeeded: 1 },
        totals: { requests: 1, hitTokens: 1_800, costNanoUsd: record.costNanoUsd },
      });
    });

    it('charges a response recorded twice once', async () => {
      const { jobs, ledger } = stores();
      const { batch, record, job } = await aRunningJob();

      const first = await ledger.recordBilledResponse({ record, job });
      const second = await ledger.recordBilledResponse({ record, job });

      expect([first.duplicate, second.duplicate]).toEqual([false, true]);
      await expectChargedOnce(record, batch);
      expect((await jobs.getBatch(batch))?.counters.succeeded).toBe(1);
    });

    it('charges a response recorded by racing workers once', async () => {
      const { ledger } = stores();
      const { batch, record, job } = await aRunningJob();

      const results = await Promise.all(
        Array.from({ length: 6 }, () => ledger.recordBilledResponse({ record, job })),
      );

      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      await expectChargedOnce(record, batch);
    });

    it('recognizes a redelivered response even when its timestamp differs', async () => {
      const { ledger } = stores();
      const { batch, record, job } = await aRunningJob();
      await ledger.recordBilledResponse({ record, job });

      const again = await ledger.recordBilledResponse({
        record: {
          ...record,
          sentAt: '2026-11-03T10:09:00.000Z',
          created: '2026-11-03T10:09:00.000Z',
        },
        job,
      });

      expect(again.duplicate).toBe(true);
      await expectChargedOnce(record, batch);
    });

    it('records a warm-up on the batch totals without touching any job', async () => {
      const { jobs, ledger } = stores();
      const batch = aBatch();
      await jobs.createBatch(batch, someJobs(1));
      const warmup = aCostRecord({ batchId: batch.batchId, jobId: WARMUP_JOB_ID });

      const result = await ledger.recordBilledResponse({ record: warmup });

      expect(result).toEqual({ duplicate: false, jobUpdated: false });
      expect(await jobs.getBatch(batch)).toMatchObject({
        ended: 0,
        totals: { requests: 1, warmupRequests: 1, warmupCostNanoUsd: warmup.costNanoUsd },
      });
      expect((await jobs.getJob(batch, 'job-0000'))?.state).toBe('pending');
    });

    it('still records the cost when the caller lost its lease, leaving the job to its new owner', async () => {
      const { jobs, ledger } = stores();
      const { batch, record, job } = await aRunningJob();
      await jobs.claimJob(batch, 'job-0000', 'worker-b', 60_000, at('2026-11-03T10:02:00Z'));

      const result = await ledger.recordBilledResponse({ record, job });

      expect(result).toEqual({ duplicate: false, jobUpdated: false });
      expect(await ledger.records('payments', MONTH)).toHaveLength(1);
      expect(await jobs.getJob(batch, 'job-0000')).toMatchObject({
        state: 'running',
        leaseOwner: 'worker-b',
      });
      // The reservation stays committed until worker-b settles it.
      expect((await ledger.budget('payments', MONTH))?.committedNanoUsd).toBe(
        1_000_000 + record.costNanoUsd,
      );
    });

    it('returns a reservation to the month it was made in', async () => {
      const { ledger } = stores();
      const { record, job } = await aRunningJob();

      await ledger.recordBilledResponse({
        record: { ...record, sentAt: '2026-12-01T00:00:05.000Z' },
        job: { ...job, reservedMonth: MONTH },
      });

      expect(await ledger.budget('payments', MONTH)).toMatchObject({ committedNanoUsd: 0 });
      expect(await ledger.budget('payments', '2026-12')).toMatchObject({
        committedNanoUsd: record.costNanoUsd,
        spentNanoUsd: record.costNanoUsd,
      });
    });

    it('books a record in the month its request was sent, whatever the provider dated it', async () => {
      const { ledger } = stores();
      const record = aCostRecord({ created: '2026-10-31T23:59:59.000Z' });

      await ledger.recordBilledResponse({ record });

      expect(await ledger.records('payments', MONTH)).toEqual([record]);
      expect(await ledger.records('payments', '2026-10')).toEqual([]);
    });

    it('refuses fractional money before writing anything', async () => {
      const { ledger } = stores();
      const record = aCostRecord({ costNanoUsd: 12.5 });

      await expect(ledger.recordBilledResponse({ record })).rejects.toThrow(RangeError);
      expect(await ledger.records('payments', MONTH)).toEqual([]);
    });
  });

  async function expectChargedOnce(record: CostRecord, batch: BatchRef): Promise<void> {
    const { jobs, ledger } = stores();
    expect(await ledger.records(record.team, MONTH)).toHaveLength(1);
    const rollups = await ledger.rollups(MONTH);
    expect(rollups).toHaveLength(1);
    expect(rollups[0]).toMatchObject({ requests: 1, costNanoUsd: record.costNanoUsd });
    expect(await ledger.budget(record.team, MONTH)).toMatchObject({
      committedNanoUsd: record.costNanoUsd,
      spentNanoUsd: record.costNanoUsd,
    });
    expect((await jobs.getBatch(batch))?.totals).toMatchObject({
      requests: 1,
      costNanoUsd: record.costNanoUsd,
    });
  }

  describe('attempts', () => {
    const anAttempt = (batch: BatchRef, jobId = 'job-0000') =>
      attemptFor(
        {
          ...batch,
          project: 'checkout',
          kind: 'docs',
          model: 'deepseek-v4-flash',
          jobId,
          owner: 'worker-a',
          promptTokens: 1_000,
          maxTokens: 200,
        },
        T0,
        'gpt-5.4',
        defaultCatalog(),
      );

    it("keeps apart two teams' batches of the same id: each reconciles only its own", async () => {
      // Prepare: batch ids are unique only within a team
      const { ledger } = stores();
      const ours = { team: 'payments', batchId: 'same' };
      const theirs = { team: 'ledger', batchId: 'same' };
      const mine = anAttempt(ours);
      const other = anAttempt(theirs);
      await ledger.recordAttempt(mine);
      await ledger.recordAttempt(other);

      // Act
      const open = await ledger.openAttempts(ours);
      const reconciled = await ledger.reconcileAttempt(mine);

      // Assess
      expect(open).toEqual([mine]);
      expect(reconciled).toBe(true);
      expect(await ledger.openAttempts(ours)).toEqual([]);
      expect(await ledger.openAttempts(theirs)).toEqual([other]);
      expect((await ledger.records('payments', MONTH)).map((r) => r.estimated)).toEqual([
        'billed_unrecorded',
      ]);
      expect(await ledger.records('ledger', MONTH)).toEqual([]);
    });

    it('books an estimate in the month its call was sent, priced then, and a warm-up as overhead', async () => {
      // Prepare: a job's call and a warm-up sent just before midnight, reconciled the next month
      const { jobs, ledger } = stores();
      const batch = aBatch({ team: 'payments' });
      await jobs.createBatch(batch, someJobs(1));
      const sentAt = at('2026-10-31T23:59:59.000Z');
      const call = {
        ...batch,
        project: 'checkout',
        kind: 'docs' as const,
        model: 'deepseek-v4-flash',
        owner: 'worker-a',
        promptTokens: 1_000,
        maxTokens: 200,
      };
      const job = attemptFor({ ...call, jobId: 'job-0000' }, sentAt, 'gpt-5.4', defaultCatalog());
      const warmup = attemptFor(call, sentAt, 'gpt-5.4', defaultCatalog());

      // Act
      await ledger.recordAttempt(job);
      await ledger.recordAttempt(warmup);
      for (const a of await ledger.openAttempts(batch)) await ledger.reconcileAttempt(a);

      // Assess
      expect(job.price?.billedAs).toBe('deepseek-flash');
      expect(job.estimatedCostNanoUsd).toBeGreaterThan(0);
      // An upper bound is not a saving: the job's retried answer carries the counterfactual.
      expect(job.estimatedCounterfactualNanoUsd).toBe(0);
      expect(warmup.estimatedCounterfactualNanoUsd).toBe(0);
      expect(await ledger.records('payments', MONTH)).toEqual([]);
      const records = await ledger.records('payments', '2026-10');
      const described = records.map((r) => [r.purpose, r.sentAt, r.pricedAt, r.estimated]);
      expect(described.sort()).toEqual([
        ['job', sentAt.toISOString(), sentAt.toISOString(), 'billed_unrecorded'],
        ['warmup', sentAt.toISOString(), sentAt.toISOString(), 'billed_unrecorded'],
      ]);
      const total = job.estimatedCostNanoUsd + warmup.estimatedCostNanoUsd;
      expect((await jobs.getBatch(batch))?.totals).toMatchObject({
        requests: 2,
        estimatedRequests: 2,
        costNanoUsd: total,
        estimatedCostNanoUsd: total,
        warmupRequests: 1,
        warmupCostNanoUsd: warmup.estimatedCostNanoUsd,
        counterfactualNanoUsd: 0,
      });
      expect(await ledger.budget('payments', '2026-10')).toMatchObject({ spentNanoUsd: total });
    });

    it('keeps an estimate no row prices unpriced, and a reprice prices it as an estimate', async () => {
      // Prepare
      const { jobs, ledger } = stores();
      const batch = aBatch({ team: 'payments' });
      await jobs.createBatch(batch, someJobs(1));
      const attempt = attemptFor(
        {
          ...batch,
          project: 'checkout',
          kind: 'docs',
          model: 'deepseek-flash-1017',
          jobId: 'job-0000',
          owner: 'worker-a',
          promptTokens: 1_000,
          maxTokens: 200,
        },
        T0,
        'gpt-5.4',
        defaultCatalog(),
      );
      await ledger.recordAttempt(attempt);

      // Act
      await ledger.reconcileAttempt(attempt);
      const [unpriced] = await ledger.unpricedRecords(MONTH);
      if (!unpriced) throw new Error('no unpriced record');
      const before = (await jobs.getBatch(batch))?.totals;
      await ledger.repriceRecord(unpriced, PRICED);

      // Assess
      expect(attempt).toMatchObject({
        estimatedCostNanoUsd: 0,
        unpriced: { reason: 'unknown_model' },
      });
      expect(unpriced).toMatchObject({ estimated: 'billed_unrecorded', costNanoUsd: 0 });
      expect(before).toMatchObject({
        estimatedRequests: 1,
        estimatedCostNanoUsd: 0,
        unpricedRequests: 1,
      });
      expect((await jobs.getBatch(batch))?.totals).toMatchObject({
        estimatedRequests: 1,
        costNanoUsd: PRICED.costNanoUsd,
        estimatedCostNanoUsd: PRICED.costNanoUsd,
        unpricedRequests: 0,
      });
      expect((await ledger.rollups(MONTH)).find((r) => !r.unpriced)).toMatchObject({
        estimatedRequests: 1,
        estimatedCostNanoUsd: PRICED.costNanoUsd,
      });
    });

    it("closes an attempt by its team's key", async () => {
      // Prepare
      const { ledger } = stores();
      const ours = { team: 'payments', batchId: 'same' };
      const theirs = { team: 'ledger', batchId: 'same' };
      const mine = anAttempt(ours);
      const other = anAttempt(theirs);
      await ledger.recordAttempt(mine);
      await ledger.recordAttempt(other);

      // Act
      await ledger.closeAttempt({ ...ours, jobId: mine.jobId, attemptId: mine.attemptId });
      await ledger.closeAttempt({ ...ours, jobId: other.jobId, attemptId: other.attemptId });

      // Assess
      expect(await ledger.openAttempts(ours)).toEqual([]);
      expect(await ledger.openAttempts(theirs)).toEqual([other]);
    });
  });

  describe('budgets', () => {
    it('never commits more than the cap under 32 concurrent reservations', async () => {
      const { ledger } = stores();
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 5_000_000 }),
          fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 32, maxLength: 32 }),
          async (cap, estimates) => {
            const team = uid('team');
            await ledger.setBudget(team, MONTH, cap);

            const granted = await Promise.all(estimates.map((e) => ledger.reserve(team, MONTH, e)));

            const sum = estimates.reduce((acc, e, i) => acc + (granted[i] ? e : 0), 0);
            const committed = (await ledger.budget(team, MONTH))?.committedNanoUsd;
            expect(sum).toBeLessThanOrEqual(cap);
            expect(committed).toBe(sum);
            // A refusal is never spurious: the estimate did not fit in what was left.
            estimates.forEach((e, i) => {
              if (!granted[i]) expect(sum + e).toBeGreaterThan(cap);
            });
          },
        ),
        { numRuns: 8 },
      );
    });

    it('grants every reservation of a team without a cap, and tracks them', async () => {
      const { ledger } = stores();

      const granted = await Promise.all([
        ledger.reserve('free', MONTH, 7),
        ledger.reserve('free', MONTH, 5),
      ]);

      expect(granted).toEqual([true, true]);
      expect(await ledger.budget('free', MONTH)).toMatchObject({ committedNanoUsd: 12 });
      expect((await ledger.budget('free', MONTH))?.capNanoUsd).toBeUndefined();
    });

    it('frees released reservations for later ones', async () => {
      const { ledger } = stores();
      await ledger.setBudget('payments', MONTH, 100);
      await ledger.reserve('payments', MONTH, 100);
      const refused = await ledger.reserve('payments', MONTH, 1);

      await ledger.release('payments', MONTH, 40);
      const granted = await ledger.reserve('payments', MONTH, 40);

      expect([refused, granted]).toEqual([false, true]);
      expect(await ledger.budget('payments', MONTH)).toMatchObject({
        capNanoUsd: 100,
        committedNanoUsd: 100,
      });
    });

    it('applies a raised cap to the next reservation', async () => {
      const { ledger } = stores();
      await ledger.setBudget('payments', MONTH, 10);
      const before = await ledger.reserve('payments', MONTH, 50);

      await ledger.setBudget('payments', MONTH, 60);
      const after = await ledger.reserve('payments', MONTH, 50);

      expect([before, after]).toEqual([false, true]);
    });
  });

  describe('roll-ups', () => {
    const anyRecord = (teams: string[]) =>
      fc.record({
        team: fc.constantFrom(...teams),
        project: fc.constantFrom('api', 'web'),
        model: fc.constantFrom('deepseek-v4-flash', 'deepseek-v4-pro'),
        kind: fc.constantFrom(...KINDS),
        jobId: fc.constantFrom('job-0000', WARMUP_JOB_ID),
        sentAt: fc
          .integer({ min: 0, max: 29 * 86_400_000 })
          .map((ms) => new Date(Date.parse('2026-11-01T00:00:00Z') + ms).toISOString()),
        usage: fc.record({
          promptHitTokens: fc.nat(200_000),
          promptMissTokens: fc.nat(200_000),
          completionTokens: fc.nat(32_000),
          reasoningTokens: fc.nat(8_000),
        }),
        costNanoUsd: fc.nat(50_000_000),
        counterfactualNanoUsd: fc.nat(900_000_000),
      });

    it('sum to the cost records, in tokens and nano-USD', async () => {
      const { ledger } = stores();
      await fc.assert(
        fc.asyncProperty(fc.integer(), async (seed) => {
          const teams = [uid('team'), uid('team')];
          const records = fc
            .sample(anyRecord(teams), { numRuns: 25, seed })
            .map((r) => aCostRecord({ ...r, batchId: 'batch-r' }));

          await Promise.all(records.map((record) => ledger.recordBilledResponse({ record })));

          const stored = (await Promise.all(teams.map((t) => ledger.records(t, MONTH)))).flat();
          const rollups = (await ledger.rollups(MONTH)).filter((r) => teams.includes(r.team));
          expect(stored).toHaveLength(records.length);
          const fields = ['hitTokens', 'missTokens', 'outputTokens', 'reasoningTokens'] as const;
          const usageField = {
            hitTokens: 'promptHitTokens',
            missTokens: 'promptMissTokens',
            outputTokens: 'completionTokens',
            reasoningTokens: 'reasoningTokens',
          } as const;
          const sumRollups = (f: keyof (typeof rollups)[number] & string) =>
            rollups.reduce((acc, r) => acc + (r[f] as number), 0);
          expect(sumRollups('requests')).toBe(stored.length);
          for (const f of fields) {
            expect(sumRollups(f)).toBe(stored.reduce((acc, r) => acc + r.usage[usageField[f]], 0));
          }
          expect(sumRollups('costNanoUsd')).toBe(stored.reduce((a, r) => a + r.costNanoUsd, 0));
          expect(sumRollups('counterfactualNanoUsd')).toBe(
            stored.reduce((a, r) => a + r.counterfactualNanoUsd, 0),
          );
        }),
        { numRuns: 4 },
      );
    });
  });

  /** An unpriced job answer: the provider named a model no row prices. */
  function unpricedOf(record: CostRecord): CostRecord {
    const { price: _price, ...rest } = record;
    return {
      ...rest,
      model: 'deepseek-flash-1017',
      costNanoUsd: 0,
      counterfactualNanoUsd: 0,
      unpriced: { reason: 'unknown_model', detail: 'Unknown model "deepseek-flash-1017"' },
    };
  }

  const PRICED = {
    costNanoUsd: 285_040,
    counterfactualNanoUsd: 18_500_000,
    price: {
      rowId: 'deepseek-flash-1017@2026-10-17T00:00:00Z',
      origin: 'prices.json',
      billedAs: 'deepseek-flash',
      tier: 'off-peak' as const,
    },
  };

  describe('unpriced records', () => {
    it('records an unpriced job answer with its tokens, succeeds the job, and keeps its reservation', async () => {
      // Prepare
      const { jobs, ledger } = stores();
      const { batch, record, job } = await aRunningJob();
      const unpriced = unpricedOf(record);

      // Act
      const result = await ledger.recordBilledResponse({ record: unpriced, job });

      // Assess
      expect(result).toEqual({ duplicate: false, jobUpdated: true });
      expect(await ledger.records('payments', MONTH)).toEqual([
        { ...unpriced, reservation: { nanoUsd: 1_000_000, month: MONTH } },
      ]);
      // Its cost is unknown, not 0: the job says why until it is repriced.
      const done = await jobs.getJob(batch, 'job-0000');
      expect(done?.state).toBe('succeeded');
      expect(done?.costNanoUsd).toBeUndefined();
      expect(done?.costUnpriced).toBe('unknown_model');
      expect(await ledger.rollups(MONTH)).toEqual([
        expect.objectContaining({
          model: 'deepseek-flash-1017',
          unpriced: true,
          requests: 1,
          hitTokens: 1_800,
          costNanoUsd: 0,
        }),
      ]);
      // The cost is not known: the reservation stays committed, nothing is spent yet.
      expect(await ledger.budget('payments', MONTH)).toMatchObject({
        committedNanoUsd: 1_000_000,
        spentNanoUsd: 0,
      });
      expect((await jobs.getBatch(batch))?.totals).toMatchObject({
        requests: 1,
        costNanoUsd: 0,
        unpricedRequests: 1,
      });
      expect((await ledger.unpricedRecords(MONTH)).map((r) => r.responseId)).toEqual([
        record.responseId,
      ]);
    });

    it('reprices an unpriced record exactly once, however many runs race', async () => {
      // Prepare
      const { jobs, ledger } = stores();
      const { batch, record, job } = await aRunningJob();
      await ledger.recordBilledResponse({ record: unpricedOf(record), job });
      const [stored] = await ledger.unpricedRecords(MONTH);
      if (!stored) throw new Error('no unpriced record');

      // Act
      const runs = await Promise.all(
        Array.from({ length: 4 }, () => ledger.repriceRecord(stored, PRICED)),
      );
      const again = await ledger.repriceRecord(stored, PRICED);

      // Assess
      expect(runs.filter(Boolean)).toHaveLength(1);
      expect(again).toBe(false);
      // The job now carries the priced cost: every figure derived from job costs follows.
      const repricedJob = await jobs.getJob(batch, 'job-0000');
      expect(repricedJob?.costNanoUsd).toBe(PRICED.costNanoUsd);
      expect(repricedJob?.costUnpriced).toBeUndefined();
      const [after] = await ledger.records('payments', MONTH);
      expect(after).toMatchObject({ ...PRICED, model: 'deepseek-flash-1017' });
      expect(after?.unpriced).toBeUndefined();
      expect(await ledger.unpricedRecords(MONTH)).toEqual([]);
      const rollups = await ledger.rollups(MONTH);
      expect(rollups.find((r) => r.unpriced)).toMatchObject({ requests: 0, hitTokens: 0 });
      expect(rollups.find((r) => !r.unpriced)).toMatchObject({
        requests: 1,
        hitTokens: 1_800,
        costNanoUsd: PRICED.costNanoUsd,
        counterfactualNanoUsd: PRICED.counterfactualNanoUsd,
      });
      expect(await ledger.budget('payments', MONTH)).toMatchObject({
        committedNanoUsd: PRICED.costNanoUsd,
        spentNanoUsd: PRICED.costNanoUsd,
      });
      expect((await jobs.getBatch(batch))?.totals).toMatchObject({
        requests: 1,
        costNanoUsd: PRICED.costNanoUsd,
        unpricedRequests: 0,
      });
    });

    it('counts an unpriced warm-up as overhead once priced', async () => {
      const { jobs, ledger } = stores();
      const batch = aBatch();
      await jobs.createBatch(batch, someJobs(1));
      const warmup = unpricedOf(aCostRecord({ batchId: batch.batchId, jobId: WARMUP_JOB_ID }));
      await ledger.recordBilledResponse({ record: warmup });

      await ledger.repriceRecord(warmup, { ...PRICED, counterfactualNanoUsd: 0 });

      expect((await jobs.getBatch(batch))?.totals).toMatchObject({
        warmupRequests: 1,
        warmupCostNanoUsd: PRICED.costNanoUsd,
        counterfactualNanoUsd: 0,
      });
      expect(await ledger.budget('payments', MONTH)).toMatchObject({
        committedNanoUsd: PRICED.costNanoUsd,
        spentNanoUsd: PRICED.costNanoUsd,
      });
    });
  });

  describe('daily roll-ups', () => {
    it('are written with each record, by its UTC day, and moved with it when it is repriced', async () => {
      // Prepare
      const { ledger } = stores();
      const late = aCostRecord({
        team: 'web',
        sentAt: '2026-11-30T23:59:59.999Z',
        costNanoUsd: 700,
      });
      const early = aCostRecord({
        team: 'web',
        sentAt: '2026-12-01T00:00:00.000Z',
        costNanoUsd: 300,
      });
      const unpriced = aCostRecord({
        team: 'web',
        sentAt: '2026-11-29T10:00:00.000Z',
        costNanoUsd: 0,
        counterfactualNanoUsd: 0,
        unpriced: { reason: 'unknown_model', detail: 'no row' },
      });
      delete unpriced.price;

      // Act
      for (const record of [late, early, unpriced]) await ledger.recordBilledResponse({ record });
      await ledger.repriceRecord(unpriced, {
        costNanoUsd: 50,
        counterfactualNanoUsd: 0,
        price: { rowId: 'r@1', origin: 'test', billedAs: 'deepseek-flash', tier: 'flat' },
      });

      // Assess
      const november = await ledger.dailyRollups('2026-11');
      const priced = november.filter((r) => !r.unpriced);
      expect(priced.map((r) => [r.day, r.requests, r.costNanoUsd])).toEqual([
        ['2026-11-29', 1, 50],
        ['2026-11-30', 1, 700],
      ]);
      expect(november.filter((r) => r.unpriced).map((r) => r.requests)).toEqual([0]);
      expect((await ledger.dailyRollups('2026-12')).map((r) => [r.day, r.costNanoUsd])).toEqual([
        ['2026-12-01', 300],
      ]);
      const monthly = (await ledger.rollups('2026-11')).filter((r) => !r.unpriced);
      expect(monthly.map((r) => r.costNanoUsd)).toEqual([750]);
      expect((await ledger.recordsOfDay('web', '2026-11-30')).map((r) => r.responseId)).toEqual([
        late.responseId,
      ]);
    });

    it('keep each lane apart, as the monthly ones do', async () => {
      // Prepare
      const { ledger } = stores();
      const sentAt = '2026-11-18T09:00:00.000Z';
      const primary = aCostRecord({ team: 'lanes', sentAt, costNanoUsd: 400 });
      const repair = aCostRecord({ team: 'lanes', sentAt, costNanoUsd: 90, lane: 'repair' });

      // Act
      for (const record of [primary, repair]) await ledger.recordBilledResponse({ record });

      // Assess
      const days = (await ledger.dailyRollups('2026-11')).filter((r) => r.team === 'lanes');
      expect(days.map((r) => [r.day, r.lane, r.costNanoUsd]).sort()).toEqual([
        ['2026-11-18', 'primary', 400],
        ['2026-11-18', 'repair', 90],
      ]);
      const months = (await ledger.rollups('2026-11')).filter((r) => r.team === 'lanes');
      expect(months.map((r) => [r.lane, r.costNanoUsd]).sort()).toEqual([
        ['primary', 400],
        ['repair', 90],
      ]);
    });

    it("book a batch's verdicts on its day, once per content, moving only the difference", async () => {
      // Prepare
      const { ledger } = stores();
      const team = uid('quality');
      const batch = { team, batchId: 'b-1' };
      const row = (passed: number) => ({
        project: 'shop',
        model: 'deepseek-flash',
        kind: 'tests' as const,
        lane: 'primary' as const,
        quality: { testsValidated: 10, testsPassed: passed, testsPassedFirst: passed },
      });
      const ofTeam = async () =>
        (await ledger.dailyRollups('2026-11'))
          .filter((r) => r.team === team)
          .map((r) => [r.day, r.model, r.testsValidated, r.testsPassed]);

      // Act: recorded, recorded again unchanged, then corrected.
      await ledger.recordQuality({ batch, month: MONTH, day: '2026-11-05', rows: [row(6)] });
      const again = await ledger.recordQuality({
        batch,
        month: MONTH,
        day: '2026-11-05',
        rows: [row(6)],
      });
      await ledger.recordQuality({ batch, month: MONTH, day: '2026-11-05', rows: [row(8)] });

      // Assess
      expect(again.changed).toBe(false);
      expect(await ofTeam()).toEqual([['2026-11-05', 'deepseek-flash', 10, 8]]);
      const month = (await ledger.rollups(MONTH)).filter((r) => r.team === team);
      expect(month.map((r) => [r.testsValidated, r.testsPassed])).toEqual([[10, 8]]);
    });

    it('refuses a quality day outside its month', async () => {
      const { ledger } = stores();

      await expect(
        ledger.recordQuality({
          batch: { team: 'x', batchId: 'b' },
          month: MONTH,
          day: '2026-12-01',
          rows: [],
        }),
      ).rejects.toThrow(/not a day of 2026-11/);
    });
  });
}
