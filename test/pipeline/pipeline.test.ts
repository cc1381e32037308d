/**
 * What only the emulated whole shows: S3 events becoming batches end to end, S3 notifications
 * re-sent through the queue, and a team's cap held while worker invocations and their executors
 * reserve against DynamoDB at once. The pipeline's rules, one message at a time, are in
 * test/pipeline/rules.test.ts over the in-memory pipeline.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { encodeS3EventKey } from '../../local/runtime/s3-bridge';
import type { Manifest } from '../../shared/inputs';
import { resultKeys } from '../../shared/pipeline/keys';
import {
  type BatchLike,
  ledgerTotals,
  manifestFor,
  monthOf,
  put as putIn,
  simTotals,
  source as sourceOf,
  submit as submitTo,
  useHarness,
  waitForDone,
} from './support';

const CAPPED_TEAM = 'capped';
const CAP_NANO_USD = 1_000_000; // a handful of jobs' estimates, some dozen jobs' real costs

const h = useHarness({
  concurrency: { worker: 4 },
  sim: { seed: 7 },
  settings: {
    maxOutputTokens: { docs: 512, tests: 512 },
    budgets: { [CAPPED_TEAM]: CAP_NANO_USD },
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
});
