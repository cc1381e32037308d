import { describe, expect, it } from 'vitest';
import { sensitivityFloor, strictest } from '../../shared/pipeline/sensitivity';

describe('sensitivity', () => {
  it('takes the strictest level', () => {
    // Assess
    expect(strictest()).toBe('public');
    expect(strictest('public', 'internal')).toBe('internal');
    expect(strictest('restricted', 'public', 'internal')).toBe('restricted');
  });

  it("gives a project its team's level unless the project's is stricter", () => {
    // Prepare
    const settings = {
      sensitivity: {
        teams: { vault: 'internal' as const },
        projects: { vault: { open: 'public' as const, keys: 'restricted' as const } },
      },
    };

    // Assess
    expect(sensitivityFloor(settings, 'other', 'site')).toBe('public');
    expect(sensitivityFloor(settings, 'vault', 'docs')).toBe('internal');
    // A project cannot lower its team's floor.
    expect(sensitivityFloor(settings, 'vault', 'open')).toBe('internal');
    expect(sensitivityFloor(settings, 'vault', 'keys')).toBe('restricted');
  });
});
