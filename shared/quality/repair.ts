/**
 * Repair requests: a test that failed validation is sent back to the model that wrote it as the
 * next turn of the same conversation: the original request's messages, the model's answer as an
 * assistant message, then a user message with the failure output. Everything before the failure
 * output is a prefix the provider has just seen (the original prompt, persisted at the end of
 * its input, and the answer, persisted at the end of the output), so a repair pays mostly for
 * its output.
 */
import type { ChatMessage } from '../types';

/** Most lines of failure output a repair request carries. */
export const MAX_FAILURE_LINES = 60;
/** Most characters of failure output a repair request carries. */
export const MAX_FAILURE_CHARS = 4_000;

/**
 * The first lines of a test run's output, within `maxLines` and `maxChars`, with a last line
 * saying how much was left out. Control characters other than newlines and tabs (terminal
 * colours) are removed: they cost tokens and say nothing.
 */
export function trimFailureOutput(
  output: string,
  limits: { maxLines?: number; maxChars?: number } = {},
): string {
  const maxLines = limits.maxLines ?? MAX_FAILURE_LINES;
  const maxChars = limits.maxChars ?? MAX_FAILURE_CHARS;
  const clean = output
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are what it removes
    .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: so are the other control characters
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '')
    .replace(/\s+$/, '');
  const lines = clean.split('\n');
  const kept: string[] = [];
  let chars = 0;
  for (const line of lines) {
    if (kept.length >= maxLines || chars + line.length + 1 > maxChars) break;
    kept.push(line);
    chars += line.length + 1;
  }
  const left = lines.length - kept.length;
  if (left > 0) kept.push(`[... ${left} more line${left === 1 ? '' : 's'} left out]`);
  return kept.join('\n');
}

/** A fence longer than any backtick run of the text, so the text cannot close it. */
function fenceFor(text: string): string {
  let longest = 0;
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return '`'.repeat(Math.max(3, longest + 1));
}

/** The user message of a repair: what failed, its trimmed output, and what to reply with. */
export function repairPrompt(input: { testPath: string; verdict: string; output: string }): string {
  const output = trimFailureOutput(input.output);
  const fence = fenceFor(output);
  const what =
    input.verdict === 'timed_out'
      ? 'did not finish within the time limit'
      : input.verdict === 'flaky'
        ? 'passed on some runs and failed on others'
        : 'failed';
  return [
    `The test file you wrote, saved as \`${input.testPath}\`, ${what} when the project's test command ran it. Its output (trimmed) follows.`,
    '',
    `${fence}text`,
    output === '' ? '(no output)' : output,
    fence,
    '',
    'Fix the test file so that it passes reliably and still tests the module as instructed. Reply with the complete corrected test file only: no explanations and no Markdown code fences.',
  ].join('\n');
}

/**
 * The messages of a repair: the repaired request's own messages (byte-identical, so they stay a
 * cached prefix), the answer it got, then the failure.
 */
export function repairMessages(
  previous: readonly ChatMessage[],
  answer: string,
  failure: { testPath: string; verdict: string; output: string },
): ChatMessage[] {
  return [
    ...previous,
    { role: 'assistant', content: answer },
    { role: 'user', content: repairPrompt(failure) },
  ];
}
