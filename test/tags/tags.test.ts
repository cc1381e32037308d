/**
 * Cost-allocation tags follow AWS's rules for user-defined tags, wherever they come from: the
 * CLI's `--tag`, a manifest's `tags`, the stack's project defaults and activated tag columns.
 */
import { describe, expect, it } from 'vitest';
import { buildManifest, type SubmitFlags } from '../../cli/commands/submit';
import { QUALITY_DEFAULTS } from '../../cli/lib/quality';
import { parseConfig } from '../../infra/config';
import { checkTagColumns, tagColumn } from '../../shared/chargeback/line-items';
import { ManifestSchema } from '../../shared/inputs/manifest';
import { checkTags, MAX_TAGS, mergeTags, parseTag, TagError } from '../../shared/tags';
import { aConfig, cdkJsonContext } from '../infra/stack-factory';

const flags = (tag: string[]): SubmitFlags => ({
  team: 'web',
  project: 'shop',
  kind: 'docs',
  model: 'deepseek-flash',
  sensitivity: 'public',
  timeout: 60,
  concurrency: 4,
  shadowRate: 0.1,
  runs: QUALITY_DEFAULTS.runs,
  validateTimeout: QUALITY_DEFAULTS.timeoutMs / 1000,
  validateConcurrency: QUALITY_DEFAULTS.concurrency,
  repairRounds: QUALITY_DEFAULTS.repairRounds,
  coverageReport: QUALITY_DEFAULTS.coverageReport,
  keepIf: QUALITY_DEFAULTS.keepIf,
  tag,
});

const manifestWith = (tag: string[]) =>
  buildManifest({
    batchId: 'b1',
    flags: flags(tag),
    files: ['a.ts'],
    contextFiles: [],
    env: {},
    now: new Date('2026-11-30T12:00:00Z'),
  });

describe('tag rules', () => {
  it('accept what AWS accepts: letters of any script, digits, spaces and _ . : / = + - @', () => {
    // Assess
    expect(
      checkTags({ 'cost-centre': 'cc-42', 'team:owner': 'jane@example.com', Ünïcode: 'ja 日本' }),
    ).toEqual({
      'cost-centre': 'cc-42',
      'team:owner': 'jane@example.com',
      Ünïcode: 'ja 日本',
    });
    expect(parseTag('path=a=b')).toEqual(['path', 'a=b']);
    expect(checkTags({ empty: '' })).toEqual({ empty: '' });
  });

  it.each([
    [{ 'aws:createdBy': 'x' }, /reserves/],
    [{ cost$centre: 'x' }, /only letters/],
    [{ k: 'semi;colon' }, /only letters/],
    [{ ['k'.repeat(129)]: 'x' }, /1-128/],
    [{ k: 'v'.repeat(257) }, /at most 256/],
    [{ '': 'x' }, /1-128/],
    [
      Object.fromEntries(Array.from({ length: MAX_TAGS + 1 }, (_, i) => [`k${i}`, 'v'])),
      /at most 50/,
    ],
  ])('refuse %j', (tags, message) => {
    // Assess
    expect(() => checkTags(tags)).toThrow(TagError);
    expect(() => checkTags(tags)).toThrow(message);
  });

  it("let a batch's own tags win over its project's defaults", () => {
    // Assess
    expect(
      mergeTags({ environment: 'prod', 'cost-centre': 'cc-1' }, { 'cost-centre': 'cc-42' }),
    ).toEqual({
      environment: 'prod',
      'cost-centre': 'cc-42',
    });
  });
});

describe('where tags come from', () => {
  it('submit --tag writes them into the manifest, and refuses a bad or repeated one', () => {
    // Assess
    expect(manifestWith(['cost-centre=cc-42', 'repository=shop']).tags).toEqual({
      'cost-centre': 'cc-42',
      repository: 'shop',
    });
    expect(() => manifestWith(['no-equals-sign'])).toThrow(/key=value/);
    expect(() => manifestWith(['aws:x=1'])).toThrow(/reserves/);
    expect(() => manifestWith(['a=1', 'a=2'])).toThrow(/twice/);
  });

  it('a manifest with a bad tag is refused, naming the rule', () => {
    // Act
    const parsed = ManifestSchema.safeParse({
      ...manifestWith([]),
      tags: { bad$key: 'x' },
    });

    // Assess
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toMatch(/only letters/);
  });

  it("the stack checks projects' default tags and the activated tag columns", () => {
    // Prepare
    const raw = cdkJsonContext().warmbatch as Record<string, unknown>;

    // Assess
    expect(() =>
      parseConfig({
        ...raw,
        teams: { web: { monthlyBudgetUsd: 10, projects: { shop: { tags: { 'aws:x': 'y' } } } } },
      }),
    ).toThrow(/warmbatch\.teams\.web\.projects\.shop\.tags.*reserves/);
    expect(() =>
      parseConfig({ ...raw, chargeback: { tagColumns: ['cost-centre', 'cost_centre'] } }),
    ).toThrow(/both give column tag_cost_centre/);
    expect(aConfig().chargeback.tagColumns).toEqual(['cost-centre', 'environment', 'repository']);
    expect(tagColumn('Cost Centre')).toBe('tag_cost_centre');
    expect(() => checkTagColumns(['---'])).toThrow(/no column name/);
  });
});
