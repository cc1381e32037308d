/**
 * The pipeline's side of the quality loop: repair manifests and shadow runs are batches of their
 * own, routed like the batch they follow, and verdicts are recorded from what the pipeline
 * knows, once per content, never across teams.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SimHandle, startSimulator } from '../../local/sim/server';
import { batchFailureKeyFor, jobIdFor, manifestKeyFor, verdictsKeyFor } from '../../shared/inputs';
import { type StoredRequest, storedRequestReader } from '../../shared/pipeline/request';
import type { VerdictsDoc } from '../../shared/quality/verdicts';
import type { BatchRef } from '../../shared/types';
import {
  errorsOf,
  type FakePipeline,
  monthOf,
  put,
  submit,
  useFakePipeline,
  waitForDone,
} from '../support/fake-pipeline';
import { manifestFor, source } from './support';

const RESTRICTED_KEY = 'sk-restricted-quality-0123456789';
let restricted: SimHandle;

const h = useFakePipeline(() => ({
  endpoints: {
    // The restricted endpoint serves two models only.
    restricted: {
      baseURL: restricted.url,
      apiKey: RESTRICTED_KEY,
      models: ['deepseek-flash', 'deepseek-v4-pro'],
    },
  },
  settings: { sensitivity: { teams: {}, projects: { vault: { secrets: 'restricted' } } } },
}));

beforeAll(async () => {
  restricted = await startSimulator({
    port: 0,
    timeScale: 0,
    constructionDelayMs: 0,
    apiKeys: [RESTRICTED_KEY],
    // The pipeline's clock, as the harness's own simulator has: which models exist and what
    // they cost depend on it, not on the machine's date (first called once the harness runs).
    clock: () => h.deps.clock.now().getTime(),
  });
});

afterAll(async () => {
  await restricted?.close();
});

beforeEach(() => {
  restricted.reset();
});

/** The request a job's item names, read as the worker reads it. */
async function storedRequest(
  h: FakePipeline,
  batch: BatchRef,
  jobId: string,
): Promise<StoredRequest> {
  const job = await h.deps.jobs.getJob(batch, jobId);
  const request = await storedRequestReader(h.deps.objects, batch)(job?.requestKey ?? '', jobId);
  if (!request) throw new Error(`no stored request for job ${jobId}`);
  return request;
}

const files = { 'a.ts': source(1), 'b.ts': source(2), 'c.ts': source(3) };

describe('a shadow run', () => {
  it('of a restricted batch goes to the restricted endpoint only, in lane shadow', async () => {
    // Act
    const ref = await submit(
      h,
      manifestFor('shadowed-1', 'vault', Object.keys(files), {
        project: 'secrets',
        kind: 'tests',
        shadow: { model: 'deepseek-v4-pro', rate: 1 },
      }),
      files,
    );
    const primary = await waitForDone(h, ref);
    const shadow = await waitForDone(h, { team: 'vault', batchId: 'shadowed-1-shadow' });

    // Assess
    expect(primary.shadow).toEqual({
      batchId: 'shadowed-1-shadow',
      model: 'deepseek-v4-pro',
      rate: 1,
    });
    expect(shadow).toMatchObject({
      lane: 'shadow',
      shadowOf: 'shadowed-1',
      jobs: 3,
      model: 'deepseek-v4-pro',
    });
    expect(shadow.states.succeeded).toBe(3);
    expect(h.sim.usage().totals.requests).toBe(0);
    expect(restricted.usage().byModel['deepseek-v4-pro']?.requests).toBeGreaterThanOrEqual(3);
    const records = (await h.deps.ledger.records('vault', monthOf(h))).filter(
      (r) => r.purpose !== 'aws',
    );
    expect(records.filter((r) => r.lane === 'shadow').map((r) => r.model)).toContain(
      'deepseek-v4-pro',
    );
    const rollups = await h.deps.ledger.rollups(monthOf(h));
    expect(rollups.find((r) => r.lane === 'shadow')?.model).toBe('deepseek-v4-pro');
  });

  it('is not planned when the restricted endpoint does not serve the shadow model', async () => {
    // Act
    const ref = await submit(
      h,
      manifestFor('shadowed-2', 'vault', Object.keys(files), {
        project: 'secrets',
        kind: 'tests',
        shadow: { model: 'deepseek-chat', rate: 1 },
      }),
      files,
    );
    const primary = await waitForDone(h, ref);

    // Assess: the primary ran where it may; no shadow batch exists, and the reason is recorded.
    expect(primary.states.succeeded).toBe(3);
    expect(primary.shadow).toBeUndefined();
    expect(
      await h.deps.jobs.getBatch({ team: 'vault', batchId: 'shadowed-2-shadow' }),
    ).toBeUndefined();
    const errors = await errorsOf(h, ref);
    expect(errors.map((e) => e.code)).toContain('shadow_not_routable');
    expect(h.sim.usage().totals.requests).toBe(0);
  });

  it('routes a primary job like a shadow one: a model its endpoint does not serve fails at planning, unreserved', async () => {
    // Act: the restricted endpoint serves deepseek-flash and deepseek-v4-pro only.
    const ref = await submit(
      h,
      manifestFor('unserved-1', 'vault', ['a.ts'], {
        project: 'secrets',
        kind: 'tests',
        model: 'deepseek-chat',
      }),
      { 'a.ts': files['a.ts'] },
    );
    const summary = await waitForDone(h, ref);

    // Assess
    expect(summary.states.failed).toBe(1);
    const [error] = await errorsOf(h, ref);
    expect(error).toMatchObject({ code: 'no_endpoint' });
    expect(error?.reason).toContain('does not serve deepseek-chat');
    expect(h.sim.usage().totals.requests + restricted.usage().totals.requests).toBe(0);
    expect((await h.deps.ledger.budget('vault', monthOf(h)))?.committedNanoUsd ?? 0).toBe(0);
  });
});

