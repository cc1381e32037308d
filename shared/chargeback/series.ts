/**
 * The series the HTML report charts: cost per team per day, cost, counterfactual and warm-up
 * per day, cache hit ratio per day, cost per pricing tier and the costliest projects, from the
 * same facts and filters as the report's table.
 */
import { addTotals, type Totals, zeroTotals } from '../totals';
import { type Fact, type Filters, matches } from './facts';
import { cacheHitRatio } from './report';

/** The series the charts draw; money in integer nano-USD. */
export interface ChartSeries {
  days: string[];
  teams: string[];
  /** Cost per team, one value per day. */
  spendByTeam: Record<string, number[]>;
  cost: number[];
  counterfactual: number[];
  warmup: number[];
  /** Hit tokens over prompt tokens per day; null on a day without prompt tokens. */
  cacheHitRatio: (number | null)[];
  /** Cost per pricing tier (peak, off-peak, flat). */
  tiers: Record<string, number>;
  /** The ten projects that cost most: `team/project` and cost. */
  topProjects: { project: string; costNanoUsd: number }[];
  totals: Totals;
}

/** Every UTC day from the first to the last, inclusive. */
function daysBetween(first: string, last: string): string[] {
  const days: string[] = [];
  for (
    let t = Date.parse(`${first}T00:00:00Z`);
    t <= Date.parse(`${last}T00:00:00Z`);
    t += 86_400_000
  )
    days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/** The charts' series from record facts, after the report's filters; unpriced facts left out. */
export function chartSeries(facts: readonly Fact[], filters: Filters): ChartSeries {
  const kept = facts.filter((f) => !f.unpriced && matches(f, filters));
  const present = kept.map((f) => f.day ?? `${f.month}-01`).sort();
  const days =
    present.length === 0 ? [] : daysBetween(present[0] as string, present.at(-1) as string);
  const teams = [...new Set(kept.map((f) => f.team))].sort();
  const at = new Map(days.map((d, i) => [d, i]));
  const zeros = () => days.map(() => 0);
  const spendByTeam = Object.fromEntries(teams.map((t) => [t, zeros()]));
  const cost = zeros();
  const counterfactual = zeros();
  const warmup = zeros();
  const hits = zeros();
  const prompts = zeros();
  const tiers: Record<string, number> = {};
  const projects = new Map<string, number>();
  const totals = zeroTotals();
  for (const f of kept) {
    const i = at.get(f.day ?? `${f.month}-01`) as number;
    (spendByTeam[f.team] as number[])[i] =
      ((spendByTeam[f.team] as number[])[i] ?? 0) + f.costNanoUsd;
    cost[i] = (cost[i] ?? 0) + f.costNanoUsd;
    counterfactual[i] = (counterfactual[i] ?? 0) + f.counterfactualNanoUsd;
    warmup[i] = (warmup[i] ?? 0) + f.warmupCostNanoUsd;
    hits[i] = (hits[i] ?? 0) + f.hitTokens;
    prompts[i] = (prompts[i] ?? 0) + f.hitTokens + f.missTokens;
    const tier = f.tier ?? 'flat';
    tiers[tier] = (tiers[tier] ?? 0) + f.costNanoUsd;
    const name = `${f.team}/${f.project}`;
    projects.set(name, (projects.get(name) ?? 0) + f.costNanoUsd);
    addTotals(totals, f);
  }
  return {
    days,
    teams,
    spendByTeam,
    cost,
    counterfactual,
    warmup,
    cacheHitRatio: days.map((_, i) =>
      cacheHitRatio(hits[i] ?? 0, (prompts[i] ?? 0) - (hits[i] ?? 0)),
    ),
    tiers,
    topProjects: [...projects.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 10)
      .map(([p, c]) => ({ project: p, costNanoUsd: c })),
    totals,
  };
}
