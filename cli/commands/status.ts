import type { Command } from 'commander';
import { printedSummary, reportBatch } from '../lib/batch';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { EXIT, type ExitCode } from '../lib/exit';
import { requireBatch, submittedFiles } from '../lib/lookup';

/**
 * Prints a batch's state, counters, cost and failed files. Exits 0 while it runs; once it has
 * ended, with the same code `submit --wait` would have returned.
 */
export async function status(
  batchId: string,
  flags: { json?: boolean; config?: string },
  deps: CliDeps,
): Promise<ExitCode> {
  const services = await deps.connect(flags);
  try {
    const batch = await requireBatch(services, batchId);
    const submitted = await submittedFiles(services, batchId);
    const summary = await reportBatch(services, batch, { submitted });
    deps.io.stdout.write(printedSummary(summary, flags.json));
    return summary.finished ? summary.exitCode : EXIT.ok;
  } finally {
    services.close();
  }
}

/** `warmbatch status <batchId>`. */
export function statusCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  return pipelineCommand('status', deps)
    .description("Show a batch's progress, cost, cache hit ratio and failed files")
    .argument('<batchId>', 'id printed by `warmbatch submit`')
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
    .action(async (batchId: string, flags: { json?: boolean }) =>
      runAction('status', deps, () => status(batchId, flags, deps)),
    );
}
