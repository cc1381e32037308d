/**
 * The CI re-run benchmark on a small workload: the second run calls only the changed files,
 * reuses the rest, and reports both bills and both wall times as a script reads them.
 */
import { describe, expect, it } from 'vitest';
import { RERUN_BAR, runRerun, withChangedFiles } from '../../bench/e2e/rerun';
import { e2eWorkload } from '../../bench/e2e/workload';
import { sharedDynamodb } from '../support/shared-aws';

describe('withChangedFiles', () => {
  it('changes the seeded share of files, the same ones for the same seed', () => {
    const projects = e2eWorkload({
      files: 40,
      filesPerProject: 20,
      contextTokens: 200,
      seed: 4,
      team: 't',
    });

    const a = withChangedFiles(projects, 0.1, 4);
    const b = withChangedFiles(projects, 0.1, 4);

    expect(a.changed).toBe(4);
    const changedKeys = (r: typeof a) =>
      r.projects.flatMap((p, pi) =>
        p.sources.filter((f, fi) => f.body !== projects[pi]?.sources[fi]?.body).map((f) => f.key),
      );
    expect(changedKeys(a)).toHaveLength(4);
    expect(changedKeys(a)).toEqual(changedKeys(b));
  });
});

describe('runRerun', () => {
  it('calls only the changed files the second time, warm and cold, and reports cost and wall ratios', async () => {
    const results = await runRerun({
      files: 10,
      filesPerProject: 10,
      contextTokens: 300,
      changed: 0.2,
      seed: 2,
      at: new Date('2026-11-01T12:00:00Z'),
      cacheModels: ['units64'],
      dynamodb: sharedDynamodb(),
    });

    expect(results.map((r) => r.cache)).toEqual(['warm', 'cold']);
    for (const r of results) {
      expect(r.changedFiles).toBe(2);
      expect(r.second.called).toBe(2);
      expect(r.second.reused).toBe(8);
      expect(r.second.requests).toBeLessThan(r.first.requests);
      expect(r.ratio).toBeGreaterThan(0);
      expect(r.ratio).toBeCloseTo(r.second.providerNanoUsd / r.first.providerNanoUsd, 3);
      expect(r.met).toBe(r.ratio <= RERUN_BAR);
      expect(r.first.wallMs).toBeGreaterThan(0);
      expect(r.second.wallMs).toBeGreaterThan(0);
      expect(r.wallRatio).toBeCloseTo(r.second.wallMs / r.first.wallMs, 3);
    }
  }, 600_000); // a ceiling: four pipeline runs, slow on a starved machine
});
