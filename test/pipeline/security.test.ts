/**
 * The attacks of issue 12 that the pipeline itself must stop, over the in-memory pipeline: a manifest
 * charged to another team, a manifest in the old layout, restricted inputs reaching the public
 * endpoint, and provider keys leaking into logs, errors, S3 objects or the ledger. The IAM side
 * (who may write where) is in test/infra/attacks.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SimHandle, startSimulator } from '../../local/sim/server';
import { batchFileKeyFor, manifestKeyFor } from '../../shared/inputs';
import type { Logger } from '../../shared/ports/logger';
import { sha256Hex } from '../../shared/prompts/keys';
import { errorBody, startScriptedServer } from '../llm/scripted-server';
import {
  errorsOf,
  monthOf,
  put,
  submit,
  summariesOfTeam,
  useFakePipeline,
  waitForDone,
} from '../support/fake-pipeline';
import { manifestFor, source } from './support';

/** A logger that keeps every record as the JSON a log line would hold, errors included. */
function memoryLogger(): Logger & { text(): string } {
  const lines: string[] = [];
  const keys: Record<string, unknown> = {};
  const serialize = (value: unknown): unknown => {
    if (value instanceof Error)
      return {
        ...Object.fromEntries(Object.entries(value).map(([k, v]) => [k, serialize(v)])),
        name: value.name,
        message: value.message,
        stack: value.stack,
        cause: serialize(value.cause),
      };
    if (Array.isArray(value)) return value.map(serialize);
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, serialize(v)]));
    return value;
  };
  const log =
    (level: string) =>
    (message: string, ...attributes: Record<string, unknown>[]) => {
      lines.push(
        JSON.stringify(serialize({ level, message, ...keys, ...Object.assign({}, ...attributes) })),
      );
    };
  return {
    debug: log('DEBUG'),
    info: log('INFO'),
    warn: log('WARN'),
    error: log('ERROR'),
    appendKeys: (attributes) => Object.assign(keys, attributes),
    removeKeys: (names) => {
      for (const name of names) delete keys[name];
    },
    text: () => lines.join('\n'),
  };
}

const RESTRICTED_KEY = 'sk-restricted-0123456789abcdef';
const INTERNAL_KEY = 'sk-internal-leak-0123456789abcdef';

let restricted: SimHandle;
let internal: Awaited<ReturnType<typeof startScriptedServer>>;
const logger = memoryLogger();

const h = useFakePipeline(() => ({
  endpoints: {
    restricted: { baseURL: restricted.url, apiKey: RESTRICTED_KEY },
    internal: { baseURL: internal.url, apiKey: INTERNAL_KEY },
  },
  logger,
  settings: {
    sensitivity: { teams: { leaky: 'internal' }, projects: { vault: { secrets: 'restricted' } } },
  },
}));

beforeAll(async () => {
  restricted = await startSimulator({
    port: 0,
    timeScale: 0,
    constructionDelayMs: 0,
    seed: 5,
    apiKeys: [RESTRICTED_KEY],
    // The pipeline's clock, as the harness's own simulator has: which models exist and what
    // they cost depend on it, not on the machine's date (first called once the harness runs).
    clock: () => h.deps.clock.now().getTime(),
  });
  // The internal endpoint refuses its key and quotes it back, as some providers do.
  internal = await startScriptedServer([
    { status: 401, body: errorBody(`Incorrect API key provided: ${INTERNAL_KEY}`) },
  ]);
});

afterAll(async () => {
  await restricted?.close();
  await internal?.close();
});

beforeEach(() => {
  restricted.reset();
});

const publicRequests = () => h.sim.usage().totals.requests;

describe('a manifest charged to another team', () => {
  it('is refused with a recorded reason, and costs neither team anything', async () => {
    // Prepare: team alpha's credentials write only under batches/alpha/; its manifest names beta
    const key = { team: 'alpha', batchId: 'steal-1' };
    await put(h, batchFileKeyFor(key, 'a.ts'), source(1));

    // Act
    await put(h, manifestKeyFor(key), JSON.stringify(manifestFor('steal-1', 'beta', ['a.ts'])));
    const summary = await waitForDone(h, key);

    // Assess
    expect(summary).toMatchObject({ team: 'alpha', jobs: 0, rejectedInputs: 1, costNanoUsd: 0 });
    const [error] = await errorsOf(h, key);
    expect(error?.code).toBe('team_mismatch');
    expect(error?.reason).toContain('team "beta"');
    expect(await h.deps.jobs.getBatch({ team: 'beta', batchId: 'steal-1' })).toBeUndefined();
    expect((await h.deps.ledger.budget('beta', monthOf(h)))?.committedNanoUsd ?? 0).toBe(0);
    expect(await h.deps.ledger.records('beta', monthOf(h))).toEqual([]);
    expect(await h.deps.ledger.records('alpha', monthOf(h))).toEqual([]);
    expect(publicRequests()).toBe(0);
  });
});

