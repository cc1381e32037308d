import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline';
import type { LocalRuntime } from '../../local/runtime';
import { recreateTables } from '../../local/runtime/resources';
import { encodeS3EventKey } from '../../local/runtime/s3-bridge';
import type { SimHandle } from '../../local/sim/server';
import type { Rollup } from '../../shared/aws/ledger-store';
import { batchFileKeyFor, type Manifest, manifestKeyFor } from '../../shared/inputs';
import type { BatchSummary } from '../../shared/pipeline/finalize';
import { resultKeys } from '../../shared/pipeline/finalize';
import type { WorkBody } from '../../shared/pipeline/messages';
import type { WorkerDeps } from '../../shared/pipeline/types';
import { processWorkMessage } from '../../shared/pipeline/work';

const CAPPED_TEAM = 'capped';
const CAP_NANO_USD = 4_000_000; // a handful of jobs' estimates

let pipeline: LocalPipeline;
let sim: SimHandle;
let runtime: LocalRuntime;
let deps: WorkerDeps;

beforeAll(async () => {
  pipeline = await startLocalPipeline({
    ports: { s3Sqs: 0, dynamodb: 0 },
    sim: { timeScale: 0, seed: 7 },
    timeScale: 0.05,
    configPath: false,
    concurrency: { planner: 1, worker: 4, finalize: 1 },
    settings: {
      maxFileBytes: 20_000,
      maxOutputTokens: { docs: 512, tests: 512 },
      executor: { settleMs: 5, stopMarginMs: 500, concurrency: 32 },
      budgets: { [CAPPED_TEAM]: CAP_NANO_USD },
    },
  });
  if (!pipeline.sim) throw new Error('the local pipeline started without its simulator');
  sim = pipeline.sim;
  runtime = pipeline.runtime;
  deps = pipeline.deps;
}, 60_000);

afterAll(async () => {
  await pipeline?.stop();
});

beforeEach(async () => {
  await recreateTables(runtime.clients);
  sim.reset();
});

const month = () => new Date().toISOString().slice(0, 7);

function source(i: number, lang: 'ts' | 'py'): string {
  return lang === 'ts'
    ? `export function add${i}(a: number, b: number): number {\n  return a + b + ${i};\n}\n`
    : `def add_${i}(a, b):\n    return a + b + ${i}\n`;
}

async function put(key: string, body: string | Uint8Array): Promise<void> {
  await runtime.clients.s3.send(
    new PutObjectCommand({ Bucket: runtime.resources.bucket, Key: key, Body: body }),
  );
}

async function submit(manifest: Manifest, files: Record<string, string>): Promise<void> {
  for (const [path, body] of Object.entries(files))
    await put(batchFileKeyFor(manifest.batchId, path), body);
  await put(manifestKeyFor(manifest.batchId), JSON.stringify(manifest));
}

const manifestFor = (
  batchId: string,
  team: string,
  files: string[],
  extra: Partial<Manifest> = {},
): Manifest => ({
  batchId,
  team,
  project: 'shop',
  kind: 'docs',
  files,
  model: 'deepseek-v4-flash',
  createdAt: new Date().toISOString(),
  ...extra,
});

async function summaryOf(batchId: string): Promise<Record<string, unknown> | undefined> {
  const text = await deps.objects.getText(resultKeys(batchId).summary);
  return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
}

async function waitForSummary(batchId: string): Promise<BatchSummary> {
  await expect.poll(() => summaryOf(batchId), { timeout: 40_000, interval: 200 }).toBeDefined();
  return (await summaryOf(batchId)) as unknown as BatchSummary;
}

function ledgerTotals(rollups: Rollup[]) {
  const sum = (f: keyof Rollup) => rollups.reduce((n, r) => n + (r[f] as number), 0);
  return {
    requests: sum('requests'),
    hitTokens: sum('hitTokens'),
    missTokens: sum('missTokens'),
    outputTokens: sum('outputTokens'),
    costNanoUsd: sum('costNanoUsd'),
  };
}

function simTotals() {
  const t = sim.usage().totals;
  return {
    requests: t.requests,
    hitTokens: t.hitTokens,
    missTokens: t.missTokens,
    outputTokens: t.outputTokens,
    costNanoUsd: t.costNanoUsd,
  };
}