describe('a repair batch', () => {
  it("repairs only its own team's answers, whatever batch id it names", async () => {
    // Prepare: team beta has a finished tests batch.
    const theirs = await submit(h, manifestFor('theirs-1', 'beta', ['a.ts'], { kind: 'tests' }), {
      'a.ts': source(1),
    });
    await waitForDone(h, theirs);
    const before = h.sim.usage().totals.requests;

    // Act: alpha writes a repair of "theirs-1" under its own prefix.
    const mine = { team: 'alpha', batchId: 'repair-steal-1' };
    await put(h, batchFailureKeyFor(mine, 'a.ts'), 'verdict: failed\nboom\n');
    await put(
      h,
      manifestKeyFor(mine),
      JSON.stringify(
        manifestFor('repair-steal-1', 'alpha', ['a.ts'], {
          kind: 'tests',
          repairOf: { batchId: 'theirs-1', round: 1 },
        }),
      ),
    );
    const summary = await waitForDone(h, 'alpha/repair-steal-1');

    // Assess: the repaired batch is looked up in alpha's own partition: none, no call.
    expect(summary).toMatchObject({ jobs: 0, lane: 'repair', costNanoUsd: 0 });
    expect((await errorsOf(h, mine))[0]?.code).toBe('not_repairable');
    expect(h.sim.usage().totals.requests).toBe(before);
  });

  it('sends the original messages, the answer and the trimmed failure, linked to the repaired job', async () => {
    // Prepare
    const ref = await submit(h, manifestFor('orig-1', 'alpha', ['a.ts'], { kind: 'tests' }), {
      'a.ts': source(1),
    });
    await waitForDone(h, ref);
    const original = await storedRequest(h, ref, jobIdFor('orig-1', 'a.ts'));
    const repair = { team: 'alpha', batchId: 'orig-1-r1' };
    const noisy = `\u001b[31mAssertionError\u001b[0m: expected 1 to be 2\n${'  at line\n'.repeat(500)}`;

    // Act
    await put(h, batchFailureKeyFor(repair, 'a.ts'), `verdict: failed\n${noisy}`);
    await put(
      h,
      manifestKeyFor(repair),
      JSON.stringify(
        manifestFor('orig-1-r1', 'alpha', ['a.ts'], {
          kind: 'tests',
          repairOf: { batchId: 'orig-1', round: 1 },
        }),
      ),
    );
    const summary = await waitForDone(h, repair);

    // Assess
    expect(summary).toMatchObject({
      lane: 'repair',
      repairOf: { batchId: 'orig-1', origin: 'orig-1', round: 1 },
    });
    const job = await h.deps.jobs.getJob(repair, jobIdFor('orig-1-r1', 'a.ts'));
    expect(job?.repairOf).toEqual({ batchId: 'orig-1', jobId: jobIdFor('orig-1', 'a.ts') });
    const sent = await storedRequest(h, repair, job?.jobId ?? '');
    expect(sent.messages.slice(0, original.messages.length)).toEqual(original.messages);
    expect(sent.messages.at(-2)).toEqual({
      role: 'assistant',
      content: await h.deps.objects.getText(
        (await h.deps.jobs.getJob(ref, jobIdFor('orig-1', 'a.ts')))?.outputKey ?? '',
      ),
    });
    const failure = sent.messages.at(-1)?.content ?? '';
    expect(failure).toContain('AssertionError: expected 1 to be 2');
    expect(failure).not.toContain('\u001b[');
    expect(failure).toMatch(/more lines left out/);
    expect(failure.length).toBeLessThan(5_000);
    // The original prompt was served from the cache.
    expect(job?.usage?.promptHitTokens).toBeGreaterThan(0);
    const rollups = await h.deps.ledger.rollups(monthOf(h));
    expect(rollups.find((r) => r.lane === 'repair')?.requests).toBe(1);
  });
});

