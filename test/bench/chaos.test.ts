import { describe, expect, it } from 'vitest';
import { MIXES, type Mix, type MixResult, mixFailed, runChaos } from '../../bench/chaos';
import { sharedAws } from '../support/shared-aws';

const baseline = MIXES.find((m) => m.name === 'baseline') as Mix;
const outageMix = MIXES.find((m) => m.name === 'outage') as Mix;
/** The outage mix made small: a short outage, a few restricted files. */
const shortOutage: Mix = { ...outageMix, outage: { ms: 5_000, restrictedFiles: 3 } };

describe('the fault campaign counts outputs, not states', () => {
  // The two campaigns at once, each on a pipeline of its own: most of their time is waiting.
  it.concurrent('passes without the mutation: every input has its output, the ledger is the bill', async () => {
    // Act: no unreported warm-up run.
    const [plain] = await runChaos({
      jobs: 4,
      warmupJobs: 0,
      mixes: [baseline],
      dynamodb: sharedAws(),
    });

    // Assess
    expect(plain?.outputs).toBe(4);
    expect(plain?.lost).toBe(0);
    expect(plain?.ledgerMatches).toBe(true);
    expect(plain?.provider.billedRequests).toBe(plain?.provider.recordedExactly);
    expect(plain && mixFailed(plain, baseline)).toBe(false);
  }, 240_000);

  it.concurrent('passes through an outage: the fallback serves, nothing is lost, restricted stays private', async () => {
    // Act
    const [outage] = await runChaos({
      jobs: 4,
      warmupJobs: 0,
      mixes: [shortOutage],
      dynamodb: sharedAws(),
    });

    // Assess: the outage. The fallback served some jobs, at its own price, nothing was lost,
    // the breaker opened and closed, and the restricted batch stayed off public endpoints.
    expect(outage?.lost).toBe(0);
    expect(outage?.outputs).toBe(4 + 3);
    expect(outage?.ledgerMatches).toBe(true);
    const o = outage?.outage;
    expect(o?.servedByFallback).toBeGreaterThan(0);
    expect(o?.fallbackModel).toBe('gpt-5.4');
    expect(o?.resultsFromFallback).toBe(o?.servedByFallback);
    expect(o?.fallbackLedgerNanoUsd).toBe(o?.fallbackBilledNanoUsd);
    expect(o?.refusedByPrimary).toBeGreaterThan(0);
    expect(o?.breaker).toMatchObject({ opened: 1, closed: 1, status: 'closed' });
    expect(o?.restricted).toEqual({ inputs: 3, outputs: 3, requestsToPublic: 0 });
    expect(o?.jobsByEndpoint.restricted).toBe(3);
    expect(outage && mixFailed(outage, shortOutage)).toBe(false);
  }, 240_000);

  it('fails the outage mix when the breaker never closed or a restricted request went public', () => {
    // Prepare: a passing outage verdict, then each promise broken in turn.
    const passing = {
      lost: 0,
      ledgerMatches: true,
      billedTwice: 0,
      provider: { billedTwiceForAnInput: 0 },
      outage: {
        jobsByEndpoint: { public: 2, 'public-fallback': 2 },
        servedByFallback: 2,
        resultsFromFallback: 2,
        fallbackModel: 'gpt-5.4',
        fallbackLedgerNanoUsd: 10,
        fallbackBilledNanoUsd: 10,
        refusedByPrimary: 3,
        breaker: { opened: 1, closed: 1, status: 'closed' },
        restricted: { inputs: 3, outputs: 3, requestsToPublic: 0 },
      },
    } as unknown as MixResult;
    const broken = (outage: Partial<NonNullable<MixResult['outage']>>) =>
      ({ ...passing, outage: { ...passing.outage, ...outage } }) as MixResult;

    // Act / Assess
    expect(mixFailed(passing, outageMix)).toBe(false);
    expect(
      mixFailed(broken({ breaker: { opened: 1, closed: 0, status: 'open' } }), outageMix),
    ).toBe(true);
    expect(
      mixFailed(broken({ restricted: { inputs: 3, outputs: 3, requestsToPublic: 1 } }), outageMix),
    ).toBe(true);
    expect(mixFailed(broken({ fallbackLedgerNanoUsd: 9 }), outageMix)).toBe(true);
    expect(mixFailed(broken({ servedByFallback: 0 }), outageMix)).toBe(true);
  });
});
