import { describe, expect, it } from 'vitest';
import { createDynamoBreakerStore } from '../../shared/aws/breaker-store';
import { createBreakers, memoryBreakerStore } from '../../shared/llm/breakers';
import type { BreakerStore } from '../../shared/ports/breakers';
import { useLocalAws } from '../support/emulators';

const aws = useLocalAws();
const CONFIG = { failureThreshold: 2, openMs: 1_000, probeLeaseMs: 300 };

/** One contract for every place the breakers are kept. */
const stores: Array<[string, () => BreakerStore]> = [
  ['in memory', () => memoryBreakerStore()],
  [
    'in the jobs table (DynamoDB)',
    () => createDynamoBreakerStore(aws.clients.doc, aws.resources.tables.jobs),
  ],
];

describe.each(stores)('circuit breakers kept %s', (_name, make) => {
  it('opens for every worker once failures are sustained, and closes after a good probe', async () => {
    // Prepare: two workers sharing one store, one clock.
    const store = make();
    let now = 1_000_000;
    const a = createBreakers(store, { config: CONFIG, now: () => now });
    const b = createBreakers(store, { config: CONFIG, now: () => now });
    const endpoint = `e-${Math.random()}`;

    // Act: failures seen by two different workers add up.
    await a.record(endpoint, 'failure');
    await b.record(endpoint, 'failure');

    // Assess
    expect((await b.admit(endpoint)).allow).toBe(false);
    now += 1_000;
    const probe = await a.admit(endpoint);
    expect(probe).toMatchObject({ allow: true, probe: true });
    expect((await b.admit(endpoint)).allow).toBe(false);
    await a.record(endpoint, 'success');
    expect(await b.admit(endpoint)).toMatchObject({ allow: true, probe: false });
    expect(await a.state(endpoint)).toMatchObject({ status: 'closed', opened: 1, closed: 1 });
  });

  it('gives the half-open probe to one of many concurrent workers', async () => {
    // Prepare
    const store = make();
    let now = 2_000_000;
    const workers = Array.from({ length: 8 }, () =>
      createBreakers(store, { config: CONFIG, now: () => now }),
    );
    const endpoint = `e-${Math.random()}`;
    await workers[0]?.record(endpoint, 'failure');
    await workers[0]?.record(endpoint, 'failure');
    now += 1_000;

    // Act
    const admissions = await Promise.all(workers.map((w) => w.admit(endpoint)));

    // Assess
    expect(admissions.filter((x) => x.allow)).toHaveLength(1);
  });
});
