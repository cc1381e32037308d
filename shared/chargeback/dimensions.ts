/**
 * What a chargeback query groups by. Roll-ups carry month, day, team, project, model, kind and
 * lane; batch, endpoint, tier and tags are on the cost records only, and verdicts are counted
 * per month, team, project, model, kind and lane (the monthly roll-ups).
 */
import { tagKeyProblem } from '../tags';
import { QueryError } from './period';

/** Dimensions a report groups by; `tag:<key>` groups by a cost-allocation tag. */
export const DIMENSIONS = [
  'month',
  'day',
  'team',
  'project',
  'model',
  'kind',
  'lane',
  'batch',
  'endpoint',
  'tier',
] as const;
export type Dimension = (typeof DIMENSIONS)[number] | `tag:${string}`;

/** The dimensions the roll-ups carry; any other needs the cost records. */
export const ROLLUP_DIMENSIONS: ReadonlySet<string> = new Set([
  'month',
  'day',
  'team',
  'project',
  'model',
  'kind',
  'lane',
]);

/** The dimensions verdicts are counted by (the monthly roll-ups' keys). */
export const QUALITY_DIMENSIONS: ReadonlySet<string> = new Set([
  'month',
  'team',
  'project',
  'model',
  'kind',
  'lane',
]);

/** How warm-up cost is shown: apart, as overhead rows (`separate`), or spread onto each job. */
export const WARMUP_VIEWS = ['separate', 'amortised'] as const;
export type WarmupView = (typeof WARMUP_VIEWS)[number];

/** What a fact must hold to be grouped: the dimension values it knows, and its tags. */
export interface Dimensioned {
  tags?: Record<string, string>;
}

/** A fact's value of a dimension; spend without the tag is `(untagged)`. */
export function dimensionValue(fact: Dimensioned, d: Dimension): string {
  if (d.startsWith('tag:')) return fact.tags?.[d.slice(4)] ?? '(untagged)';
  return String((fact as unknown as Record<string, unknown>)[d] ?? '');
}

/** Parses `team,project`; rejects unknown or repeated dimensions. */
export function parseDimensions(value: string): Dimension[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0)
    throw new QueryError(`--by needs at least one of ${DIMENSIONS.join(', ')}, tag:<key>`);
  for (const p of parts) {
    if (p.startsWith('tag:')) {
      const problem = tagKeyProblem(p.slice(4));
      if (problem) throw new QueryError(`--by ${p}: ${problem}`);
      continue;
    }
    if (!(DIMENSIONS as readonly string[]).includes(p))
      throw new QueryError(
        `--by ${p} is not a dimension: use ${DIMENSIONS.join(', ')} or tag:<key>`,
      );
  }
  if (new Set(parts).size !== parts.length) throw new QueryError('--by lists a dimension twice');
  return parts as Dimension[];
}

/**
 * Why the quality columns are empty in a report, or undefined when they are computed: verdicts
 * are counted per month, team, project, model, kind and lane (the monthly roll-ups), so a view
 * by day, batch, endpoint, tier or tag, or over part of a month, cannot split them.
 */
export function qualityUnavailable(
  by: readonly string[],
  wholeMonth: boolean,
  tagFilter = false,
): string | undefined {
  const finer = by.filter((d) => !QUALITY_DIMENSIONS.has(d));
  if (finer.length > 0)
    return `quality columns are not split by ${finer.join(', ')}: verdicts are counted per month, team, project, model, kind and lane (use --by with those)`;
  if (tagFilter)
    return 'quality columns are not kept per tag: verdicts are counted per month, team, project, model, kind and lane (leave out --tag)';
  if (!wholeMonth)
    return 'quality columns cover whole months only: verdicts are counted per month (use --month or whole months in --from/--to)';
  return undefined;
}
