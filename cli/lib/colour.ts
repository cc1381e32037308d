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

/** cli-table3's style: its default grey borders and red headers with colour, plain without. */
export function tableStyle(colour: boolean): { head: string[]; border: string[] } | undefined {
  return colour ? undefined : { head: [], border: [] };
}
