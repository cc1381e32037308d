/**
 * The job: one file (or one OpenAI Batch API request) to generate docs or tests for, and the
 * result types every input parser returns. Keys and ids are derived from the input only, never
 * from file content or model output, so a redelivered input always maps to the same job.
 */
import { createHash } from 'node:crypto';
import type { RejectionCode } from '../job-errors';
import { outputPathFor } from '../prompts/language';
import { PREFIXES } from '../resources';
import type { BatchRef, ChatMessage, Kind, Sensitivity } from '../types';

export interface Job {
  /** Deterministic: short sha256 of batchId + '\0' + path (or custom_id). */
  jobId: string;
  batchId: string;
  team: string;
  project: string;
  kind: Kind;
  /** Validated relative path (for OpenAI JSONL, the custom_id). */
  path: string;
  /** S3 key holding the file content (for OpenAI JSONL, the JSONL file itself). */
  inputKey: string;
  /** `outputs/<team>/<project>/<batchId>/<output path>`, derived from the input path only. */
  outputKey: string;
  model: string;
  sensitivity: Sensitivity;
  /** S3 keys of the shared context files, in a stable (sorted) order. */
  contextKeys: string[];
  /** OpenAI JSONL only. */
  customId?: string;
  /** OpenAI JSONL body, or a repair's messages, used as given. */
  request?: { messages: ChatMessage[]; maxTokens?: number };
  /** A repair job: the job whose answer it repairs. */
  repairOf?: { batchId: string; jobId: string };
}

/** Why an input was not turned into a job, in terms a person can act on. */
export interface Rejection {
  /** The file or key the input came from. */
  source: string;
  /** Line (`line 3`) or field (`files[2]`, `body.messages[1].role`) inside the source. */
  where?: string;
  /** Stable machine-readable code, e.g. `path_traversal`, `binary`, `bad_jsonl_line`. */
  code: RejectionCode;
  reason: string;
}

export type { RejectionCode };

/** Outcome of checking one item. */
export type Result<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

/** Outcome of an input holding many items: the good ones become jobs, the rest are recorded. */
export interface Parsed {
  jobs: Job[];
  rejections: Rejection[];
}

/** Builds a successful Result. */
export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** Builds a failed Result. */
export function reject<T = never>(
  source: string,
  code: RejectionCode,
  reason: string,
  where?: string,
): Result<T> {
  return {
    ok: false,
    rejection: where === undefined ? { source, code, reason } : { source, where, code, reason },
  };
}

/** Deterministic job id: 16 hex characters of sha256(batchId + NUL + path or custom_id). */
export function jobIdFor(batchId: string, pathOrCustomId: string): string {
  return createHash('sha256')
    .update(`${batchId}\0${pathOrCustomId}`, 'utf8')
    .digest('hex')
    .slice(0, 16);
}

/** Where a batch's outputs live: `outputs/<team>/<project>/<batchId>/`. */
export function outputPrefixFor(batch: BatchRef & { project: string }): string {
  return `${PREFIXES.outputs}${batch.team}/${batch.project}/${batch.batchId}/`;
}

/** Full S3 key of the output for an input path: `outputs/<team>/<project>/<batchId>/<output path>`. */
export function outputKeyFor(
  team: string,
  project: string,
  batchId: string,
  kind: Kind,
  path: string,
): string {
  return `${outputPrefixFor({ team, project, batchId })}${outputPathFor(kind, path)}`;
}

/**
 * Output key of an OpenAI Batch API request: the response text, named after its custom_id
 * (the JSONL carries no file path to follow a language convention from).
 */
export function jsonlOutputKeyFor(
  team: string,
  project: string,
  batchId: string,
  customId: string,
): string {
  return `${outputPrefixFor({ team, project, batchId })}${customId}.md`;
}
