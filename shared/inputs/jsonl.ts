/**
 * OpenAI Batch API input files: one `{custom_id, method, url, body}` request per line. Each bad
 * line is rejected on its own (line number, field, reason) and the good lines still run.
 */
import type { ChatMessage, Kind, Sensitivity } from '../types';
import { type Job, jobIdFor, jsonlOutputKeyFor, type Parsed, type Rejection } from './jobs';
import { validatePath } from './validate';

/**
 * Default upper bound on an OpenAI Batch API file, in bytes (setting `maxJsonlBytes`). One
 * planner invocation reads the whole file and plans every line within its timeout and memory:
 * 16 MiB is a few thousand ordinary requests, or a few requests near a 1M-token context.
 * OpenAI's own limit (200 MB) is far above what one invocation can plan; split larger files.
 */
export const DEFAULT_MAX_JSONL_BYTES = 16 * 1024 * 1024;

/**
 * Most requests one OpenAI batch file may hold: OpenAI's own limit for a Batch API input file
 * (50,000 requests). A file over it is refused whole, as OpenAI would refuse it.
 */
export const MAX_JSONL_REQUESTS = 50_000;

const ROLES: readonly ChatMessage['role'][] = ['system', 'user', 'assistant'];
const CHAT_URL = '/v1/chat/completions';

export interface JsonlOptions {
  /** The JSONL file's key; every job's inputKey and every rejection's source. */
  source: string;
  batchId: string;
  team: string;
  project: string;
  kind: Kind;
  sensitivity: Sensitivity;
  /** When given, requests naming a model it does not know are rejected. */
  isKnownModel?: (model: string) => boolean;
}

/**
 * Parses an OpenAI Batch API JSONL file into jobs carrying their request as given. Blank lines
 * are skipped; a repeated custom_id keeps its first line and rejects the later ones. Body fields
 * other than model, messages and max_tokens / max_completion_tokens are not forwarded.
 */
export function parseOpenAiBatchJsonl(text: string | Uint8Array, options: JsonlOptions): Parsed {
  const { source } = options;
  const jobs: Job[] = [];
  const rejections: Rejection[] = [];
  let decoded: string;
  try {
    decoded =
      typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: true }).decode(text);
  } catch {
    return {
      jobs,
      rejections: [
        { source, code: 'invalid_utf8', reason: 'file is not valid UTF-8: re-save it as UTF-8' },
      ],
    };
  }
  const lines = decoded.split('\n');
  const requests = lines.reduce((n, line) => (line.trim() === '' ? n : n + 1), 0);
  if (requests > MAX_JSONL_REQUESTS)
    return {
      jobs,
      rejections: [
        {
          source,
          code: 'too_large',
          reason: `OpenAI batch file has ${requests} requests, over the limit of ${MAX_JSONL_REQUESTS} a file (OpenAI's own): split it into smaller files`,
        },
      ],
    };
  const firstLineOf = new Map<string, number>();
  for (const [index, rawLine] of lines.entries()) {
    const lineNo = index + 1;
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') continue;
    const checked = checkLine(line, firstLineOf, options);
    if (!checked.ok) {
      rejections.push({
        source,
        where: checked.field ? `line ${lineNo}, ${checked.field}` : `line ${lineNo}`,
        code: 'bad_jsonl_line',
        reason: checked.reason,
      });
      continue;
    }
    const { customId, model, messages, maxTokens } = checked.value;
    firstLineOf.set(customId, lineNo);
    jobs.push({
      jobId: jobIdFor(options.batchId, customId),
      batchId: options.batchId,
      team: options.team,
      project: options.project,
      kind: options.kind,
      path: customId,
      inputKey: source,
      outputKey: jsonlOutputKeyFor(options.team, options.project, options.batchId, customId),
      model,
      sensitivity: options.sensitivity,
      contextKeys: [],
      customId,
      request: maxTokens === undefined ? { messages } : { messages, maxTokens },
    });
  }
  return { jobs, rejections };
}

interface Line {
  customId: string;
  model: string;
  messages: ChatMessage[];
  maxTokens?: number;
}

type LineResult = { ok: true; value: Line } | { ok: false; field?: string; reason: string };

/** A line's own checks, then those against the rest of the file and the catalog. */
function checkLine(
  line: string,
  firstLineOf: ReadonlyMap<string, number>,
  options: JsonlOptions,
): LineResult {
  const parsed = parseLine(line);
  if (!parsed.ok) return parsed;
  const { customId, model } = parsed.value;
  const earlier = firstLineOf.get(customId);
  if (earlier !== undefined)
    return {
      ok: false,
      field: 'custom_id',
      reason: `custom_id ${JSON.stringify(customId)} is already used on line ${earlier}: make each custom_id unique`,
    };
  const asPath = validatePath(options.source, customId, 'custom_id');
  if (!asPath.ok)
    return {
      ok: false,
      field: 'custom_id',
      reason: `custom_id names the output file, so it must be a safe relative name: ${asPath.rejection.reason}`,
    };
  if (options.isKnownModel && !options.isKnownModel(model))
    return {
      ok: false,
      field: 'body.model',
      reason: `model ${JSON.stringify(model)} is not in the price catalog: pick a listed model`,
    };
  return parsed;
}

function parseLine(line: string): LineResult {
  const bad = (field: string | undefined, reason: string): LineResult =>
    field === undefined ? { ok: false, reason } : { ok: false, field, reason };
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (cause) {
    return bad(
      undefined,
      `not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`,
    );
  }
  if (!isRecord(raw)) return bad(undefined, 'each line must be a JSON object');
  const customId = raw.custom_id;
  if (typeof customId !== 'string' || customId === '')
    return bad(
      'custom_id',
      'custom_id is missing: give every request a unique non-empty string custom_id',
    );
  if (raw.method !== 'POST')
    return bad('method', `method must be "POST", got ${JSON.stringify(raw.method)}`);
  if (raw.url !== CHAT_URL)
    return bad(
      'url',
      `url must be "${CHAT_URL}" (only chat completions are supported), got ${JSON.stringify(raw.url)}`,
    );
  const body = raw.body;
  if (!isRecord(body)) return bad('body', 'body must be an object with model and messages');
  if (typeof body.model !== 'string' || body.model === '')
    return bad('body.model', 'body.model is missing: name the model to use');
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    return bad('body.messages', 'body.messages is missing or empty: give at least one message');
  const messages: ChatMessage[] = [];
  for (const [i, m] of body.messages.entries()) {
    const field = `body.messages[${i}]`;
    if (!isRecord(m)) return bad(field, 'each message must be an object with role and content');
    if (typeof m.role !== 'string' || !(ROLES as readonly string[]).includes(m.role))
      return bad(
        `${field}.role`,
        `role ${JSON.stringify(m.role)} is not supported: use ${ROLES.join(', ')}${m.role === 'developer' ? " ('developer' maps to 'system')" : ''}`,
      );
    if (typeof m.content !== 'string')
      return bad(
        `${field}.content`,
        'content must be a string (text only; no content parts or images)',
      );
    messages.push({ role: m.role as ChatMessage['role'], content: m.content });
  }
  const limit = body.max_completion_tokens ?? body.max_tokens;
  const limitField =
    body.max_completion_tokens !== undefined ? 'body.max_completion_tokens' : 'body.max_tokens';
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1))
    return bad(limitField, `${limitField.slice(5)} must be a positive integer`);
  return {
    ok: true,
    value: {
      customId,
      model: body.model,
      messages,
      ...(limit === undefined ? {} : { maxTokens: limit as number }),
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
