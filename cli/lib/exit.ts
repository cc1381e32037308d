import { CommanderError } from 'commander';

/**
 * Exit codes of the CI-facing commands. CI scripts branch on them, so they are part of the
 * interface: documented in each command's `--help` and in docs/cli.md, never renumbered.
 */
export const EXIT = {
  /** Every job succeeded or reused an earlier output. */
  ok: 0,
  /** Unexpected failure (network, permissions, a bug). */
  error: 1,
  /** Bad flags, bad paths, or no usable configuration: fix the command line. */
  usage: 2,
  /** Some jobs failed or were skipped; each is listed with its reason. */
  jobsFailed: 3,
  /** The batch was cancelled. */
  cancelled: 4,
  /** `--wait` gave up before the batch ended; the batch goes on. */
  timeout: 5,
  /** Every job succeeded, but `--out` could not write some outputs; each is listed. */
  outputsRefused: 6,
  /** With `--fail-on-failing-tests`: generated tests still failed after repair; each is listed. */
  testsFailing: 7,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit-code table printed at the end of `--help`. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  all jobs succeeded or reused an earlier output
  2  usage or configuration error (one line on stderr says what to do)
  3  some jobs failed or were skipped (each file and reason is printed)
  4  the batch was cancelled
  5  timed out waiting (the batch goes on; check it with \`warmbatch status\`)
  6  every job succeeded but --out did not write some outputs (each is printed with its reason;
     the others were written)
  7  with --fail-on-failing-tests: generated tests still failed after repair (each is listed)
  1  any other error`;

/**
 * Ends a command with a given exit code after its message was written. A CommanderError, so
 * `cli/main.ts` (and `runCli`) turn it into the process exit code without printing it again.
 */
export class CliExit extends CommanderError {
  constructor(exitCode: ExitCode, message = `exit ${exitCode}`) {
    super(exitCode, 'warmbatch.exit', message);
    this.name = 'CliExit';
  }
}

/** A problem the user fixes on the command line or in the configuration (exit 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}
