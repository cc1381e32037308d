import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SqsSpyMessage } from 'fauxqs';
import { describe, expect, it } from 'vitest';
import { encodeS3EventKey } from '../../local/runtime/s3-bridge';
import { type Manifest, manifestKeyFor } from '../../shared/inputs';
import type { ResultsSummary } from '../../shared/pipeline/finalize';
import { resultKeys } from '../../shared/pipeline/keys';
import type { WorkBody } from '../../shared/pipeline/messages';
import { processWorkMessage } from '../../shared/pipeline/work';
import {
  type BatchLike,
  errorsOf,
  expectOneTerminalStateEach,
  filesFor,
  ledgerTotals,
  manifestFor,
  monthOf,
  put as putIn,
  simTotals,
  source as sourceOf,
  submit as submitTo,
  summariesOfTeam,
  useHarness,
  waitForDone,
} from './support';

const CAPPED_TEAM = 'capped';
const CAP_NANO_USD = 1_000_000; // a handful of jobs' estimates, some dozen jobs' real costs

// No restricted endpoint is configured in this file.
// A deferred batch comes back every second, so the off-peak round trip stays short.
const h = useHarness({
  concurrency: { worker: 4 },
  sim: { seed: 7 },
  settings: {
    maxFileBytes: 20_000,
    maxOutputTokens: { docs: 512, tests: 512 },
    budgets: { [CAPPED_TEAM]: CAP_NANO_USD },
    sensitivity: { projects: { vault: { secrets: 'restricted' } } },
    maxDeferDelaySeconds: 1,
  },
});

const source = (i: number, lang: 'ts' | 'py') => sourceOf(i, `x.${lang}`);
const put = (key: string, body: string | Uint8Array) => putIn(h, key, body);
const submit = (manifest: Manifest, files: Record<string, string>) => submitTo(h, manifest, files);
const waitForSummary = (batch: BatchLike) => waitForDone(h, batch);

