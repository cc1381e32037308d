/**
 * Whether output may carry ANSI colour: only on a terminal, unless the user says otherwise with
 * the conventions other tools honour: `NO_COLOR` (any non-empty value: no colour, no-color.org)
 * and `FORCE_COLOR` (colour even when piped; `0` or `false` turn it off, as in Node and chalk).
 */
export function colourEnabled(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined>,
): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR) return false;
  return stream.isTTY === true;
}

/**
 * cli-table3's style: no colour of its own (its colour library decides by itself, and turns off
 * under any `CI` variable whatever the caller chose); headers are painted here instead.
 */
export const TABLE_STYLE = { head: [] as string[], border: [] as string[] };

/** A table header in red, as cli-table3 paints it, when colour is on; as it is otherwise. */
export function header(text: string, colour: boolean): string {
  return colour ? `\u001b[31m${text}\u001b[39m` : text;
}
