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
    // Read before cancelling: afterwards workers end the jobs they hold, so `ended` would count
    // some of them, and neither figure below would.
    const before = await requireBatch(services, ref);
    const outcome = await services.jobs.cancelBatch(ref, deps.clock.now());
    if (!outcome) throw noSuchBatch(ref);
    // What had not ended and was not pending: claimed by a worker when the cancel landed.
    const running = Math.max(0, before.total - before.ended - outcome.cancelled);
    const status = before.status === 'open' ? 'cancelled' : before.status;
    deps.io.stdout.write(
      flags.json
        ? `${JSON.stringify({ batchId, cancelledJobs: outcome.cancelled, stillRunning: running, status })}\n`
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
