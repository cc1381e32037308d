import { Command, CommanderError } from 'commander';
import { calibrateCommand } from '../commands/calibrate';
import { cancelCommand } from '../commands/cancel';
import { compareCommand } from '../commands/compare';
import { costsCommand } from '../commands/costs';
import { estimateCommand } from '../commands/estimate';
import { pricesCommand } from '../commands/prices';
import { qualityCommand } from '../commands/quality';
import { resultsCommand } from '../commands/results';
import { statusCommand } from '../commands/status';
import { submitCommand } from '../commands/submit';
import { validateCommand } from '../commands/validate';
import type { CliDeps } from './context';
import { EXIT } from './exit';
import { printable } from './printable';

/** The CI and chargeback commands, built over the given dependencies. */
export function pipelineCommands(deps?: Partial<CliDeps>): Command[] {
  return [
    submitCommand(deps),
    validateCommand(deps),
    compareCommand(deps),
    qualityCommand(deps),
    statusCommand(deps),
    resultsCommand(deps),
    cancelCommand(deps),
    costsCommand(deps),
    estimateCommand(deps),
    calibrateCommand(deps),
    pricesCommand(deps),
  ];
}

/**
 * Runs `warmbatch <argv>` in-process over injected dependencies and returns the exit code, as
 * packages/cli/bin.js would set it; for tests and embedding.
 */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const program = new Command('warmbatch')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => deps.io.stdout.write(s),
      writeErr: (s) => deps.io.stderr.write(s),
    });
  for (const command of pipelineCommands(deps)) program.addCommand(command);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    deps.io.stderr.write(
      `warmbatch: ${printable(err instanceof Error ? err.message : String(err))}\n`,
    );
    return EXIT.error;
  }
}