describe('a manifest in the old layout', () => {
  it("is refused under the team in its key (never the body's), with a reason naming the key it belongs at", async () => {
    // Act
    const key = 'batches/old-1/manifest.json';
    await put(h, key, JSON.stringify(manifestFor('old-1', 'legacy', ['a.ts'])));
    const home = { team: 'old-1', batchId: `old-layout-${sha256Hex(key).slice(0, 16)}` };
    const summary = await waitForDone(h, home);

    // Assess
    expect(summary).toMatchObject({ jobs: 0, rejectedInputs: 1, costNanoUsd: 0 });
    const [error] = await errorsOf(h, home);
    expect(error?.code).toBe('old_layout');
    expect(error?.reason).toContain('batches/legacy/old-1/manifest.json');
    expect(await summariesOfTeam(h, 'legacy')).toEqual([]);
    expect(publicRequests()).toBe(0);
  });
});

describe('a restricted project', () => {
  const jsonl = JSON.stringify({
    custom_id: 'req-1',
    method: 'POST',
    url: '/v1/chat/completions',
    body: {
      model: 'deepseek-v4-flash',
      messages: [{ role: 'user', content: 'Summarize: the vault rotates keys nightly.' }],
      max_tokens: 50,
    },
  });

  it('sends its drops and OpenAI batch files to the restricted endpoint, none to the public one', async () => {
    // Act: the files carry no sensitivity; the stack configured the project as restricted
    await put(h, 'intake/vault/secrets/docs/src/key.ts', source(2));
    await put(h, 'intake/vault/secrets/openai-batch/docs/requests.jsonl', jsonl);
    const succeeded = async () =>
      (await summariesOfTeam(h, 'vault')).reduce((n, s) => n + s.states.succeeded, 0);
    await expect.poll(succeeded, { timeout: 40_000 }).toBe(2);

    // Assess
    expect(publicRequests()).toBe(0);
    expect(restricted.usage().totals.requests).toBeGreaterThanOrEqual(2);
    for (const s of await summariesOfTeam(h, 'vault'))
      expect((await h.deps.jobs.getBatch(s))?.sensitivity).toBe('restricted');
  });

  it("keeps a manifest from lowering its sensitivity, and lets another project's raise it", async () => {
    // Act
    const lowered = await submit(
      h,
      manifestFor('lower-1', 'vault', ['a.ts'], { project: 'secrets', sensitivity: 'public' }),
      { 'a.ts': source(3) },
    );
    const raised = await submit(
      h,
      manifestFor('raise-1', 'open', ['b.ts'], { project: 'site', sensitivity: 'restricted' }),
      { 'b.ts': source(4) },
    );
    const summaries = [await waitForDone(h, lowered), await waitForDone(h, raised)];

    // Assess
    for (const s of summaries) expect(s.states.succeeded).toBe(1);
    expect((await h.deps.jobs.getBatch(lowered))?.sensitivity).toBe('restricted');
    expect((await h.deps.jobs.getBatch(raised))?.sensitivity).toBe('restricted');
    expect(publicRequests()).toBe(0);
    expect(restricted.usage().totals.requests).toBeGreaterThanOrEqual(2);
  });
});

describe('provider keys', () => {
  it('never reach logs, errors, S3 objects or the ledger, even when a provider quotes one back', async () => {
    // Prepare: team leaky is internal; the internal endpoint answers 401 quoting its key
    const ref = await submit(h, manifestFor('leak-1', 'leaky', ['a.ts', 'b.ts']), {
      'a.ts': source(5),
      'b.ts': source(6),
    });
    await put(h, 'intake/leaky/app/docs/c.ts', source(7));

    // Act
    const summary = await waitForDone(h, ref);
    await expect
      .poll(async () => (await summariesOfTeam(h, 'leaky')).length, { timeout: 40_000 })
      .toBe(2);

    // Assess: the failure is reported, the key is nowhere
    expect(summary.states.failed).toBe(2);
    // The key was sent, and quoted back, so there was something to leak.
    expect(internal.received[0]?.headers.authorization).toBe(`Bearer ${INTERNAL_KEY}`);
    expect(logger.text()).toContain('AuthenticationError');
    const objects = await h.deps.objects.list('');
    const texts = await Promise.all(objects.map((k) => h.deps.objects.getText(k)));
    const jobs = await Promise.all(
      (await summariesOfTeam(h, 'leaky')).map((s) => h.deps.jobs.listJobs(s)),
    );
    const month = monthOf(h);
    const everything = [
      logger.text(),
      ...objects,
      ...texts,
      JSON.stringify(jobs),
      JSON.stringify(await h.deps.ledger.records('leaky', month)),
      JSON.stringify(await h.deps.ledger.rollups(month)),
    ].join('\n');
    expect(everything).toContain('AuthenticationError');
    for (const key of [INTERNAL_KEY, RESTRICTED_KEY, ...h.sim.options.apiKeys])
      expect(everything).not.toContain(key);
  });
});
