import type { Command } from 'commander';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { EXIT, type ExitCode } from '../lib/exit';
import { batchRef, noSuchBatch, requireBatch } from '../lib/lookup';

/**
 * Cancels a batch: pending jobs end as cancelled and are never charged. Jobs a worker holds end as
 * cancelled too unless their request was already sent: those finish and are charged.
 * Idempotent: cancelling again reports 0 jobs.
 */
export async function cancel(
  batchId: string,
  flags: { team: string; json?: boolean; config?: string },
  deps: CliDeps,
): Promise<ExitCode> {
  const ref = batchRef(batchId, flags.team);
  const services = await deps.connect(flags);
  try {
    // cancelBatch answers undefined for an unknown batch, so no read is needed before it.
    const outcome = await services.jobs.cancelBatch(ref, deps.clock.now());
    if (!outcome) throw noSuchBatch(ref);
    const batch = await requireBatch(services, ref);
    const running = batch.total - batch.ended;
    deps.io.stdout.write(
      flags.json
        ? `${JSON.stringify({ batchId, cancelledJobs: outcome.cancelled, stillRunning: running, status: batch.status })}\n`
        : `batch ${batchId}: ${outcome.cancelled} pending job(s) cancelled; ${running} held by workers: those already sent to the provider finish and are charged, the rest end as cancelled\n`,
    );
    return EXIT.ok;
  } finally {
    services.close();
  }
}

/** `warmbatch cancel <batchId> --team <name>`. */
export function cancelCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  return pipelineCommand('cancel', deps)
    .description(
      'Cancel a batch: pending jobs end as cancelled (never charged); jobs already sent to the provider finish and are charged',
    )
    .argument('<batchId>', 'id printed by `warmbatch submit`')
    .requiredOption('--team <name>', 'team the batch belongs to (batch ids are unique per team)')
    .option('--json', 'print the outcome as one JSON object')
    .addHelpText(
      'after',
      `
Exit codes:
  0  the batch is cancelled (also when it already was, or had already ended)
  2  no such batch, or a usage or configuration error
  1  any other error`,
    )
    .action(async (batchId: string, flags: { team: string; json?: boolean }) =>
      runAction('cancel', deps, () => cancel(batchId, flags, deps)),
    );
}
