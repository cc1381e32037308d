/**
 * Checks shared by every input form: team and project names, relative paths, and file content.
 * Each failure says what is wrong and what to do about it.
 */
import { ok, type Result, reject } from './jobs';

/** Team and project names; matched case-insensitively and stored in lower case. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/i;

/** S3 keys are limited to 1,024 bytes; leave room for the prefixes around a path. */
export const MAX_PATH_BYTES = 900;

/** Default upper bound on a file's size. */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024;

/** Share of control bytes above which a NUL-free file is still treated as binary. */
const BINARY_CONTROL_RATIO = 0.1;

/** How much of a file the control-byte ratio looks at. */
const BINARY_SNIFF_BYTES = 8192;

// C0 controls, DEL and C1 controls: never legitimate in a file name, and they break logs and keys.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/u;

/**
 * Validates a team or project name and returns it in lower case, so `Payments` and `payments`
 * charge back to the same owner.
 */
export function validateName(
  source: string,
  field: 'team' | 'project',
  name: string,
  where: string = field,
): Result<string> {
  if (!NAME_PATTERN.test(name)) {
    return reject(
      source,
      'bad_name',
      `${field} name ${JSON.stringify(name)} is not valid: use 1-63 letters, digits, '-' or '_', starting with a letter or digit (case-insensitive; stored in lower case)`,
      where,
    );
  }
  return ok(name.toLowerCase());
}

/**
 * Validates a relative file path as it will appear in S3 keys and output keys: no `..` or `.`
 * segments, not absolute, no backslashes, no control characters, no empty segments. Unicode and
 * spaces are fine.
 */
export function validatePath(source: string, path: string, where = 'path'): Result<string> {
  const fail = (code: Parameters<typeof reject>[1], reason: string) =>
    reject<string>(source, code, `path ${JSON.stringify(path)} ${reason}`, where);
  if (path.length === 0) return reject(source, 'empty_path', 'path is empty', where);
  if (CONTROL_CHARS.test(path))
    return fail(
      'control_char',
      'contains a control character (newline, tab, NUL...): rename the file',
    );
  if (path.includes('\\'))
    return fail('backslash', "contains a backslash: use '/' to separate folders");
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path))
    return fail('absolute_path', 'is absolute: give it relative to the project root');
  const segments = path.split('/');
  if (segments.includes('..'))
    return fail('path_traversal', "has a '..' segment: paths must stay inside the project");
  if (segments.includes('.'))
    return fail('empty_segment', "has a '.' segment: drop the './' parts");
  if (segments.includes(''))
    return fail('empty_segment', "has an empty segment ('//' or a trailing '/')");
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES)
    return fail('path_too_long', `is longer than ${MAX_PATH_BYTES} bytes`);
  return ok(path);
}

export interface ContentOptions {
  /** Largest accepted file, in bytes; 256 KiB by default. */
  maxBytes?: number;
  /** The whole object's size when only its head was read (ObjectStore.getUpTo). */
  size?: number;
}

/**
 * Checks a file's bytes and returns its text: rejects empty, oversized, binary (a NUL byte or
 * many control bytes) and invalid UTF-8 content. A UTF-8 byte-order mark is dropped.
 */
export function checkContent(
  source: string,
  bytes: Uint8Array,
  options: ContentOptions = {},
): Result<string> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
  const size = options.size ?? bytes.length;
  if (size === 0) return reject(source, 'empty', 'file is empty: nothing to generate from');
  if (size > maxBytes)
    return reject(
      source,
      'too_large',
      `file is ${size} bytes, over the ${maxBytes}-byte limit (setting maxFileBytes): split it or raise the limit`,
    );
  if (looksBinary(bytes))
    return reject(
      source,
      'binary',
      'file looks binary (NUL or control bytes): only text source files are accepted',
    );
  try {
    return ok(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    return reject(
      source,
      'invalid_utf8',
      `file is not valid UTF-8 (${cause instanceof Error ? cause.message : 'decode failed'}): re-save it as UTF-8`,
    );
  }
}

function looksBinary(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return true;
  const sample = bytes.subarray(0, BINARY_SNIFF_BYTES);
  let control = 0;
  for (const b of sample) {
    // Tab, newline, vertical tab, form feed and carriage return are ordinary in text files.
    if ((b < 0x20 && (b < 0x09 || b > 0x0d)) || b === 0x7f) control++;
  }
  return control / sample.length > BINARY_CONTROL_RATIO;
}
