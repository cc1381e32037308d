/**
 * Cost truth end to end, on the local runtime with the simulator: billed responses the catalog
 * cannot price are kept and repriced to the provider's bill, caches are per model, and warm-ups
 * stay out of the counterfactual. The harness clock is pinned (HARNESS_EPOCH, Monday
 * 2026-11-30 12:00 UTC, off-peak), so every price here is known in advance.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/lib/run';
import { dropExamples, EXAMPLES_DIR, newSummaries } from '../../packages/tools/local';
import { PRICES_KEY } from '../../shared/pipeline/prices';
import type { Metrics } from '../../shared/ports/metrics';
import { METRICS } from '../../shared/resources';
import { bufferIo, projectDir } from '../cli/support';
import {
  cliDeps,
  ledgerTotals,
  monthOf,
  simTotals,
  submit,
  useFakePipeline,
  waitForDone,
} from '../support/fake-pipeline';
import { filesFor, manifestFor } from './support';

// Priced at the provider's `created`, so a response dated outside every row is unpriced.
const h = useFakePipeline({ settings: { pricing: { instant: 'created' } } });

/** `warmbatch <args>` in-process against the harness, on its clock. */
async function warmbatch(...args: string[]) {
  const io = bufferIo(await projectDir({}));
  const code = await runCli(args, cliDeps(h, io));
  return { code, stdout: io.out(), stderr: io.err() };
}

/** A metrics port that remembers what was added. */
function recordingMetrics(): Metrics & { count(name: string): number } {
  const added: { name: string; value: number }[] = [];
  const single = { clearDefaultDimensions() {}, addDimension() {}, addMetric() {} };
  return {
    addMetric: (name, _unit, value) => added.push({ name, value }),
    singleMetric: () => single,
    publishStoredMetrics() {},
    count: (name) => added.filter((a) => a.name === name).reduce((n, a) => n + a.value, 0),
  };
}

/** The model DeepSeek's API names since 2026-10-17 in this test: no built-in row knows it. */
const NEW_MODEL = 'deepseek-flash-1017';
/** Before deepseek-flash had any price (the V4.1 switch is 2026-09-09 16:00 UTC). */
const BEFORE_EVERY_ROW = Date.parse('2026-09-01T12:00:00Z') / 1000;

