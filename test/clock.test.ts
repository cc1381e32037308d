import { describe, expect, it } from 'vitest';
import { fixedClock } from '../shared/clock';

describe('fixedClock', () => {
  it('stays put until advanced', () => {
    const clock = fixedClock('2026-11-28T12:00:00Z');
    expect(clock.now().toISOString()).toBe('2026-11-28T12:00:00.000Z');
    clock.advance(1500);
    expect(clock.now().toISOString()).toBe('2026-11-28T12:00:01.500Z');
  });
});
