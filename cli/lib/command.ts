import { Command, CommanderError } from 'commander';
import { QueryError } from '../../shared/chargeback/period';
import { withConnectionOptions } from '../config';
import type { CliDeps } from './context';
import { CliExit, EXIT, type ExitCode, UsageError } from './exit';
import { printable } from './printable';

/**
 * A sub-command that talks to the pipeline: connection flags, output through the injected io,
 * and commander's own usage errors (unknown flag, missing argument) mapped to exit code 2.
 */
export function pipelineCommand(name: string, deps: CliDeps): Command {
  return withConnectionOptions(offlineCommand(name, deps));
}

/**
 * A sub-command that needs no deployment (estimate): output through the injected io, and
 * commander's usage errors mapped to exit code 2.
 */
export function offlineCommand(name: string, deps: CliDeps): Command {
  return new Command(name)
    .configureOutput({
      writeOut: (s) => deps.io.stdout.write(s),
      writeErr: (s) => deps.io.stderr.write(s),
    })
    .exitOverride((err) => {
      if (err.exitCode === 0 || err instanceof CliExit) throw err;
      throw new CommanderError(EXIT.usage, err.code, err.message);
    });
}

/**
 * Runs a command body and turns its outcome into the exit code: a UsageError becomes one line
 * on stderr and exit 2; any other error propagates to the entry point (exit 1).
 */
export async function runAction(
  name: string,
  deps: CliDeps,
  body: () => Promise<ExitCode>,
): Promise<void> {
  let code: ExitCode;
  try {
    code = await body();
  } catch (err) {
    // A chargeback query's own problems (a bad date, an unknown dimension) are the user's to fix.
    if (err instanceof UsageError || err instanceof QueryError) {
      deps.io.stderr.write(`warmbatch ${name}: ${printable(err.message)}\n`);
      throw new CliExit(EXIT.usage, err.message);
    }
    throw err;
  }
  if (code !== EXIT.ok) throw new CliExit(code);
}
