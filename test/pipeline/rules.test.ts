/**
 * The pipeline's rules for what it accepts, reuses, refuses, admits and defers, over the
 * in-memory pipeline: the planner, worker and finalize each see one message at a time, so every
 * outcome here follows from the rule, not from timing. What only the emulated whole can show
 * (S3 events becoming batches, re-sent notifications, spending under concurrency) stays in
 * test/pipeline/pipeline.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { type Manifest, manifestKeyFor } from '../../shared/inputs';
import { resultKeys } from '../../shared/pipeline/keys';
import type { WorkBody } from '../../shared/pipeline/messages';
import { processWorkMessage } from '../../shared/pipeline/work';
import {
  errorsOf,
  expectOneTerminalStateEach,
  ledgerTotals,
  monthOf,
  put as putIn,
  simTotals,
  submit as submitTo,
  summariesOfTeam,
  useFakePipeline,
  waitForDone,
} from '../support/fake-pipeline';
import { filesFor, manifestFor, source as sourceOf } from './support';

const CAPPED_TEAM = 'capped';
const CAP_NANO_USD = 1_000_000; // a handful of jobs' estimates, some dozen jobs' real costs

// No restricted endpoint is configured in this file. The executor keeps as many calls in flight
// as the emulated pipeline's does, so a message's jobs reserve their budget side by side.
const h = useFakePipeline({
  sim: { seed: 7 },
  settings: {
    maxFileBytes: 20_000,
    maxOutputTokens: { docs: 512, tests: 512 },
    budgets: { [CAPPED_TEAM]: CAP_NANO_USD },
    sensitivity: { projects: { vault: { secrets: 'restricted' } } },
    executor: { concurrency: 32 },
  },
});

const source = (i: number, lang: 'ts' | 'py') => sourceOf(i, `x.${lang}`);
const put = (key: string, body: string | Uint8Array) => putIn(h, key, body);
const submit = (manifest: Manifest, files: Record<string, string>) => submitTo(h, manifest, files);
const intakeUrl = () => h.deps.queueUrls.intake ?? '';

describe('inputs', () => {
  it('records a clear error for each poison input and completes the rest', async () => {
    // Prepare
    const base = 'intake/poison/shop';
    await put(`${base}/docs/good.ts`, source(3, 'ts'));
    await put(`${base}/docs/binary.bin`, new Uint8Array([0, 1, 2, 3, 0, 255]));
    await put(`${base}/docs/empty.ts`, '');
    await put(`${base}/docs/huge.ts`, 'x'.repeat(30_000));
    await put(`${base}/docs/latin1.ts`, new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    await put(`${base}/docs/a/../../escape.ts`, source(4, 'ts'));
    await put(`${base}/poems/verse.ts`, source(5, 'ts'));
    const broken1 = { team: 'broken', batchId: 'broken-1' };
    await put(manifestKeyFor(broken1), '{"batchId": "broken-1", "team": ');
    // A manifest under a batch id that is not one: refused, and its reason kept for its team
    const badIdKey = 'batches/broken/bad.id/manifest.json';
    await put(
      badIdKey,
      JSON.stringify(manifestFor('bad.id', 'broken', ['x.ts'], { project: 'shop' })),
    );

    // Act: however the drop is split into batches, every input ends in one of them
    const summaries = await summariesOfTeam(h, 'poison');
    expect(summaries.reduce((n, s) => n + s.jobs + s.rejectedInputs, 0)).toBe(7);

    // Assess
    const errors = (await Promise.all(summaries.map((s) => errorsOf(h, s)))).flat();
    const codes = errors.map((e) => e.code).sort();
    expect(codes).toEqual([
      'binary',
      'empty',
      'invalid_utf8',
      'path_traversal',
      'too_large',
      'unknown_kind',
    ]);
    expect(errors.find((e) => e.code === 'binary')?.path).toBe('binary.bin');
    expect(summaries.reduce((n, s) => n + s.states.succeeded, 0)).toBe(1);
    const broken = await waitForDone(h, broken1);
    expect(broken.rejectedInputs).toBe(1);
    const brokenErrors = (await h.deps.objects.getText(resultKeys(broken1).errors)) ?? '';
    expect(brokenErrors).toContain('bad_manifest');
    const brokenSummaries = await summariesOfTeam(h, 'broken');
    expect(brokenSummaries).toHaveLength(2);
    const badId = brokenSummaries.find((s) => s.batchId !== 'broken-1');
    expect(badId?.batchId).toMatch(/^invalid-[0-9a-f]{16}$/);
    const badIdErrors = await errorsOf(h, { team: 'broken', batchId: badId?.batchId ?? '' });
    expect(badIdErrors).toHaveLength(1);
    expect(badIdErrors[0]?.path).toBe(badIdKey);
    expect(badIdErrors[0]?.reason).toMatch(/batchId/);
    expect(h.sim.usage().totals.requests).toBe(1);
  });

  it('runs an OpenAI Batch API file and answers in its output format, rejecting a bad line', async () => {
    const system = { role: 'system', content: 'You document TypeScript modules. '.repeat(40) };
    const line = (id: string, file: string) =>
      JSON.stringify({
        custom_id: id,
        method: 'POST',
        url: '/v1/chat/completions',
        body: {
          model: 'deepseek-v4-flash',
          messages: [system, { role: 'user', content: `Document this file:\n${file}` }],
          max_tokens: 200,
        },
      });
    const jsonl = [
      line('req-1', source(1, 'ts')),
      line('req-2', source(2, 'ts')),
      JSON.stringify({ custom_id: 'req-3', method: 'POST', url: '/v1/chat/completions', body: {} }),
    ].join('\n');

    await put('intake/oai/shop/openai-batch/docs/requests.jsonl', jsonl);
    await h.settle();

    const outputs = await h.deps.objects.list('outputs/oai/shop/');
    expect(outputs).toHaveLength(2);
    const batch = { team: 'oai', batchId: outputs[0]?.split('/')[3] as string };
    const summary = await waitForDone(h, batch);
    expect(summary.states.succeeded).toBe(2);
    expect(summary.rejectedInputs).toBe(1);
    const lines = ((await h.deps.objects.getText(resultKeys(batch).results)) ?? '')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.custom_id).sort()).toEqual(['req-1', 'req-2']);
    for (const l of lines) {
      expect(l.response.status_code).toBe(200);
      expect(l.response.body.usage.prompt_tokens).toBeGreaterThan(0);
      expect(l.error).toBeNull();
    }
    const errors = (await h.deps.objects.getText(resultKeys(batch).errors)) ?? '';
    expect(errors).toMatch(/line 3/);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});

describe('reuse', () => {
  it('serves unchanged files of a second identical batch from reuse, with no call and no cost', async () => {
    // Prepare
    const files = { 'a.ts': source(10, 'ts'), 'b.ts': source(11, 'ts'), 'c.py': source(12, 'py') };
    await submit(manifestFor('reuse-1', 'reuse', Object.keys(files)), files);
    await waitForDone(h, 'reuse-1');
    h.sim.reset();

    // Act
    await submit(manifestFor('reuse-2', 'reuse', Object.keys(files)), files);
    const summary = await waitForDone(h, 'reuse-2');

    // Assess
    expect(summary.states.reused).toBe(3);
    expect(summary.costNanoUsd).toBe(0);
    expect(h.sim.usage().totals.requests).toBe(0);
    expect(await h.deps.objects.getText('outputs/reuse/shop/reuse-2/a.ts.md')).toBe(
      await h.deps.objects.getText('outputs/reuse/shop/reuse-1/a.ts.md'),
    );
  });

  it('makes no second call when a finished work message is delivered again', async () => {
    // Prepare
    const files = { 'x.ts': source(30, 'ts'), 'y.ts': source(31, 'ts') };
    await submit(manifestFor('redeliver-1', 'redeliver', Object.keys(files)), files);
    await waitForDone(h, 'redeliver-1');
    const calls = h.sim.usage().totals.requests;
    const jobs = await h.deps.jobs.listJobs(h.ref('redeliver-1'));
    const redelivered: WorkBody = {
      type: 'work',
      batchId: 'redeliver-1',
      prefixKey: 'k',
      model: 'deepseek-v4-flash',
      seq: 0,
      total: 1,
      team: 'redeliver',
      project: 'shop',
      kind: 'docs',
      sensitivity: 'public',
      reservedMonth: monthOf(h),
      jobs: jobs.map((j) => ({
        jobId: j.jobId,
        prefixKey: 'k',
        model: 'deepseek-v4-flash',
        sortKey: j.path,
        prefixTokens: 10,
        uniqueTokens: 10,
        maxOutputTokens: 512,
        path: j.path,
        requestKey: j.requestKey as string,
        requestHash: j.requestHash as string,
        outputKey: j.outputKey,
        estimateNanoUsd: 1,
      })),
    };

    // Act
    const result = await processWorkMessage(
      JSON.stringify(redelivered),
      { deadline: h.deps.clock.now().getTime() + 10_000, owner: 'second-delivery' },
      h.deps,
    );

    // Assess
    expect(result).toMatchObject({ claimed: 0, skipped: 2, retry: false });
    expect(h.sim.usage().totals.requests).toBe(calls);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});

describe('restricted inputs without a restricted endpoint', () => {
  it('fails restricted jobs clearly when no restricted endpoint is configured, sending nothing', async () => {
    // Prepare
    const files = { 'secret.ts': source(20, 'ts') };

    // Act
    await submit(
      manifestFor('restricted-1', 'vault', ['secret.ts'], { sensitivity: 'restricted' }),
      files,
    );
    const summary = await waitForDone(h, 'restricted-1');

    // Assess
    expect(summary.states.failed).toBe(1);
    const errors = (await h.deps.objects.getText(resultKeys(h.ref('restricted-1')).errors)) ?? '';
    expect(errors).toContain('no_endpoint');
    expect(errors).toContain('never sent to the public endpoint');
    expect(h.sim.usage().totals.requests).toBe(0);
  });

  it("fails a restricted project's drop no_endpoint before any call when no restricted endpoint is configured", async () => {
    // Act: the file carries no sensitivity; the stack configured its project as restricted
    await put('intake/vault/secrets/docs/src/key.ts', source(21, 'ts'));
    const summaries = await summariesOfTeam(h, 'vault');

    // Assess
    expect(summaries).toHaveLength(1);
    const [summary] = summaries;
    expect(summary?.states.failed).toBe(1);
    const errors = await errorsOf(h, { team: 'vault', batchId: summary?.batchId ?? '' });
    expect(errors.map((e) => e.code)).toEqual(['no_endpoint']);
    expect(h.sim.usage().totals.requests).toBe(0);
  });
});

describe('the monthly cap', () => {
  it('admits jobs as earlier ones settle, skipping only when what is spent leaves no room', async () => {
    // Prepare
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`g${i}.ts`] = source(200 + i, 'ts');

    // Act
    await submit(manifestFor('capped-2', CAPPED_TEAM, Object.keys(files)), files);
    const summary = await waitForDone(h, 'capped-2');

    // Assess: more jobs ran than could have held their upper bound at once
    const jobs = await h.deps.jobs.listJobs(h.ref('capped-2'));
    const estimate = Math.max(...jobs.map((j) => j.estimateNanoUsd));
    expect(summary.states.succeeded * estimate).toBeGreaterThan(2 * CAP_NANO_USD);
    const budget = await h.deps.ledger.budget(CAPPED_TEAM, monthOf(h));
    expect(budget?.spentNanoUsd).toBeLessThanOrEqual(CAP_NANO_USD);
    expect(budget?.committedNanoUsd).toBe(budget?.spentNanoUsd);
    // What was skipped says why in figures, and what would let it run
    const skipped = (await errorsOf(h, 'capped-2')).filter((e) => e.state === 'skipped_budget');
    expect(skipped.length).toBe(summary.states.skipped_budget);
    for (const e of skipped) {
      expect(e.reason).toContain('$0.001 for');
      expect(e.reason).toMatch(/\$\d+\.\d+ spent/);
      expect(e.reason).toContain(`raise budgets.${CAPPED_TEAM}`);
    }
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});

describe('off-peak deferral', () => {
  it('holds a batch that prefers off-peak through peak hours, then plans and completes it off-peak', async () => {
    // Prepare: deepseek-flash bills peak prices on Monday 30 November 2026 from 06:00 to 10:00 UTC
    const offPeakFrom = '2026-11-30T10:00:00.000Z';
    h.setClock('2026-11-30T09:00:00Z');
    const files = filesFor(3);
    const offpeak = { team: 'night', batchId: 'offpeak-1' };
    const manifest = manifestFor(offpeak.batchId, offpeak.team, Object.keys(files), {
      model: 'deepseek-flash',
      preferOffPeak: true,
      deadline: '2026-11-30T16:00:00Z',
    });
    const deferral = {
      type: 'deferred-batch',
      manifestKey: manifestKeyFor(offpeak),
      notBefore: offPeakFrom,
    };
    const waiting = () => h.queues.bodies(intakeUrl()).map((b) => JSON.parse(b));

    // Act: submitted at peak; the planner reads the manifest once
    await submit(manifest, files);
    await h.settle(1);

    // Assess: waiting on the intake queue, nothing planned, nothing called
    expect(waiting()).toEqual([deferral]);
    expect(await h.deps.jobs.getBatch(offpeak)).toBeUndefined();
    expect(h.sim.usage().totals.requests).toBe(0);

    // Act: the deferral comes back (its delay is shorter than the wait), still at peak
    await h.settle(1);

    // Assess: sent back again, still nothing planned
    expect(h.deps.clock.now().getTime()).toBeLessThan(Date.parse(offPeakFrom));
    expect(waiting()).toEqual([deferral]);
    expect(await h.deps.jobs.getBatch(offpeak)).toBeUndefined();
    expect(h.sim.usage().totals.requests).toBe(0);

    // Act: the queue's delays carry the clock to off-peak
    const summary = await waitForDone(h, offpeak);

    // Assess
    expect(summary.states.succeeded).toBe(3);
    await expectOneTerminalStateEach(h, offpeak, 3, summary);
    for (const job of await h.deps.jobs.listJobs(offpeak))
      expect(Date.parse(job.updatedAt)).toBeGreaterThanOrEqual(Date.parse(offPeakFrom));
    expect(h.sim.usage().totals.requests).toBeGreaterThanOrEqual(3);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});
