import type { Command } from 'commander';
import { printedSummary, reportBatch } from '../lib/batch';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { EXIT, type ExitCode } from '../lib/exit';
import { batchRef, requireBatch, submittedFiles } from '../lib/lookup';

/**
 * Prints a batch's state, counters, cost and failed files. Exits 0 while it runs; once it has
 * ended, with the same code `submit --wait` would have returned.
 */
export async function status(
  batchId: string,
  flags: { team: string; json?: boolean; config?: string },
  deps: CliDeps,
): Promise<ExitCode> {
  const ref = batchRef(batchId, flags.team);
  const services = await deps.connect(flags);
  try {
    const batch = await requireBatch(services, ref);
    const submitted = await submittedFiles(services, ref);
    const summary = await reportBatch(services, batch, { submitted });
    deps.io.stdout.write(printedSummary(summary, flags.json));
    return summary.finished ? summary.exitCode : EXIT.ok;
  } finally {
    services.close();
  }
}

/** `warmbatch status <batchId> --team <name>`. */
export function statusCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  return pipelineCommand('status', deps)
    .description("Show a batch's progress, cost, cache hit ratio and failed files")
    .argument('<batchId>', 'id printed by `warmbatch submit`')
    .requiredOption('--team <name>', 'team the batch belongs to (batch ids are unique per team)')
    .option('--json', 'print the summary as one JSON object')
    .addHelpText(
      'after',
      `
Exit codes:
  0  the batch is running, or ended with every job succeeded or reused
  2  no such batch, or a usage or configuration error
  3  the batch ended with failed or skipped files
  4  the batch was cancelled
  1  any other error`,
    )
    .action(async (batchId: string, flags: { team: string; json?: boolean }) =>
      runAction('status', deps, () => status(batchId, flags, deps)),
    );
}
