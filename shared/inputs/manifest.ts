/**
 * Batch manifests (`batches/<team>/<batchId>/manifest.json`), written last by `warmbatch submit`
 * once every file is uploaded. The schema is strict: a misspelt field (say `sensitivty`) is an error,
 * not silently ignored, because ignoring it could send restricted code to the public endpoint.
 */
import * as z from 'zod';
import { ShadowSchema } from '../quality/shadow';
import { PREFIXES, VERDICTS_SUFFIX } from '../resources';
import { TagsSchema } from '../tags';
import { type BatchRef, KINDS, SENSITIVITIES } from '../types';
import { sortedKeys } from './dropped-keys';
import {
  type Job,
  jobIdFor,
  ok,
  outputKeyFor,
  type Parsed,
  type Rejection,
  type Result,
  reject,
} from './jobs';
import { NAME_PATTERN, validatePath } from './validate';

/** Batch ids appear in S3 keys and DynamoDB keys: keep them short and plain. */
export const BATCH_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Largest budget accepted, in USD; keeps nano-USD amounts well inside safe integers. */
const MAX_BUDGET_USD = 1_000_000;

/**
 * Most files one manifest may list. The planner's commit holds every job of a batch in memory:
 * 100,000 jobs measured 682 MB of its 1,024 MB (docs/benchmarks.md, "Planning 100,000 jobs").
 */
export const MAX_MANIFEST_FILES = 100_000;

const nameSchema = (field: string) =>
  z
    .string()
    .regex(NAME_PATTERN, {
      error: `${field} must be 1-63 letters, digits, '-' or '_', starting with a letter or digit (case-insensitive; stored in lower case)`,
    })
    .transform((s) => s.toLowerCase());

const isoDate = (field: string) =>
  z.iso.datetime({
    offset: true,
    error: `${field} must be an ISO 8601 date-time such as 2026-11-28T12:00:00Z`,
  });

/** Schema of `batches/<team>/<batchId>/manifest.json`. */
export const ManifestSchema = z
  .strictObject({
    batchId: z.string().regex(BATCH_ID_PATTERN, {
      error: "batchId must be 1-128 letters, digits, '-' or '_', starting with a letter or digit",
    }),
    team: nameSchema('team'),
    project: nameSchema('project'),
    kind: z.enum(KINDS, { error: `kind must be one of ${KINDS.join(', ')}` }),
    files: z
      .array(z.string(), { error: 'files must be a list of relative paths' })
      .min(1, { error: 'files must list at least one path' })
      .max(MAX_MANIFEST_FILES, {
        error: `files must list at most ${MAX_MANIFEST_FILES.toLocaleString('en-US')} paths: split the work into several manifests`,
      }),
    contextFiles: z
      .array(z.string(), { error: 'contextFiles must be a list of relative paths' })
      .default([]),
    model: z.string().min(1, { error: 'model must name a model from the price catalog' }),
    sensitivity: z
      .enum(SENSITIVITIES, { error: `sensitivity must be one of ${SENSITIVITIES.join(', ')}` })
      .default('public'),
    budgetUsd: z
      .number({ error: 'budgetUsd must be a number of US dollars' })
      .nonnegative({ error: 'budgetUsd must not be negative' })
      .max(MAX_BUDGET_USD, { error: `budgetUsd must be at most ${MAX_BUDGET_USD}` })
      .optional(),
    deadline: isoDate('deadline').optional(),
    preferOffPeak: z.boolean({ error: 'preferOffPeak must be true or false' }).optional(),
    ci: z
      .strictObject({
        provider: z.string().optional(),
        repo: z.string().optional(),
        commit: z.string().optional(),
        ref: z.string().optional(),
        runUrl: z.string().optional(),
      })
      .optional(),
    /** Cost-allocation tags (shared/tags.ts), over the project's default tags. */
    tags: TagsSchema.optional(),
    createdAt: isoDate('createdAt'),
    /**
     * A repair batch: `files` are the paths whose tests failed in batch `batchId` (the original,
     * or the previous round's repair batch), with their failure output uploaded at
     * `batches/<team>/<this batch>/failures/<path>`.
     */
    repairOf: z
      .strictObject({
        batchId: z
          .string()
          .regex(BATCH_ID_PATTERN, { error: 'repairOf.batchId must be a batch id' }),
        round: z.number().int().min(1).max(10),
      })
      .optional(),
    /** Run a seeded sample on a second model as well; null turns the settings' shadow off. */
    shadow: ShadowSchema.nullable().optional(),
  })
  .transform(({ budgetUsd, ...rest }) => ({
    ...rest,
    // Money is integers from here on; rounding once, at the edge, is the only float step.
    ...(budgetUsd === undefined ? {} : { budgetNanoUsd: Math.round(budgetUsd * 1e9) }),
  }));

