import { describe, expect, it } from 'vitest';
import { jobFromIntakeKey, parseIntakeKey } from '../../shared/inputs';

const options = (overrides: Partial<Parameters<typeof jobFromIntakeKey>[1]> = {}) => ({
  batchId: 'win-2026-11-28T12-00',
  model: 'deepseek-v4-flash',
  sensitivity: 'internal' as const,
  ...overrides,
});

describe('jobFromIntakeKey', () => {
  it('turns a dropped object into a job with keys derived from the object key', () => {
    // Act
    const result = jobFromIntakeKey(
      'intake/Shop/web-app/tests/src/cart/cart.ts',
      options({
        contextKeys: ['intake/shop/web-app/context/b.md', 'intake/shop/web-app/context/a.md'],
      }),
    );

    // Assess
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      batchId: 'win-2026-11-28T12-00',
      team: 'shop',
      project: 'web-app',
      kind: 'tests',
      path: 'src/cart/cart.ts',
      inputKey: 'intake/Shop/web-app/tests/src/cart/cart.ts',
      outputKey: 'outputs/shop/web-app/win-2026-11-28T12-00/src/cart/cart.test.ts',
      model: 'deepseek-v4-flash',
      sensitivity: 'internal',
      contextKeys: ['intake/shop/web-app/context/a.md', 'intake/shop/web-app/context/b.md'],
    });
    expect(result.value.jobId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('accepts unicode and spaces in the path', () => {
    const result = jobFromIntakeKey('intake/shop/web/docs/my docs/résumé 2.py', options());
    expect(result).toMatchObject({
      ok: true,
      value: {
        path: 'my docs/résumé 2.py',
        outputKey: expect.stringMatching(/my docs\/résumé 2\.py\.md$/),
      },
    });
  });

  it('rejects an unknown kind and lists the known ones', () => {
    const result = jobFromIntakeKey('intake/shop/web/summaries/a.ts', options());
    expect(result).toMatchObject({
      ok: false,
      rejection: { source: 'intake/shop/web/summaries/a.ts', where: 'kind', code: 'unknown_kind' },
    });
    if (!result.ok) expect(result.rejection.reason).toContain('docs, tests');
  });

  it('rejects path traversal hidden after the kind', () => {
    expect(jobFromIntakeKey('intake/shop/web/docs/../../../etc/passwd', options())).toMatchObject({
      ok: false,
      rejection: { code: 'path_traversal' },
    });
  });

  it('rejects a bad team name', () => {
    expect(jobFromIntakeKey('intake/-shop/web/docs/a.ts', options())).toMatchObject({
      ok: false,
      rejection: { code: 'bad_name', where: 'team' },
    });
  });

  it('rejects a key too short to name team, project, kind and file', () => {
    expect(jobFromIntakeKey('intake/shop/web/docs', options())).toMatchObject({
      ok: false,
      rejection: { code: 'bad_key' },
    });
  });

  it('does not make a job of a shared context file', () => {
    expect(parseIntakeKey('intake/shop/web/context/STYLE.md')).toEqual({
      ok: true,
      value: { role: 'context', team: 'shop', project: 'web', path: 'STYLE.md' },
    });
    expect(jobFromIntakeKey('intake/shop/web/context/STYLE.md', options()).ok).toBe(false);
  });
});
