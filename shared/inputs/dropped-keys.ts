/**
 * Dropped objects: `intake/<team>/<project>/<kind>/<path>` become jobs, and
 * `intake/<team>/<project>/context/<path>` become shared context for every job of the project.
 */

import { PREFIXES } from '../resources';
import { KINDS, type Kind, type Sensitivity } from '../types';
import { type Job, jobIdFor, ok, outputKeyFor, type Result, reject } from './jobs';
import { validateName, validatePath } from './validate';

/** The `<kind>` segment that marks shared context files instead of sources. */
export const CONTEXT_SEGMENT = 'context';

export type IntakeObject =
  | { role: 'source'; team: string; project: string; kind: Kind; path: string }
  | { role: 'context'; team: string; project: string; path: string };

/**
 * Parses a dropped object's key (already URL-decoded). Team and project come back in lower case;
 * `path` is the rest of the key after the kind.
 */
export function parseIntakeKey(key: string): Result<IntakeObject> {
  if (!key.startsWith(PREFIXES.intake))
    return reject(key, 'bad_key', `key does not start with '${PREFIXES.intake}'`, 'key');
  const segments = key.slice(PREFIXES.intake.length).split('/');
  const [team, project, kind, ...rest] = segments;
  if (team === undefined || project === undefined || kind === undefined || rest.length === 0)
    return reject(
      key,
      'bad_key',
      `expected ${PREFIXES.intake}<team>/<project>/<kind>/<path> with kind one of ${KINDS.join(', ')} (or '${CONTEXT_SEGMENT}' for shared context)`,
      'key',
    );
  const teamResult = validateName(key, 'team', team);
  if (!teamResult.ok) return teamResult;
  const projectResult = validateName(key, 'project', project);
  if (!projectResult.ok) return projectResult;
  const pathResult = validatePath(key, rest.join('/'));
  if (!pathResult.ok) return pathResult;
  const base = { team: teamResult.value, project: projectResult.value, path: pathResult.value };
  if (kind === CONTEXT_SEGMENT) return ok({ role: 'context', ...base });
  if (!isKind(kind))
    return reject(
      key,
      'unknown_kind',
      `kind ${JSON.stringify(kind)} is not known: use one of ${KINDS.join(', ')} (or '${CONTEXT_SEGMENT}' for shared context)`,
      'kind',
    );
  return ok({ role: 'source', kind, ...base });
}

/** Whether a string is one of KINDS. */
export function isKind(value: string): value is Kind {
  return (KINDS as readonly string[]).includes(value);
}

export interface IntakeJobOptions {
  /** The batch the planner collected this object into. */
  batchId: string;
  model: string;
  sensitivity: Sensitivity;
  /** Keys of the project's shared context objects; sorted into a stable order here. */
  contextKeys?: readonly string[];
}

/** Turns a dropped source object into a job; context objects and bad keys are rejected. */
export function jobFromIntakeKey(key: string, options: IntakeJobOptions): Result<Job> {
  const parsed = parseIntakeKey(key);
  if (!parsed.ok) return parsed;
  const object = parsed.value;
  if (object.role === 'context')
    return reject(key, 'bad_key', 'this is a shared context file, not a source file', 'kind');
  return ok({
    jobId: jobIdFor(options.batchId, object.path),
    batchId: options.batchId,
    team: object.team,
    project: object.project,
    kind: object.kind,
    path: object.path,
    inputKey: key,
    outputKey: outputKeyFor(object.team, object.project, options.batchId, object.kind, object.path),
    model: options.model,
    sensitivity: options.sensitivity,
    contextKeys: sortedKeys(options.contextKeys ?? []),
  });
}

/** Keys in code-point order, independent of locale, so prompts built from them stay byte-identical. */
export function sortedKeys(keys: readonly string[]): string[] {
  return [...new Set(keys)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
