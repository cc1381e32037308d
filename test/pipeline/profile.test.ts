import { describe, expect, it } from 'vitest';
import { createDynamoProfileStore } from '../../shared/aws/profiles';
import { CacheProfile } from '../../shared/executor/profile';
import { manifestFor, source, submit, useHarness, waitForDone } from './support';

// No fixed settle time: the worker waits what the measured cache profile says.
const h = useHarness({ settings: { executor: { settleMs: undefined, stopMarginMs: 500 } } });

describe("the worker's measured cache profile", () => {
  it('keeps what it measured in the jobs table, so the next invocation starts from it', async () => {
    // Prepare: one prefix group large enough to be warmed and checked
    const files: Record<string, string> = {};
    for (let i = 0; i < 10; i++) files[`p${i}.ts`] = source(i);
    const store = createDynamoProfileStore(
      h.pipeline.runtime.clients.doc,
      h.pipeline.runtime.resources.tables.jobs,
    );
    const key = CacheProfile.key('public', 'deepseek-flash');
    expect(await store.load(key)).toBeUndefined();

    // Act
    const ref = await submit(h, manifestFor('profile-1', 'prof', Object.keys(files)), files);
    await waitForDone(h, ref, 60_000);

    // Assess: a check probe was sent and served, and its wait is the profile's first bound
    const stored = await store.load(key);
    expect(stored?.source).toBe('observed');
    expect(stored?.probes).toBeGreaterThan(0);
    expect(stored?.readyWithinMs.length).toBeGreaterThan(0);
    expect(stored?.warmServed).toBeGreaterThan(0);
  }, 90_000);
});