describe('billed responses the catalog cannot price', () => {
  it('finish their batches, stay in the ledger unpriced, and reprice to the simulator totals to the nano-dollar', async () => {
    // Prepare: team "renamed" gets answers naming an unknown model; team "dated" gets answers
    // dated before any deepseek-flash row. Warm-ups included: every billed response.
    h.scriptLlm(async (request, real) => {
      const answer = await real();
      if (request.team === 'renamed') return { ...answer, model: NEW_MODEL };
      if (request.team === 'dated') return { ...answer, created: BEFORE_EVERY_ROW };
      return answer;
    });
    const metrics = recordingMetrics();
    h.deps.metrics = metrics;
    const files = filesFor(4);

    // Act: both batches run to the end
    try {
      await submit(h, manifestFor('renamed-1', 'renamed', Object.keys(files)), files);
      await submit(h, manifestFor('dated-1', 'dated', Object.keys(files)), filesFor(4, 50));
      const summaries = [await waitForDone(h, 'renamed-1'), await waitForDone(h, 'dated-1')];

      // Assess: every job succeeded, every billed response is in the ledger, unpriced
      for (const s of summaries) {
        expect(s.states.succeeded).toBe(4);
        expect(s.unpricedRequests).toBe(s.requests);
        expect(s.costNanoUsd).toBe(0);
      }
      const month = monthOf(h);
      const records = [
        ...(await h.deps.ledger.records('renamed', month)).filter((r) => r.purpose !== 'aws'),
        ...(await h.deps.ledger.records('dated', month)).filter((r) => r.purpose !== 'aws'),
      ];
      const billed = simTotals(h);
      expect(records).toHaveLength(billed.requests);
      expect(records.every((r) => r.unpriced !== undefined && r.costNanoUsd === 0)).toBe(true);
      expect(new Set(records.map((r) => r.unpriced?.reason))).toEqual(
        new Set(['unknown_model', 'model_not_in_force']),
      );
      expect(records.find((r) => r.team === 'renamed')?.model).toBe(NEW_MODEL);
      expect(records.find((r) => r.team === 'dated')).toMatchObject({
        created: '2026-09-01T12:00:00.000Z',
        pricedAt: '2026-09-01T12:00:00.000Z',
      });
      expect(metrics.count(METRICS.unpricedResponses)).toBe(billed.requests);
      const { costNanoUsd: _cost, ...tokens } = billed;
      expect(await ledgerTotals(h)).toMatchObject(tokens);
    } finally {
      h.deps.metrics = undefined;
    }

    // Assess: `costs` shows them as their own line, never as $0
    const before = await warmbatch('costs', '--month', monthOf(h), '--format', 'json');
    expect(before.code).toBe(0);
    const unpricedReport = JSON.parse(before.stdout);
    expect(unpricedReport.totals.requests).toBe(0);
    expect(unpricedReport.unpriced).toMatchObject({ requests: simTotals(h).requests });
    const table = await warmbatch('costs', '--month', monthOf(h));
    expect(table.stdout).toMatch(/UNPRICED[^\n]*unpriced/);

    // Act: an operator adds the rows, then reprices the month twice
    await h.deps.objects.put(
      PRICES_KEY,
      JSON.stringify({
        rows: [
          {
            model: NEW_MODEL,
            from: '2026-10-17T00:00:00Z',
            billedAs: 'deepseek-flash',
            source: 'the model name the API returns since 2026-10-17',
          },
          {
            id: 'deepseek-flash-early',
            model: 'deepseek-flash',
            from: '2026-09-01T00:00:00Z',
            until: '2026-09-09T16:00:00Z',
            offPeak: { hit: 3_000, miss: 150_000, output: 600_000 },
            peak: { hit: 6_000, miss: 300_000, output: 1_200_000 },
            peakRule: 'deepseek',
            source: 'a bill dated before the published switch',
          },
        ],
      }),
    );
    const first = await warmbatch('costs', 'reprice', '--month', monthOf(h), '--json');
    const second = await warmbatch('costs', 'reprice', '--month', monthOf(h), '--json');
    const after = await warmbatch('costs', '--month', monthOf(h), '--format', 'json');

    // Assess: priced once, and equal to what the provider billed
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      repriced: simTotals(h).requests,
      stillUnpriced: [],
    });
    expect(JSON.parse(second.stdout)).toMatchObject({ repriced: 0, stillUnpriced: [] });
    const report = JSON.parse(after.stdout);
    expect(report.unpriced).toBeNull();
    expect(report.totals).toMatchObject(simTotals(h));
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
    expect((await h.deps.jobs.getBatch(h.ref('renamed-1')))?.totals.unpricedRequests).toBe(0);
  });
});

describe('aliases', () => {
  it('prices a deepseek-chat batch planned at 15:59:40 UTC on 2026-07-24 whose answers are dated 16:00:03 as V4 Flash', async () => {
    // Prepare: the reproduction of the issue; before, the worker threw and the batch never ended.
    h.setClock('2026-07-24T15:59:40Z');
    const created = Date.parse('2026-07-24T16:00:03Z') / 1000;
    h.scriptLlm(async (_request, real) => ({ ...(await real()), created }));
    const files = filesFor(3);

    // Act
    await submit(
      h,
      manifestFor('chat-1', 'chat', Object.keys(files), {
        model: 'deepseek-chat',
        createdAt: '2026-07-24T15:59:40.000Z',
      }),
      files,
    );
    const summary = await waitForDone(h, 'chat-1');

    // Assess
    expect(summary.states.succeeded).toBe(3);
    expect(summary.unpricedRequests).toBe(0);
    const records = (await h.deps.ledger.records('chat', '2026-07')).filter(
      (r) => r.purpose !== 'aws',
    );
    expect(records).toHaveLength(summary.requests);
    for (const r of records)
      expect(r.price).toMatchObject({ billedAs: 'deepseek-v4-flash', tier: 'flat' });
  });
});

