import { describe, expect, it } from 'vitest';
import { createDynamoProfileStore } from '../../shared/aws/profiles';
import {
  CacheProfile,
  type CacheProfileStore,
  emptyProfile,
  memoryProfileStore,
  openProfiles,
} from '../../shared/executor/profile';
import { useLocalAws } from '../support/emulators';

const aws = useLocalAws();
const NOW = new Date('2026-11-02T12:00:00Z');

/** One contract for every place a cache profile is kept. */
const stores: Array<[string, () => CacheProfileStore]> = [
  ['in memory', () => memoryProfileStore()],
  [
    'in the jobs table (DynamoDB)',
    () => createDynamoProfileStore(aws.clients.doc, aws.resources.tables.jobs),
  ],
];

describe.each(stores)('cache profiles kept %s', (_name, make) => {
  it('gives back what an invocation measured, so the next one starts from it', async () => {
    const store = make();
    const key = CacheProfile.key('deepseek', `m-${Math.random()}`);
    const first = await openProfiles(store, [key], NOW);
    first.get(key).observeCheck(3_000, true, NOW);
    first.get(key).observeCheck(2_000, false, NOW);
    await first.save();

    const second = await openProfiles(store, [key], NOW);

    expect(second.get(key).data.readyWithinMs).toEqual([3_000]);
    expect(second.get(key).data.wastedProbes).toBe(1);
    expect(second.get(key).settleMs()).toBe(3_000);
  });

  it('knows nothing of a model it never measured, and does not store a bare guess', async () => {
    const store = make();
    const key = CacheProfile.key('deepseek', `m-${Math.random()}`);

    const opened = await openProfiles(store, [key], NOW);
    await opened.save();

    expect(opened.get(key).data).toEqual(emptyProfile(key, NOW));
    expect(await store.load(key)).toBeUndefined();
  });
});
