import { describe, expect, it } from 'vitest';
import {
  isManifestKey,
  jobsFromManifest,
  MAX_MANIFEST_FILES,
  type Manifest,
  ManifestSchema,
  manifestKeyFor,
  parseManifest,
  parseManifestKey,
} from '../../shared/inputs';

const makeManifest = (overrides: Partial<Manifest> = {}): Manifest => ({
  batchId: 'b-42',
  team: 'shop',
  project: 'web',
  kind: 'docs',
  files: ['src/cart.ts', 'src/money.ts'],
  contextFiles: ['STYLE.md'],
  model: 'deepseek-v4-flash',
  createdAt: '2026-11-28T12:00:00Z',
  ...overrides,
});

const parse = (manifest: unknown, key = manifestKeyFor({ team: 'shop', batchId: 'b-42' })) =>
  parseManifest(key, new TextEncoder().encode(JSON.stringify(manifest)));

describe('parseManifest', () => {
  it('fills defaults and converts the budget to integer nano-USD', () => {
    // Act
    const result = parse(makeManifest({ budgetUsd: 12.34 }));

    // Assess
    expect(result).toMatchObject({
      ok: true,
      value: { sensitivity: 'public', budgetNanoUsd: 12_340_000_000 },
    });
    if (result.ok) expect(Number.isInteger(result.value.budgetNanoUsd)).toBe(true);
  });

  it('keeps CI metadata and the off-peak preference', () => {
    const ci = {
      provider: 'github',
      repo: 'acme/shop',
      commit: 'abc123',
      ref: 'main',
      runUrl: 'https://ci/1',
    };
    expect(
      parse(makeManifest({ ci, preferOffPeak: true, deadline: '2026-11-29T00:00:00+01:00' })),
    ).toMatchObject({
      ok: true,
      value: { ci, preferOffPeak: true, deadline: '2026-11-29T00:00:00+01:00' },
    });
  });

  it('rejects invalid JSON', () => {
    expect(parseManifest('batches/shop/b-42/manifest.json', '{"batchId": ')).toMatchObject({
      ok: false,
      rejection: { source: 'batches/shop/b-42/manifest.json', code: 'bad_manifest' },
    });
  });

  it.each([
    ['sensitivity', { sensitivity: 'secret' }],
    ['kind', { kind: 'summaries' }],
    ['team', { team: 'no spaces' }],
    ['budgetUsd', { budgetUsd: -1 }],
    ['deadline', { deadline: 'tomorrow' }],
    ['files', { files: [] }],
  ])('rejects a bad %s and names the field', (field, overrides) => {
    const result = parse({ ...makeManifest(), ...overrides });
    expect(result).toMatchObject({ ok: false, rejection: { code: 'bad_manifest', where: field } });
  });

  it('takes up to 100,000 files in one manifest and refuses more, saying to split it', () => {
    const paths = (n: number) => Array.from({ length: n }, (_, i) => `src/f${i}.ts`);
    expect(parse(makeManifest({ files: paths(MAX_MANIFEST_FILES) }))).toMatchObject({ ok: true });
    const over = parse(makeManifest({ files: paths(MAX_MANIFEST_FILES + 1) }));
    expect(over).toMatchObject({ ok: false, rejection: { code: 'bad_manifest', where: 'files' } });
    if (!over.ok) expect(over.rejection.reason).toContain('split the work into several manifests');
  });

  it('rejects a misspelt field instead of ignoring it', () => {
    const result = parse({ ...makeManifest(), sensitivty: 'restricted' });
    expect(result).toMatchObject({ ok: false, rejection: { code: 'bad_manifest' } });
    if (!result.ok) expect(result.rejection.reason).toContain('sensitivty');
  });

  it('rejects a manifest stored under another batch id', () => {
    expect(parse(makeManifest(), manifestKeyFor({ team: 'shop', batchId: 'b-43' }))).toMatchObject({
      ok: false,
      rejection: { code: 'batch_id_mismatch', where: 'batchId' },
    });
  });

  it("refuses a manifest charged to another team than its key's", () => {
    // Act: team web's credentials can write only under batches/web/
    const result = parse(
      makeManifest({ team: 'shop' }),
      manifestKeyFor({ team: 'web', batchId: 'b-42' }),
    );

    // Assess
    expect(result).toMatchObject({
      ok: false,
      rejection: { code: 'team_mismatch', where: 'team' },
    });
    if (!result.ok) expect(result.rejection.reason).toContain('batches/<its team>/');
  });

  it('refuses the old layout, naming where the manifest belongs now', () => {
    // Act
    const result = parse(makeManifest(), 'batches/b-42/manifest.json');

    // Assess
    expect(result).toMatchObject({ ok: false, rejection: { code: 'old_layout' } });
    if (!result.ok) expect(result.rejection.reason).toContain('batches/shop/b-42/manifest.json');
  });
});

describe('parseManifestKey', () => {
  it.each([
    ['batches/shop/b-42/manifest.json', { layout: 'current', team: 'shop', batchId: 'b-42' }],
    ['batches/b-42/manifest.json', { layout: 'old', batchId: 'b-42' }],
    ['batches/shop/b-42/files/manifest.json', undefined],
    ['results/shop/b-42/manifest.json', undefined],
  ])('reads %s', (key, expected) => {
    expect(parseManifestKey(key)).toEqual(expected);
    expect(isManifestKey(key)).toBe(expected?.layout === 'current');
  });
});

describe('jobsFromManifest', () => {
  const jobsOf = (manifest: Manifest, isKnownModel?: (m: string) => boolean) =>
    jobsFromManifest('batches/shop/b-42/manifest.json', ManifestSchema.parse(manifest), {
      isKnownModel,
    });

  it('makes one job per file, reading content and context from the batch folder', () => {
    // Act
    const { jobs, rejections } = jobsOf(
      makeManifest({ contextFiles: ['types/shared.ts', 'STYLE.md'] }),
    );

    // Assess
    expect(rejections).toEqual([]);
    expect(jobs.map((j) => [j.path, j.inputKey, j.outputKey])).toEqual([
      [
        'src/cart.ts',
        'batches/shop/b-42/files/src/cart.ts',
        'outputs/shop/web/b-42/src/cart.ts.md',
      ],
      [
        'src/money.ts',
        'batches/shop/b-42/files/src/money.ts',
        'outputs/shop/web/b-42/src/money.ts.md',
      ],
    ]);
    expect(jobs[0]?.contextKeys).toEqual([
      'batches/shop/b-42/context/STYLE.md',
      'batches/shop/b-42/context/types/shared.ts',
    ]);
  });

  it('rejects a bad or repeated file and keeps the rest of the batch', () => {
    // Act
    const { jobs, rejections } = jobsOf(
      makeManifest({ files: ['src/a.ts', '../b.ts', 'src/a.ts', 'ok dir/ç.py'] }),
    );

    // Assess
    expect(jobs.map((j) => j.path)).toEqual(['src/a.ts', 'ok dir/ç.py']);
    expect(rejections).toMatchObject([
      { where: 'files[1]', code: 'path_traversal' },
      { where: 'files[2]', code: 'duplicate_path' },
    ]);
  });

  it('rejects every file when the model is not in the catalog', () => {
    const { jobs, rejections } = jobsOf(
      makeManifest({ model: 'gpt-9' }),
      (m) => m === 'deepseek-v4-flash',
    );
    expect(jobs).toEqual([]);
    expect(rejections).toMatchObject([{ where: 'model', code: 'unknown_model' }]);
  });
});