describe('the pipeline on the local runtime', () => {
  it('generates an output for each of 200 dropped files and bills the ledger exactly as the provider', async () => {
    // Prepare
    const teams = ['alpha', 'beta', 'gamma'];
    const inputs: { team: string; kind: string; path: string }[] = [];
    for (let i = 0; i < 200; i++) {
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
        .poll(async () => (await deps.objects.list(`outputs/${team}/shop/`)).length, {
          timeout: 50_000,
          interval: 500,
        })
        .toBe(expected);
    }
    const batchIds = (await deps.objects.list('batches/'))
      .filter((k) => k.endsWith('/rejections.json'))
      .map((k) => k.split('/')[1] as string);
    expect(batchIds.length).toBeGreaterThanOrEqual(6);
    for (const id of batchIds) {
      const summary = await waitForSummary(id);
      expect(summary.states.failed).toBe(0);
      expect(await deps.objects.getText(resultKeys(id).results)).toBeDefined();
      expect(await deps.objects.getText(resultKeys(id).errors)).toBe('');
    }
    expect(ledgerTotals(await deps.ledger.rollups(month()))).toEqual(simTotals());
  }, 90_000);

  it('serves re-sent notifications of finished files without a second call or charge', async () => {
    // Prepare
    const key = 'intake/dup/shop/docs/src/once.ts';
    await put(key, source(1, 'ts'));
    await put('intake/dup/shop/docs/src/twice.ts', source(2, 'ts'));
    await expect
      .poll(async () => (await deps.objects.list('outputs/dup/shop/')).length, { timeout: 30_000 })
      .toBe(2);
    const batchId = (await deps.objects.list('outputs/dup/shop/'))[0]?.split('/')[3] as string;
    await waitForSummary(batchId);
    const callsBefore = sim.usage().totals.requests;

    // Act: the same notifications delivered again, as S3 may do
    const batch = await deps.jobs.listJobs(batchId);
    for (const job of batch) {
      const event = {
        Records: [
          {
            eventSource: 'aws:s3',
            s3: {
              bucket: { name: runtime.resources.bucket },
              object: { key: encodeS3EventKey(job.inputKey), sequencer: 'resent' },
            },
          },
        ],
      };
      await runtime.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: runtime.resources.queues.intake.url,
          MessageBody: JSON.stringify(event),
        }),
      );
    }
    // a resent event with a new sequencer is a new drop: it must be served by reuse
    await expect
      .poll(async () => (await deps.objects.list('outputs/dup/shop/')).length, { timeout: 30_000 })
      .toBe(4);
    const resentBatch = (await deps.objects.list('outputs/dup/shop/'))
      .map((k) => k.split('/')[3] as string)
      .find((id) => id !== batchId) as string;
    const summary = await waitForSummary(resentBatch);

    // Assess
    expect(summary.states.reused).toBe(2);
    expect(sim.usage().totals.requests).toBe(callsBefore);
    expect(ledgerTotals(await deps.ledger.rollups(month()))).toEqual(simTotals());
  }, 90_000);

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
    await put(manifestKeyFor('broken-1'), '{"batchId": "broken-1", "team": ');

    // Act / Assess
    await expect
      .poll(async () => (await deps.objects.list('outputs/poison/shop/')).length, {
        timeout: 30_000,
      })
      .toBe(1);
    const batchId = (await deps.objects.list('outputs/poison/shop/'))[0]?.split('/')[3] as string;
    const summary = await waitForSummary(batchId);
    const errors = ((await deps.objects.getText(resultKeys(batchId).errors)) ?? '')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { code: string; path: string; reason: string });
    const codes = errors.map((e) => e.code).sort();
    expect(codes).toEqual(
      expect.arrayContaining([
        'binary',
        'empty',
        'invalid_utf8',
        'path_traversal',
        'too_large',
        'unknown_kind',
      ]),
    );
    expect(errors.find((e) => e.code === 'binary')?.path).toBe('binary.bin');
    expect(summary.states.succeeded).toBe(1);
    const broken = await waitForSummary('broken-1');
    expect(broken.rejectedInputs).toBe(1);
    const brokenErrors = (await deps.objects.getText(resultKeys('broken-1').errors)) ?? '';
    expect(brokenErrors).toContain('bad_manifest');
  }, 60_000);

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
      .poll(async () => (await deps.objects.list('outputs/oai/shop/')).length, { timeout: 30_000 })
      .toBe(2);
    const batchId = (await deps.objects.list('outputs/oai/shop/'))[0]?.split('/')[3] as string;
    const summary = await waitForSummary(batchId);
    expect(summary.states.succeeded).toBe(2);
    expect(summary.rejectedInputs).toBe(1);
    const lines = ((await deps.objects.getText(resultKeys(batchId).results)) ?? '')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.custom_id).sort()).toEqual(['req-1', 'req-2']);
    for (const l of lines) {
      expect(l.response.status_code).toBe(200);
      expect(l.response.body.usage.prompt_tokens).toBeGreaterThan(0);
      expect(l.error).toBeNull();
    }
    const errors = (await deps.objects.getText(resultKeys(batchId).errors)) ?? '';
    expect(errors).toMatch(/line 3/);
    expect(ledgerTotals(await deps.ledger.rollups(month()))).toEqual(simTotals());
  });

  it('serves unchanged files of a second identical batch from reuse, with no call and no cost', async () => {
    // Prepare
    const files = { 'a.ts': source(10, 'ts'), 'b.ts': source(11, 'ts'), 'c.py': source(12, 'py') };
    await submit(manifestFor('reuse-1', 'reuse', Object.keys(files)), files);
    await waitForSummary('reuse-1');
    sim.reset();

    // Act
    await submit(manifestFor('reuse-2', 'reuse', Object.keys(files)), files);
    const summary = await waitForSummary('reuse-2');

    // Assess
    expect(summary.states.reused).toBe(3);
    expect(summary.costNanoUsd).toBe(0);
    expect(sim.usage().totals.requests).toBe(0);
    expect(await deps.objects.getText('outputs/reuse/shop/reuse-2/a.ts.md')).toBe(
      await deps.objects.getText('outputs/reuse/shop/reuse-1/a.ts.md'),
    );
  }, 60_000);

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
    const errors = (await deps.objects.getText(resultKeys('restricted-1').errors)) ?? '';
    expect(errors).toContain('no_endpoint');
    expect(errors).toContain('never sent to the public endpoint');
    expect(sim.usage().totals.requests).toBe(0);
  }, 60_000);

  it('never lets a team spend past its monthly cap under concurrency 32', async () => {
    // Prepare
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`f${i}.ts`] = source(100 + i, 'ts');

    // Act
    await submit(manifestFor('capped-1', CAPPED_TEAM, Object.keys(files)), files);
    const summary = await waitForSummary('capped-1');

    // Assess
    const budget = await deps.ledger.budget(CAPPED_TEAM, month());
    expect(summary.states.succeeded).toBeGreaterThan(0);
    expect(summary.states.skipped_budget).toBeGreaterThan(0);
    expect(budget?.spentNanoUsd).toBeLessThanOrEqual(CAP_NANO_USD);
    expect(budget?.committedNanoUsd).toBeLessThanOrEqual(CAP_NANO_USD);
    expect(ledgerTotals(await deps.ledger.rollups(month()))).toEqual(simTotals());
  }, 60_000);
  it('makes no second call when a finished work message is delivered again', async () => {
    // Prepare
    const files = { 'x.ts': source(30, 'ts'), 'y.ts': source(31, 'ts') };
    await submit(manifestFor('redeliver-1', 'redeliver', Object.keys(files)), files);
    await waitForSummary('redeliver-1');
    const calls = sim.usage().totals.requests;
    const jobs = await deps.jobs.listJobs('redeliver-1');
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
      reservedMonth: month(),
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
        reservedNanoUsd: 1,
      })),
    };

    // Act
    const result = await processWorkMessage(
      JSON.stringify(redelivered),
      { deadline: Date.now() + 10_000, owner: 'second-delivery' },
      deps,
    );

    // Assess
    expect(result).toMatchObject({ claimed: 0, skipped: 2, retry: false });
    expect(sim.usage().totals.requests).toBe(calls);
    expect(ledgerTotals(await deps.ledger.rollups(month()))).toEqual(simTotals());
  }, 60_000);
});
