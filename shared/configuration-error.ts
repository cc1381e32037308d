/**
 * The one error for configuration that cannot be used: the stack's `warmbatch` context, the
 * settings a function reads at cold start, its environment variables and secret, and the file a
 * local runtime leaves for the CLI. Callers act on all of these the same way (stop, tell a person
 * what to fix), so one class serves; the message names the bad key or variable.
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  /** One line per bad key, when a schema found several (`warmbatch.model: must be a model id`). */
  readonly issues: readonly string[];

  constructor(message: string, options?: { cause?: unknown; issues?: readonly string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.issues = options?.issues ?? [];
  }
}
