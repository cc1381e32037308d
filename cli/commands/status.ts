import type { Command } from 'commander';
import type { BatchItem, OpenDrop } from '../../shared/ports/jobs';
import { KINDS } from '../../shared/types';
import type { Services } from '../config';
import { type BatchReport, printedSummary, reportBatch } from '../lib/batch';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { EXIT, type ExitCode, UsageError } from '../lib/exit';
import { batchRef, requireBatch, submittedFiles } from '../lib/lookup';

interface StatusFlags {
  json?: boolean;
  config?: string;
  latest?: boolean;
  team?: string;
  project?: string;
}

/**
 * Prints a batch's state, counters, cost and failed files. Exits 0 while it runs; once it has
 * ended, with the same code `submit --wait` would have returned. With `--latest`, the batch is
 * the newest of the team's project, and drops still collecting files are named first: files
 * dropped with the AWS CLI become a batch only once no file has arrived for the quiet period.
 */
export async function status(
  batchId: string | undefined,
  flags: StatusFlags,
  deps: CliDeps,
): Promise<ExitCode> {
  // Batch ids are unique per team: a batch is named by both, checked before any call.
  const ref = flags.latest ? undefined : batchRef(batchId ?? '', flags.team ?? '');
  const services = await deps.connect(flags);
  try {
    if (ref) {
      const batch = await requireBatch(services, ref);
      return await print(services, batch, flags, deps, []);
    }
    if (batchId !== undefined) throw new UsageError('give a batch id or --latest, not both');
    if (!flags.team || !flags.project) throw new UsageError('--latest needs --team and --project');
    const team = flags.team.toLowerCase();
    const project = flags.project.toLowerCase();
    const open = (
      await Promise.all(KINDS.map((kind) => services.jobs.getOpenDrop({ team, project, kind })))
    ).filter((d): d is OpenDrop => d !== undefined);
    const latest = await services.jobs.latestBatch(team, project);
    if (!latest && open.length === 0)
      throw new UsageError(
        `no batch of ${team}/${project} yet: check the names, or wait until the planner has picked the files up`,
      );
    if (!latest) {
      deps.io.stdout.write(
        flags.json ? `${JSON.stringify({ openDrops: open })}\n` : open.map(describeDrop).join(''),
      );
      return EXIT.ok;
    }
    return await print(services, latest, flags, deps, open);
  } finally {
    services.close();
  }
}

async function print(
  services: Services,
  batch: BatchItem,
  flags: StatusFlags,
  deps: CliDeps,
  open: readonly OpenDrop[],
): Promise<ExitCode> {
  const submitted = await submittedFiles(services, batch);
  const summary: BatchReport = await reportBatch(services, batch, { submitted });
  if (flags.json)
    deps.io.stdout.write(
      flags.latest
        ? `${JSON.stringify({ ...summary, openDrops: open })}\n`
        : printedSummary(summary, true),
    );
  else deps.io.stdout.write(open.map(describeDrop).join('') + printedSummary(summary, false));
  return summary.finished ? summary.exitCode : EXIT.ok;
}

/** One line on a drop still collecting files. */
function describeDrop(drop: OpenDrop): string {
  return `drop ${drop.dropId} (${drop.team}/${drop.project}, ${drop.kind}): collecting files since ${drop.openedAt}, the last at ${drop.lastArrivalAt}; it is planned as a batch once none has arrived for the quiet period\n`;
}

/** `warmbatch status <batchId>`, or `warmbatch status --latest --team T --project P`. */
export function statusCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  return pipelineCommand('status', deps)
    .description("Show a batch's progress, cost, cache hit ratio and failed files")
    .usage('[options] <batchId> --team <name> | --latest --team <name> --project <name>')
    .argument('[batchId]', 'id printed by `warmbatch submit`')
    .option('--latest', "the newest batch of --team's --project (files dropped with the AWS CLI)")
    .option(
      '--team <name>',
      "team the batch belongs to (batch ids are unique per team); with --latest, the project's team",
    )
    .option('--project <name>', 'project, with --latest')
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
    .action(async (batchId: string | undefined, flags: StatusFlags, command: Command) => {
      if (batchId === undefined && !flags.latest)
        command.error(
          "error: missing required argument 'batchId' (or --latest with --team and --project)",
          { exitCode: EXIT.usage, code: 'commander.missingArgument' },
        );
      // Batch ids are unique per team, and every key of a batch carries its team.
      if (!flags.latest && flags.team === undefined)
        command.error("error: required option '--team <name>' not specified", {
          exitCode: EXIT.usage,
          code: 'commander.missingMandatoryOptionValue',
        });
      await runAction('status', deps, () => status(batchId, flags, deps));
    });
}
