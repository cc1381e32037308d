import { Command, CommanderError } from 'commander';
import { commands } from './commands';
import { printable } from './lib/printable';

/** The `warmbatch` command: one sub-command per file in cli/commands/. */
export function buildProgram(): Command {
  const program = new Command('warmbatch')
    .description(
      'Cache-aware LLM batch generation of docs and tests: plan, run, price and charge back.',
    )
    .showHelpAfterError('(run with --help for usage)')
    // A sub-command's options stay its own (`costs reprice --month M` is reprice's --month).
    .enablePositionalOptions()
    .exitOverride();
  for (const make of commands) program.addCommand(make());
  return program;
}

// `warmbatch --help | head`: the reader went away. Stop quietly, as Unix tools do, instead of
// dying with a stack trace.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(
      `warmbatch: ${printable(err instanceof Error ? err.message : String(err))}\n`,
    );
    process.exitCode = 1;
  }
}
