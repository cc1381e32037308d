/**
 * Reprice updates every figure derived from a job's cost: a tests batch whose answers no row
 * priced has an unknown cost per passing test (never $0); once an operator adds the row and runs
 * `costs reprice`, the jobs carry their cost and the batch's quality (summary.json) follows.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/lib/run';
import { verdictsKeyFor } from '../../shared/inputs';
import type { ResultsSummary } from '../../shared/pipeline/finalize';
import { resultKeys } from '../../shared/pipeline/keys';
import { PRICES_KEY } from '../../shared/pipeline/prices';
import type { VerdictsDoc } from '../../shared/quality/verdicts';
import { bufferIo } from '../cli/support';
import {
  cliDeps,
  monthOf,
  put,
  submit,
  useFakePipeline,
  waitForDone,
} from '../support/fake-pipeline';
import { manifestFor, source } from './support';

const h = useFakePipeline();

/** The model name the API returns in this test: no built-in row knows it. */
const NEW_MODEL = 'deepseek-flash-1017';

async function warmbatch(...args: string[]) {
  // No project folder: `costs` reads and writes no file.
  const io = bufferIo(process.cwd());
  const code = await runCli(args, cliDeps(h, io));
  return { code, stdout: io.out(), stderr: io.err() };
}

/** The batch's summary.json once the pipeline has handled everything queued. */
async function summary(ref: { team: string; batchId: string }): Promise<ResultsSummary> {
  await h.settle();
  return JSON.parse((await h.deps.objects.getText(resultKeys(ref).summary)) ?? '{}');
}

describe('cost per passing test of unpriced answers', () => {
  it('is unknown until reprice, then the priced cost, in the jobs and summary.json', async () => {
    // Prepare: every answer names a model no row prices yet
    h.scriptLlm(async (_request, real) => ({ ...(await real()), model: NEW_MODEL }));
    const files = { 'a.ts': source(1), 'b.ts': source(2) };
    const ref = await submit(
      h,
      manifestFor('judged-1', 'judged', Object.keys(files), { kind: 'tests' }),
      files,
    );
    await waitForDone(h, ref);
    const doc: VerdictsDoc = {
      version: 1,
      team: 'judged',
      batchId: 'judged-1',
      tests: [
        {
          path: 'a.ts',
          lane: 'primary',
          kept: true,
          rounds: [{ batchId: 'judged-1', verdict: 'passed' }],
        },
        {
          path: 'b.ts',
          lane: 'primary',
          kept: true,
          rounds: [{ batchId: 'judged-1', verdict: 'passed' }],
        },
      ],
    };

    // Act: verdicts recorded while the answers are unpriced
    await put(h, verdictsKeyFor(ref), JSON.stringify(doc));
    await expect
      .poll(async () => (await summary(ref)).quality?.testsValidated, { timeout: 20_000 })
      .toBe(2);

    // Assess: unknown, with the reason, never $0
    const before = (await summary(ref)).quality;
    expect(before?.costPerPassingTestNanoUsd).toBeNull();
    expect(before?.costUnknown).toContain('costs reprice');
    for (const job of await h.deps.jobs.listJobs(ref)) {
      expect(job.costNanoUsd).toBeUndefined();
      expect(job.costUnpriced).toBe('unknown_model');
    }

    // Act: the operator adds the row and reprices
    await h.deps.objects.put(
      PRICES_KEY,
      JSON.stringify({
        rows: [
          {
            model: NEW_MODEL,
            from: '2026-10-17T00:00:00Z',
            billedAs: 'deepseek-flash',
            source: 'test',
          },
        ],
      }),
    );
    const reprice = await warmbatch('costs', 'reprice', '--month', monthOf(h), '--json');

    // Assess: the jobs carry their priced cost, and the quality figures follow them
    expect(reprice.code).toBe(0);
    expect(JSON.parse(reprice.stdout)).toMatchObject({ verdictsRecordedAgain: 1 });
    const jobs = await h.deps.jobs.listJobs(ref);
    const cost = jobs.reduce((n, j) => n + (j.costNanoUsd ?? Number.NaN), 0);
    expect(cost).toBeGreaterThan(0);
    expect(jobs.every((j) => j.costUnpriced === undefined)).toBe(true);
    await expect
      .poll(async () => (await summary(ref)).quality?.costPerPassingTestNanoUsd, {
        timeout: 20_000,
      })
      .toBe(Math.round(cost / 2));
    expect((await summary(ref)).quality?.costUnknown).toBeNull();
    const rollup = (await h.deps.ledger.rollups(monthOf(h))).find(
      (r) => r.team === 'judged' && !r.unpriced && r.testsValidated > 0,
    );
    expect(rollup?.validatedCostNanoUsd).toBe(cost);
    expect(rollup?.testsCostUnknown).toBe(0);
  });
});