describe('verdicts', () => {
  async function finishedTests(team: string, batchId: string) {
    const ref = await submit(
      h,
      manifestFor(batchId, team, Object.keys(files), { kind: 'tests' }),
      files,
    );
    await waitForDone(h, ref);
    return ref;
  }
  const doc = (team: string, batchId: string, extra: Partial<VerdictsDoc> = {}): VerdictsDoc => ({
    version: 1,
    team,
    batchId,
    tests: [
      { path: 'a.ts', lane: 'primary', kept: true, rounds: [{ batchId, verdict: 'passed' }] },
      { path: 'b.ts', lane: 'primary', kept: false, rounds: [{ batchId, verdict: 'failed' }] },
    ],
    ...extra,
  });
  const recorded = (ref: { team: string; batchId: string }) =>
    expect.poll(async () => {
      await h.settle();
      return (await h.deps.jobs.getBatch(ref))?.quality?.testsValidated;
    });

  it('are recorded on the jobs, the batch, the roll-ups once, and summary.json', async () => {
    // Prepare
    const ref = await finishedTests('alpha', 'judged-1');
    const jobs = await h.deps.jobs.listJobs(ref);
    const cost = (path: string) => jobs.find((j) => j.path === path)?.costNanoUsd ?? 0;

    // Act: recorded, then the same document again, then a changed one.
    await put(h, verdictsKeyFor(ref), JSON.stringify(doc('alpha', 'judged-1')));
    await recorded(ref).toBe(2);
    const first = (await h.deps.ledger.rollups(monthOf(h))).find((r) => r.team === 'alpha');
    const firstAt = (await h.deps.jobs.getBatch(ref))?.quality?.recordedAt;
    h.advanceClock(1_000);
    await put(h, verdictsKeyFor(ref), JSON.stringify(doc('alpha', 'judged-1')));
    await expect
      .poll(async () => {
        await h.settle();
        return (await h.deps.jobs.getBatch(ref))?.quality?.recordedAt;
      })
      .not.toBe(firstAt);
    const again = (await h.deps.ledger.rollups(monthOf(h))).find((r) => r.team === 'alpha');
    await put(
      h,
      verdictsKeyFor(ref),
      JSON.stringify(
        doc('alpha', 'judged-1', {
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
            {
              path: 'c.ts',
              lane: 'primary',
              kept: false,
              rounds: [{ batchId: 'judged-1', verdict: 'timed_out' }],
            },
          ],
        }),
      ),
    );
    await recorded(ref).toBe(3);

    // Assess
    expect(first).toMatchObject({
      testsValidated: 2,
      testsPassed: 1,
      validatedCostNanoUsd: cost('a.ts') + cost('b.ts'),
    });
    expect(again).toEqual(first);
    const after = (await h.deps.ledger.rollups(monthOf(h))).find((r) => r.team === 'alpha');
    expect(after).toMatchObject({
      testsValidated: 3,
      testsPassed: 2,
      validatedCostNanoUsd: cost('a.ts') + cost('b.ts') + cost('c.ts'),
    });
    const c = await h.deps.jobs.getJob(ref, jobIdFor('judged-1', 'c.ts'));
    expect(c?.verdict).toMatchObject({ verdict: 'timed_out', round: 0, final: 'timed_out' });
    await expect
      .poll(async () => {
        await h.settle();
        return JSON.parse(
          (await h.deps.objects.getText(`results/alpha/judged-1/summary.json`)) ?? '{}',
        ).quality?.testsPassed;
      })
      .toBe(2);
  });

  it("count nothing for rounds naming another team's batch, nor a document under another team's key", async () => {
    // Prepare
    const theirs = await finishedTests('beta', 'judged-2');
    const mine = await finishedTests('alpha', 'judged-3');

    // Act: alpha's verdicts name beta's batch in a round; a document under alpha's key says beta.
    await put(
      h,
      verdictsKeyFor(mine),
      JSON.stringify(
        doc('alpha', 'judged-3', {
          tests: [
            {
              path: 'a.ts',
              lane: 'primary',
              kept: true,
              rounds: [{ batchId: 'judged-2', verdict: 'passed' }],
            },
          ],
          docs: [],
        }),
      ),
    );
    await put(h, 'batches/alpha/judged-2/verdicts.json', JSON.stringify(doc('beta', 'judged-2')));
    await recorded(mine).toBe(0);

    // Assess
    expect((await h.deps.jobs.getBatch(theirs))?.quality).toBeUndefined();
    const rollups = await h.deps.ledger.rollups(monthOf(h));
    expect(rollups.filter((r) => r.testsValidated > 0)).toEqual([]);
  });
});