describe('the pipeline on the local runtime', () => {
  it('generates an output for each of 90 dropped files and bills the ledger exactly as the provider', async () => {
    // Prepare
    const teams = ['alpha', 'beta', 'gamma'];
    const inputs: { team: string; kind: string; path: string }[] = [];
    for (let i = 0; i < 90; i++) {
      const team = teams[i % 3] as string;
      const kind = i % 2 === 0 ? 'docs' : 'tests';
      inputs.push({ team, kind, path: `src/mod${i}.${i % 5 === 0 ? 'py' : 'ts'}` });
    }
    await put('intake/alpha/shop/context/STYLE.md', '# Style\nUse small pure functions.\n');

    // Act
    await Promise.all(
      inputs.map((f, i) =>
        put(
          `intake/${f.team}/shop/${f.kind}/${f.path}`,
          source(i, f.path.endsWith('.py') ? 'py' : 'ts'),
        ),
      ),
    );

    // Assess
    for (const team of teams) {
      const expected = inputs.filter((f) => f.team === team).length;
      await expect
        .poll(async () => (await h.deps.objects.list(`outputs/${team}/shop/`)).length, {
          // 90 jobs through one DynamoDB Local that other test files share: a busy machine
          // takes minutes (one timed out at 50 s beside other processes), an idle one seconds.
          timeout: 150_000,
          interval: 500,
        })
        .toBe(expected);
    }
    const batches = (await h.deps.objects.list('pipeline/'))
      .filter((k) => k.endsWith('/rejections.json'))
      .map((k) => ({ team: k.split('/')[1] as string, batchId: k.split('/')[2] as string }));
    expect(batches.length).toBeGreaterThanOrEqual(6);
    for (const id of batches) {
      const summary = await waitForSummary(id);
      expect(summary.states.failed).toBe(0);
      expect(await h.deps.objects.getText(resultKeys(id).results)).toBeDefined();
      expect(await h.deps.objects.getText(resultKeys(id).errors)).toBe('');
    }
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  }, 300_000);

  it('serves re-sent notifications of finished files without a second call or charge', async () => {
    // Prepare
    const key = 'intake/dup/shop/docs/src/once.ts';
    await put(key, source(1, 'ts'));
    await put('intake/dup/shop/docs/src/twice.ts', source(2, 'ts'));
    await expect
      .poll(async () => (await h.deps.objects.list('outputs/dup/shop/')).length, {
        timeout: 60_000,
      })
      .toBe(2);
    const batchId = (await h.deps.objects.list('outputs/dup/shop/'))[0]?.split('/')[3] as string;
    await waitForSummary({ team: 'dup', batchId });
    const callsBefore = h.sim.usage().totals.requests;

    // Act: the same notifications delivered again, as S3 may do
    const batch = await h.deps.jobs.listJobs({ team: 'dup', batchId });
    for (const job of batch) {
      const event = {
        Records: [
          {
            eventSource: 'aws:s3',
            s3: {
              bucket: { name: h.pipeline.runtime.resources.bucket },
              object: { key: encodeS3EventKey(job.inputKey), sequencer: 'resent' },
            },
          },
        ],
      };
      await h.pipeline.runtime.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: h.pipeline.runtime.resources.queues.intake.url,
          MessageBody: JSON.stringify(event),
        }),
      );
    }
    // a resent event with a new sequencer is a new drop: it must be served by reuse
    await expect
      .poll(async () => (await h.deps.objects.list('outputs/dup/shop/')).length, {
        timeout: 60_000,
      })
      .toBe(4);
    const resentBatch = (await h.deps.objects.list('outputs/dup/shop/'))
      .map((k) => k.split('/')[3] as string)
      .find((id) => id !== batchId) as string;
    const summary = await waitForSummary({ team: 'dup', batchId: resentBatch });

    // Assess
    expect(summary.states.reused).toBe(2);
    expect(h.sim.usage().totals.requests).toBe(callsBefore);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

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
    const ended = async () => {
      const summaries = await summariesOfTeam(h, 'poison');
      return summaries.reduce((n, s) => n + s.jobs + s.rejectedInputs, 0);
    };
    await expect.poll(ended, { timeout: 60_000 }).toBe(7);

    // Assess
    const summaries = await summariesOfTeam(h, 'poison');
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
    const broken = await waitForSummary(broken1);
    expect(broken.rejectedInputs).toBe(1);
    const brokenErrors = (await h.deps.objects.getText(resultKeys(broken1).errors)) ?? '';
    expect(brokenErrors).toContain('bad_manifest');
    await expect
      .poll(async () => (await summariesOfTeam(h, 'broken')).length, { timeout: 60_000 })
      .toBe(2);
    const badId = (await summariesOfTeam(h, 'broken')).find((s) => s.batchId !== 'broken-1');
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

    await expect
      .poll(async () => (await h.deps.objects.list('outputs/oai/shop/')).length, {
        timeout: 60_000,
      })
      .toBe(2);
    const batchId = (await h.deps.objects.list('outputs/oai/shop/'))[0]?.split('/')[3] as string;
    const batch = { team: 'oai', batchId };
    const summary = await waitForSummary(batch);
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

  it('serves unchanged files of a second identical batch from reuse, with no call and no cost', async () => {
    // Prepare
    const files = { 'a.ts': source(10, 'ts'), 'b.ts': source(11, 'ts'), 'c.py': source(12, 'py') };
    await submit(manifestFor('reuse-1', 'reuse', Object.keys(files)), files);
    await waitForSummary('reuse-1');
    h.sim.reset();

    // Act
    await submit(manifestFor('reuse-2', 'reuse', Object.keys(files)), files);
    const summary = await waitForSummary('reuse-2');

    // Assess
    expect(summary.states.reused).toBe(3);
    expect(summary.costNanoUsd).toBe(0);
    expect(h.sim.usage().totals.requests).toBe(0);
    expect(await h.deps.objects.getText('outputs/reuse/shop/reuse-2/a.ts.md')).toBe(
      await h.deps.objects.getText('outputs/reuse/shop/reuse-1/a.ts.md'),
    );
  });

  it('fails restricted jobs clearly when no restricted endpoint is configured, sending nothing', async () => {
    // Prepare
    const files = { 'secret.ts': source(20, 'ts') };

    // Act
    await submit(
      manifestFor('restricted-1', 'vault', ['secret.ts'], { sensitivity: 'restricted' }),
      files,
    );
    const summary = await waitForSummary('restricted-1');

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
    await expect
      .poll(async () => (await summariesOfTeam(h, 'vault')).length, { timeout: 60_000 })
      .toBe(1);

    // Assess
    const [summary] = await summariesOfTeam(h, 'vault');
    expect(summary?.states.failed).toBe(1);
    const errors = await errorsOf(h, summary as ResultsSummary);
    expect(errors.map((e) => e.code)).toEqual(['no_endpoint']);
    expect(h.sim.usage().totals.requests).toBe(0);
  });

  it('never lets a team spend past its monthly cap under concurrency 32', async () => {
    // Prepare
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`f${i}.ts`] = source(100 + i, 'ts');

    // Act
    await submit(manifestFor('capped-1', CAPPED_TEAM, Object.keys(files)), files);
    const summary = await waitForSummary('capped-1');

    // Assess
    const budget = await h.deps.ledger.budget(CAPPED_TEAM, monthOf(h));
    expect(summary.states.succeeded).toBeGreaterThan(0);
    expect(summary.states.skipped_budget).toBeGreaterThan(0);
    expect(budget?.spentNanoUsd).toBeLessThanOrEqual(CAP_NANO_USD);
    expect(budget?.committedNanoUsd).toBeLessThanOrEqual(CAP_NANO_USD);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });

  it('admits jobs as earlier ones settle, skipping only when what is spent leaves no room', async () => {
    // Prepare
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`g${i}.ts`] = source(200 + i, 'ts');

    // Act
    await submit(manifestFor('capped-2', CAPPED_TEAM, Object.keys(files)), files);
    const summary = await waitForSummary('capped-2');

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
  it('makes no second call when a finished work message is delivered again', async () => {
    // Prepare
    const files = { 'x.ts': source(30, 'ts'), 'y.ts': source(31, 'ts') };
    await submit(manifestFor('redeliver-1', 'redeliver', Object.keys(files)), files);
    await waitForSummary('redeliver-1');
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
      { deadline: Date.now() + 10_000, owner: 'second-delivery' },
      h.deps,
    );

    // Assess
    expect(result).toMatchObject({ claimed: 0, skipped: 2, retry: false });
    expect(h.sim.usage().totals.requests).toBe(calls);
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
    const isDeferral = (m: { service: string; body?: unknown }) =>
      m.service === 'sqs' &&
      typeof m.body === 'string' &&
      m.body.includes('"deferred-batch"') &&
      m.body.includes(manifestKeyFor(offpeak));
    // The deferral and its re-send after it came back while still peak.
    const deferrals = h.pipeline.runtime.emulators.fauxqs.spy.waitForMessages(isDeferral, {
      count: 2,
      status: 'published',
      timeout: 60_000,
    }) as Promise<SqsSpyMessage[]>;

    // Act: submitted at peak
    await submit(manifest, files);
    const [deferred] = await deferrals;

    // Assess: waiting on the intake queue, nothing planned, nothing called
    expect(JSON.parse((deferred as SqsSpyMessage).body)).toEqual({
      type: 'deferred-batch',
      manifestKey: manifestKeyFor(offpeak),
      notBefore: offPeakFrom,
    });
    expect(await h.deps.jobs.getBatch(offpeak)).toBeUndefined();
    expect(h.sim.usage().totals.requests).toBe(0);

    // Act: the clock reaches off-peak
    h.setClock('2026-11-30T10:00:01Z');
    const summary = await waitForSummary('offpeak-1');

    // Assess
    expect(summary.states.succeeded).toBe(3);
    await expectOneTerminalStateEach(h, 'offpeak-1', 3, summary);
    for (const job of await h.deps.jobs.listJobs(offpeak))
      expect(Date.parse(job.updatedAt)).toBeGreaterThanOrEqual(Date.parse(offPeakFrom));
    expect(h.sim.usage().totals.requests).toBeGreaterThanOrEqual(3);
    expect(await ledgerTotals(h)).toEqual(simTotals(h));
  });
});
