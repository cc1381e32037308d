import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  corpusWorkload,
  drawFileTokens,
  seededRandom,
  shuffled,
  simulatorPromptCounter,
  syntheticWorkload,
} from '../../bench/cache/workload';
import { prefixKey } from '../../shared/prompts';

const small = (seed: number) =>
  syntheticWorkload({
    groups: 3,
    filesPerGroup: 4,
    prefixTokens: 1500,
    seed,
    model: 'deepseek-flash',
  });

describe('syntheticWorkload', () => {
  it('builds the same workload from the same seed', () => {
    const a = small(7);
    const b = small(7);

    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it('builds a different workload from another seed', () => {
    expect(JSON.stringify(small(7))).not.toBe(JSON.stringify(small(8)));
  });

  it('gives every job of a group the same prefix key and distinct groups distinct keys', () => {
    const w = small(1);

    for (const g of w.groups)
      for (const job of g.jobs) expect(prefixKey(w.model, job.messages)).toBe(g.prefixKey);
    expect(new Set(w.groups.map((g) => g.prefixKey)).size).toBe(3);
  });

  it('sizes each prefix close to the requested tokens, counted as the simulator counts', () => {
    const w = small(1);
    const count = simulatorPromptCounter();

    for (const g of w.groups) {
      expect(count(g.prefixMessages)).toBe(g.prefixTokens);
      expect(g.prefixTokens).toBeGreaterThanOrEqual(1500);
      expect(g.prefixTokens).toBeLessThan(1500 * 1.1);
    }
  });

  it('counts each job as its prefix plus a unique part', () => {
    const w = small(2);

    for (const g of w.groups)
      for (const job of g.jobs) expect(job.promptTokens).toBeGreaterThan(g.prefixTokens + 50);
  });
});

describe('seeded helpers', () => {
  it('draws file sizes inside the clamped range', () => {
    const random = seededRandom(3);

    const sizes = Array.from({ length: 500 }, () => drawFileTokens(random));

    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(80);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4000);
    expect(new Set(sizes).size).toBeGreaterThan(100);
  });

  it('shuffles deterministically without losing items', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);

    const a = shuffled(items, seededRandom(5));
    const b = shuffled(items, seededRandom(5));

    expect(a).toEqual(b);
    expect(a).not.toEqual(items);
    expect([...a].sort((x, y) => x - y)).toEqual(items);
  });
});

describe('corpusWorkload', () => {
  it('groups a directory by top-level folder and language, with its markdown as context', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-corpus-'));
    try {
      await mkdir(join(dir, 'api'));
      await mkdir(join(dir, 'web'));
      await writeFile(join(dir, 'README.md'), '# Shop\n\nConventions for every module.\n');
      await writeFile(join(dir, 'api', 'orders.ts'), 'export function total() { return 1; }\n');
      await writeFile(join(dir, 'api', 'users.ts'), 'export const name = "u";\n');
      await writeFile(join(dir, 'api', 'jobs.py'), 'def run():\n    return 1\n');
      await writeFile(join(dir, 'web', 'page.ts'), 'export function page() {}\n');
      await writeFile(join(dir, 'web', 'logo.png'), 'not code');

      const w = await corpusWorkload({
        dir,
        model: 'deepseek-flash',
        groupBy: 'folder',
        kind: 'docs',
      });

      const names = w.groups.map((g) => `${g.name}:${g.jobs.length}`).sort();
      expect(names).toEqual(['api/python:1', 'api/typescript:2', 'web/typescript:1']);
      expect(w.groups[0]?.prefixMessages[1]?.content).toContain('Conventions for every module.');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
