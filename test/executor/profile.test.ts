import { describe, expect, it } from 'vitest';
import { CacheProfile, emptyProfile } from '../../shared/executor/profile';

const NOW = new Date('2026-11-02T12:00:00Z');

function profileOf(readyWithinMs: number[]): CacheProfile {
  return new CacheProfile({ ...emptyProfile('sim|m', NOW), readyWithinMs, source: 'observed' });
}

describe('the settle time of a profile', () => {
  it('waits past the largest of a few widely spread delays, which the next one often exceeds', () => {
    // Prepare: three delays spread as a slow, uneven cache's are.
    const few = profileOf([1_000, 2_500, 6_000]);

    // Act
    const settle = few.settleMs();

    // Assess: a quantile of three is their largest; the bound widens it for the spread.
    expect(settle).toBeGreaterThan(6_000);
  });

  it('stays near the quantile when many delays agree', () => {
    const many = profileOf(Array.from({ length: 24 }, (_, i) => 2_000 + 10 * i));

    const settle = many.settleMs();

    expect(settle).toBeGreaterThanOrEqual(2_220);
    expect(settle).toBeLessThan(2_400);
  });

  it('is the one delay measured when there is only one', () => {
    expect(profileOf([3_000]).settleMs()).toBe(3_000);
  });
});
