import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isFinished, printedSummary, reportBatch } from '../lib/batch';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { EXIT_CODES_HELP, type ExitCode } from '../lib/exit';
import { batchRef, requireBatch, submittedFiles } from '../lib/lookup';

/**
 * Downloads every output a batch has produced so far into `out`, mirroring the input paths,
 * and reports failed files. A batch still running exits 5, like `submit --wait` timing out.
 */
export async function results(
  batchId: string,
  flags: { team: string; out: string; json?: boolean; config?: string },
  deps: CliDeps,
): Promise<ExitCode> {
  const ref = batchRef(batchId, flags.team);
  const services = await deps.connect(flags);
  try {
    const batch = await requireBatch(services, ref);
    const shown = await reportBatch(services, batch, {
      submitted: await submittedFiles(services, ref),
      outDir: resolve(deps.io.cwd, flags.out),
      timedOut: !isFinished(batch),
    });
    deps.io.stdout.write(printedSummary(shown, flags.json));
    if (!shown.finished)
      deps.io.stderr.write(
        `warmbatch results: batch ${batchId} is still running; run again once it has ended\n`,
      );
    return shown.exitCode;
  } finally {
    services.close();
  }
}

/** `warmbatch results <batchId> --team <name> --out <dir>`. */
export function resultsCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  return pipelineCommand('results', deps)
    .description("Download a batch's outputs (mirroring the input paths) and list failed files")
    .argument('<batchId>', 'id printed by `warmbatch submit`')
    .requiredOption('--team <name>', 'team the batch belongs to (batch ids are unique per team)')
    .requiredOption('--out <dir>', 'directory to write the outputs to')
    .option('--json', 'print the summary as one JSON object')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (batchId: string, flags: { team: string; out: string; json?: boolean }) =>
      runAction('results', deps, () => results(batchId, flags, deps)),
    );
}
