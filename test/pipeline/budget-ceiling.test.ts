/**
 * The monthly cap is a ceiling on everything billed: warm-ups and cache probes reserve their
 * worst case before they are sent, like jobs, so a team whose budget runs out mid-batch pays
 * nothing more, and a group that cannot reserve its probe is skipped with the reason recorded.
 */
import { describe, expect, it } from 'vitest';
import type { CostRecord } from '../../shared/ports/ledger';
import {
  errorsOf,
  monthOf,
  put as putIn,
  summariesOfTeam,
  useFakePipeline,
} from '../support/fake-pipeline';
import { source } from './support';

const TEAM = 'ceiling';
const CAP_NANO_USD = 3_000_000;
const PROJECTS = 12;
const FILES_PER_PROJECT = 4;

const h = useFakePipeline({
  sim: { seed: 5 },
  settings: {
    maxOutputTokens: { docs: 256, tests: 256 },
    budgets: { [TEAM]: CAP_NANO_USD },
    executor: { warmup: 'prefix-probe' },
  },
});

/** A shared context long enough that its probe is a real cost: about 2,000 tokens. */
function contextOf(project: string): string {
  const lines = [`# ${project} style guide`];
  for (let i = 0; i < 120; i++)
    lines.push(`- Rule ${i} of ${project}: name things for what they hold, keep functions small.`);
  return `${lines.join('\n')}\n`;
}

describe('a budget spent mid-batch', () => {
  it('keeps everything billed, probes and warm-ups included, within the cap and records why work was skipped', async () => {
    // Prepare: many prefix groups (one per project), each warmed by a probe.
    const projects = Array.from({ length: PROJECTS }, (_, i) => `p${i}`);
    for (const p of projects) await putIn(h, `intake/${TEAM}/${p}/context/STYLE.md`, contextOf(p));

    // Act
    for (const p of projects)
      for (let i = 0; i < FILES_PER_PROJECT; i++)
        await putIn(h, `intake/${TEAM}/${p}/docs/src/f${i}.ts`, source(i));
    expect(await summariesOfTeam(h, TEAM)).toHaveLength(PROJECTS);

    // Assess: every billed record of the team, whatever its purpose, within the cap.
    const records: CostRecord[] = (await h.deps.ledger.records(TEAM, monthOf(h))).filter(
      (r) => r.purpose !== 'aws',
    );
    const total = records.reduce((n, r) => n + r.costNanoUsd, 0);
    const overhead = records.filter((r) => r.purpose !== 'job');
    expect(overhead.length).toBeGreaterThan(0);
    expect(records.every((r) => r.unpriced === undefined)).toBe(true);
    expect(total).toBeLessThanOrEqual(CAP_NANO_USD);
    const budget = await h.deps.ledger.budget(TEAM, monthOf(h));
    expect(budget?.spentNanoUsd).toBe(total);
    expect(budget?.committedNanoUsd).toBe(total);

    // The work that did not run is recorded with its reason.
    const summaries = await summariesOfTeam(h, TEAM);
    const skipped = summaries.reduce((n, s) => n + s.states.skipped_budget, 0);
    expect(skipped).toBeGreaterThan(0);
    const reasons = (
      await Promise.all(summaries.map((s) => errorsOf(h, { team: TEAM, batchId: s.batchId })))
    )
      .flat()
      .filter((e) => e.state === 'skipped_budget');
    expect(reasons).toHaveLength(skipped);
    for (const e of reasons) {
      expect(e.code).toBe('budget');
      expect(e.reason).toContain(`budgets.${TEAM}`);
    }
    // Groups whose probe could not reserve sent nothing at all, and say so.
    expect(reasons.some((e) => e.reason.includes("group's cache probe could not reserve"))).toBe(
      true,
    );
    const ran = summaries.reduce((n, s) => n + s.states.succeeded, 0);
    expect(ran).toBeGreaterThan(0);
    console.log(
      `budget-ceiling: cap ${CAP_NANO_USD} nano-USD, billed ${total} (${overhead.length} overhead records), ${ran} ran, ${skipped} skipped`,
    );
  });
});