describe('caches per model', () => {
  it('makes a second model pay its own misses on a prefix the first already cached', async () => {
    // Prepare: the first batch warms the shared prefix on deepseek-flash.
    const files = filesFor(4);
    await submit(h, manifestFor('flash-1', 'models', Object.keys(files)), files);
    const flash = await waitForDone(h, 'flash-1');

    // Act: the same files, so the same shared prefix, on deepseek-v4-pro
    const other = filesFor(4, 20);
    await submit(
      h,
      manifestFor('pro-1', 'models', Object.keys(other), { model: 'deepseek-v4-pro' }),
      other,
    );
    const pro = await waitForDone(h, 'pro-1');

    // Assess: each model's first warm-up of the shared prefix missed its whole prompt
    const records = (await h.deps.ledger.records('models', monthOf(h))).filter(
      (r) => r.purpose !== 'aws',
    );
    const firstOf = (batchId: string) =>
      records.find((r) => r.batchId === batchId && r.purpose === 'warmup');
    for (const batchId of ['flash-1', 'pro-1']) {
      const warmup = firstOf(batchId);
      expect(warmup?.usage.promptHitTokens).toBe(0);
      expect(warmup?.usage.promptMissTokens).toBeGreaterThan(0);
    }
    expect(firstOf('pro-1')?.usage.promptMissTokens).toBe(
      firstOf('flash-1')?.usage.promptMissTokens,
    );
    // and each then served its jobs from its own cache
    expect(flash.tokens.hit).toBeGreaterThan(0);
    expect(pro.tokens.hit).toBeGreaterThan(0);
    const byModel = h.sim.usage().byModel;
    expect(byModel['deepseek-v4-pro']?.missTokens).toBeGreaterThanOrEqual(
      firstOf('pro-1')?.usage.promptMissTokens ?? Number.POSITIVE_INFINITY,
    );
  });
});

describe('the bundled examples', () => {
  it('report warm-up cost apart, and savings against the jobs alone on GPT-5.4', async () => {
    // Prepare
    const dropped = await dropExamples(h.deps.objects, {
      examples: EXAMPLES_DIR,
      team: 'acme',
      project: 'shop',
      kinds: ['docs', 'tests'],
    });
    const poll = newSummaries(h.deps.objects);
    const done: Awaited<ReturnType<typeof poll>> = [];

    // Act
    await expect
      .poll(
        async () => {
          await h.settle();
          done.push(...(await poll()).filter((s) => s.team === 'acme'));
          return done.reduce((n, s) => n + s.jobs + s.rejectedInputs, 0);
        },
        { timeout: 60_000, interval: 250 },
      )
      .toBe(dropped);

    // Assess
    const records = (await h.deps.ledger.records('acme', monthOf(h))).filter(
      (r) => r.purpose !== 'aws',
    );
    const jobs = records.filter((r) => r.purpose === 'job');
    const overhead = records.filter((r) => r.purpose !== 'job');
    expect(overhead.length).toBeGreaterThan(0);
    const sum = (rs: typeof records, f: (r: (typeof records)[number]) => number) =>
      rs.reduce((n, r) => n + f(r), 0);
    const warmupCost = sum(overhead, (r) => r.costNanoUsd);
    const total = (f: (s: (typeof done)[number]) => number) => done.reduce((n, s) => n + f(s), 0);
    expect(warmupCost).toBeGreaterThan(0);
    expect(total((s) => s.warmupCostNanoUsd)).toBe(warmupCost);
    expect(total((s) => s.warmupRequests)).toBe(overhead.length);
    // The counterfactual prices the job answers only: a GPT-5.4 run sends no warm-ups.
    expect(sum(overhead, (r) => r.counterfactualNanoUsd)).toBe(0);
    expect(total((s) => s.counterfactualNanoUsd)).toBe(sum(jobs, (r) => r.counterfactualNanoUsd));
    // Savings pay for the warm-ups: what the jobs would cost on GPT-5.4 minus all that was paid.
    for (const s of done) {
      expect(s.savingsNanoUsd).toBe(s.counterfactualNanoUsd - s.costNanoUsd);
      expect(s.warmupShare).toBeCloseTo(s.warmupCostNanoUsd / s.costNanoUsd, 4);
    }
  });
});
