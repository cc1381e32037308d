/**
 * The logger the domain writes to: structured records of ids, token counts, costs and
 * decisions; never prompts, file contents or secrets. A port, so the domain does not depend on
 * a logging library: Powertools' Logger satisfies it, and the Lambda wiring and the local
 * runtime build one and pass it in.
 */
export interface Logger {
  debug(message: string, ...attributes: Record<string, unknown>[]): void;
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
  /** Keys added to every later record (the batch id of the message being processed). */
  appendKeys(attributes: Record<string, unknown>): void;
  removeKeys(keys: string[]): void;
}