/** A manifest as written (by the CLI): budgets in USD, defaults optional. */
export type Manifest = z.input<typeof ManifestSchema>;

/** A manifest as read: names in lower case, defaults filled, budget in integer nano-USD. */
export type ParsedManifest = z.output<typeof ManifestSchema>;

/**
 * Where a batch's objects live: `batches/<team>/<batchId>/`. The team comes first so that a
 * team's policy can be limited to `batches/<team>/*`.
 */
export function batchPrefixFor(batch: BatchRef): string {
  return `${PREFIXES.batches}${batch.team}/${batch.batchId}/`;
}

/** Key of a batch's manifest: `batches/<team>/<batchId>/manifest.json`. */
export function manifestKeyFor(batch: BatchRef): string {
  return `${batchPrefixFor(batch)}manifest.json`;
}

/** Key holding the content of a batch's source file. */
export function batchFileKeyFor(batch: BatchRef, path: string): string {
  return `${batchPrefixFor(batch)}files/${path}`;
}

/** Key holding the failure output of a repair batch's file (the test run's output). */
export function batchFailureKeyFor(batch: BatchRef, path: string): string {
  return `${batchPrefixFor(batch)}failures/${path}`;
}

/** Key of a batch's verdicts, uploaded by the CLI after validation. */
export function verdictsKeyFor(batch: BatchRef): string {
  return `${batchPrefixFor(batch)}${VERDICTS_SUFFIX}`;
}

/** Key holding the content of a batch's shared context file. */
export function batchContextKeyFor(batch: BatchRef, path: string): string {
  return `${batchPrefixFor(batch)}context/${path}`;
}

const MANIFEST_KEY = /^batches\/([^/]+)\/([^/]+)\/manifest\.json$/;

/** The layout before keys carried the team: `batches/<batchId>/manifest.json`. */
const OLD_MANIFEST_KEY = /^batches\/([^/]+)\/manifest\.json$/;

/** What a manifest's key says: its team and batch id, or that it uses the old layout. */
export type ManifestKey = ({ layout: 'current' } & BatchRef) | { layout: 'old'; batchId: string };

/** Reads a manifest's key; undefined when the key is no manifest's. */
export function parseManifestKey(key: string): ManifestKey | undefined {
  const current = MANIFEST_KEY.exec(key);
  if (current) return { layout: 'current', team: current[1] ?? '', batchId: current[2] ?? '' };
  const old = OLD_MANIFEST_KEY.exec(key);
  return old ? { layout: 'old', batchId: old[1] ?? '' } : undefined;
}

/** Whether a key is a batch manifest (the object that triggers planning of a submitted batch). */
export function isManifestKey(key: string): boolean {
  return parseManifestKey(key)?.layout === 'current';
}

/** Why a manifest in the old layout is refused, naming where it belongs now. */
export function oldLayoutReason(key: string, team = '<team>'): string {
  const batchId = parseManifestKey(key)?.batchId ?? '<batchId>';
  return `manifest ${key} uses the old layout: batches now live under their team, write it at ${manifestKeyFor({ team, batchId })} (warmbatch submit does)`;
}

