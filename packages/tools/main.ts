import { Command, CommanderError } from 'commander';
import { benchCommand } from './bench';
import { localCommand } from './local';
import { simCommand } from './sim';

/**
 * This repository's own tools (`npm start`, `npm run sim`, `npm run bench`): the local runtime,
 * the DeepSeek simulator and the benchmarks. They are not part of the `warmbatch` package teams
 * install (packages/cli), which stays free of the emulators and the simulator.
 */
export function buildToolsProgram(): Command {
  const program = new Command('warmbatch')
    .description(
      'warmbatch repository tools: the local pipeline, the DeepSeek simulator, benchmarks.',
    )
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions()
    .exitOverride();
  for (const make of [localCommand, simCommand, benchCommand]) program.addCommand(make());
  return program;
}

try {
  await buildToolsProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`warmbatch: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
