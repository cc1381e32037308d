import * as z from 'zod';

/**
 * Cost-allocation tags: key=value pairs a batch carries (from `submit --tag`, a manifest's `tags`
 * and its project's default tags in the stack configuration) onto every cost record and line
 * item, so chargeback can group spend by cost centre, environment or repository. The rules are
 * AWS's for user-defined cost-allocation tags, so the same tags can be used on both bills.
 */

/** At most this many tags on a batch (AWS: 50 user tags per resource). */
export const MAX_TAGS = 50;
/** Longest key, in characters (AWS: 128 Unicode characters). */
export const MAX_TAG_KEY = 128;
/** Longest value, in characters (AWS: 256 Unicode characters). */
export const MAX_TAG_VALUE = 256;

/** Letters, digits, spaces and `_ . : / = + - @`, as AWS allows in tag keys and values. */
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** A tag set in a schema (manifest, settings, stack configuration): every rule checked. */
export const TagsSchema = z.record(z.string(), z.string()).superRefine((tags, ctx) => {
  for (const message of tagProblems(tags)) ctx.addIssue({ code: 'custom', message });
});

/** Tags as stored: key -> value. */
export type Tags = Record<string, string>;

/** A tag that breaks the rules; the message says which rule and which tag. */
export class TagError extends RangeError {
  override name = 'TagError';
}

const length = (s: string) => [...s].length;

/** The reason a key is refused, or undefined when it is valid. */
export function tagKeyProblem(key: string): string | undefined {
  if (length(key) < 1 || length(key) > MAX_TAG_KEY)
    return `tag key ${JSON.stringify(key)} must be 1-${MAX_TAG_KEY} characters`;
  if (!TAG_CHARS.test(key))
    return `tag key ${JSON.stringify(key)} may hold only letters, digits, spaces and _ . : / = + - @`;
  if (key.toLowerCase().startsWith('aws:'))
    return `tag key ${JSON.stringify(key)} starts with "aws:", which AWS reserves`;
  if (key.trim() !== key) return `tag key ${JSON.stringify(key)} starts or ends with a space`;
  return undefined;
}

/** The reason a value is refused, or undefined when it is valid. */
export function tagValueProblem(key: string, value: string): string | undefined {
  if (length(value) > MAX_TAG_VALUE)
    return `tag ${JSON.stringify(key)}: its value must be at most ${MAX_TAG_VALUE} characters`;
  if (!TAG_CHARS.test(value))
    return `tag ${JSON.stringify(key)}: its value may hold only letters, digits, spaces and _ . : / = + - @`;
  return undefined;
}

/** Every problem of a tag set (empty when it is valid). */
export function tagProblems(tags: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) problems.push(`at most ${MAX_TAGS} tags, got ${entries.length}`);
  for (const [key, value] of entries) {
    const keyProblem = tagKeyProblem(key);
    if (keyProblem) problems.push(keyProblem);
    if (typeof value !== 'string')
      problems.push(`tag ${JSON.stringify(key)}: its value must be a string`);
    else {
      const valueProblem = tagValueProblem(key, value);
      if (valueProblem) problems.push(valueProblem);
    }
  }
  return problems;
}

/** Checks a tag set. @throws TagError naming every broken rule. */
export function checkTags(tags: Readonly<Record<string, unknown>>): Tags {
  const problems = tagProblems(tags);
  if (problems.length > 0) throw new TagError(problems.join('; '));
  return { ...(tags as Tags) };
}

/**
 * Parses `key=value` (the CLI's `--tag`): the key ends at the first `=`, so a value may hold
 * `=`. @throws TagError when there is no `=` or the tag breaks a rule.
 */
export function parseTag(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new TagError(`--tag ${JSON.stringify(text)}: write key=value`);
  const key = text.slice(0, at);
  const value = text.slice(at + 1);
  const problem = tagKeyProblem(key) ?? tagValueProblem(key, value);
  if (problem) throw new TagError(problem);
  return [key, value];
}

/**
 * The tags of a batch: its project's defaults, overridden key by key by the batch's own
 * (a manifest or `--tag`), in key order. Two valid sets can pass 50 together: the batch's own
 * tags always stay, and defaults that would pass the limit are left out (see `defaultsLeftOut`).
 */
export function mergeTags(defaults: Tags | undefined, own: Tags | undefined): Tags {
  const tags: Tags = { ...(own ?? {}) };
  for (const [key, value] of Object.entries(sortedTags(defaults)))
    if (!(key in tags) && Object.keys(tags).length < MAX_TAGS) tags[key] = value;
  return sortedTags(tags);
}

/** The default keys `mergeTags` left out of `merged` to stay within 50 tags. */
export function defaultsLeftOut(defaults: Tags | undefined, merged: Tags): string[] {
  return Object.keys(sortedTags(defaults)).filter((key) => !(key in merged));
}

/** Tags in key order, so that equal sets serialize equally. */
export function sortedTags(tags: Tags | undefined): Tags {
  return Object.fromEntries(Object.entries(tags ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
}