/**
 * Parses and validates a manifest's text (or bytes). `source` is the manifest's key; when it has
 * the `batches/<team>/<batchId>/manifest.json` form, its team and batchId must match the
 * manifest's: the team in the key is the one whose credentials wrote it, so a manifest naming
 * another team is refused rather than charged to that team.
 */
export function parseManifest(source: string, text: string | Uint8Array): Result<ParsedManifest> {
  let raw: unknown;
  try {
    const decoded =
      typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: true }).decode(text);
    raw = JSON.parse(decoded);
  } catch (cause) {
    return reject(
      source,
      'bad_manifest',
      `manifest is not valid UTF-8 JSON: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const first = issues[0];
    return reject(
      source,
      'bad_manifest',
      issues.map((i) => `${fieldOf(i.path) || '(manifest)'}: ${i.message}`).join('; '),
      first ? fieldOf(first.path) || undefined : undefined,
    );
  }
  const key = parseManifestKey(source);
  if (key?.layout === 'old')
    return reject(source, 'old_layout', oldLayoutReason(source, parsed.data.team));
  if (key && key.team !== parsed.data.team)
    return reject(
      source,
      'team_mismatch',
      `manifest says team ${JSON.stringify(parsed.data.team)} but is stored under team ${JSON.stringify(key.team)}: a team submits only for itself, under ${PREFIXES.batches}<its team>/`,
      'team',
    );
  if (key && key.batchId !== parsed.data.batchId)
    return reject(
      source,
      'batch_id_mismatch',
      `manifest says batchId ${JSON.stringify(parsed.data.batchId)} but is stored under ${JSON.stringify(key.batchId)}`,
      'batchId',
    );
  return ok(parsed.data);
}

export interface ManifestJobOptions {
  /** When given, a model it does not know rejects every file (an unknown model is never $0). */
  isKnownModel?: (model: string) => boolean;
}

/**
 * Turns a validated manifest into jobs. Bad or duplicate paths are rejected one by one so the
 * rest of the batch goes on; bad context paths are rejected and left out of the context.
 */
export function jobsFromManifest(
  source: string,
  manifest: ParsedManifest,
  options: ManifestJobOptions = {},
): Parsed {
  const { batchId, team, project, kind, model, sensitivity } = manifest;
  const batch = { team, batchId };
  const rejections: Rejection[] = [];
  if (options.isKnownModel && !options.isKnownModel(model)) {
    rejections.push({
      source,
      where: 'model',
      code: 'unknown_model',
      reason: `model ${JSON.stringify(model)} is not in the price catalog: pick a listed model`,
    });
    return { jobs: [], rejections };
  }
  const contextKeys: string[] = [];
  manifest.contextFiles.forEach((path, i) => {
    const checked = validatePath(source, path, `contextFiles[${i}]`);
    if (checked.ok) contextKeys.push(batchContextKeyFor(batch, checked.value));
    else rejections.push(checked.rejection);
  });
  const sortedContext = sortedKeys(contextKeys);
  const seen = new Map<string, number>();
  const jobs: Job[] = [];
  manifest.files.forEach((path, i) => {
    const where = `files[${i}]`;
    const checked = validatePath(source, path, where);
    if (!checked.ok) {
      rejections.push(checked.rejection);
      return;
    }
    const earlier = seen.get(path);
    if (earlier !== undefined) {
      rejections.push({
        source,
        where,
        code: 'duplicate_path',
        reason: `path ${JSON.stringify(path)} is listed twice (also files[${earlier}]): list each file once`,
      });
      return;
    }
    seen.set(path, i);
    jobs.push({
      jobId: jobIdFor(batchId, path),
      batchId,
      team,
      project,
      kind,
      path,
      inputKey: batchFileKeyFor(batch, path),
      outputKey: outputKeyFor(team, project, batchId, kind, path),
      model,
      sensitivity,
      contextKeys: [...sortedContext],
    });
  });
  return { jobs, rejections };
}

/** `['files', 2, 'x']` -> `files[2].x`. */
function fieldOf(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}
