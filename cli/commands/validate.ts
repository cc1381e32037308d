import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { positive } from '../lib/args';
import { isFinished } from '../lib/batch';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, withDefaults } from '../lib/context';
import { EXIT, type ExitCode, UsageError } from '../lib/exit';
import { batchRef, requireBatch } from '../lib/lookup';
import { loopContextOf, runQuality } from '../lib/quality';
import {
  failingTests,
  type QualityFlags,
  qualityOptionsOf,
  withQualityOptions,
} from '../lib/quality/flags';
import { relativeOutput } from '../lib/quality/loop';
import { renderQuality } from '../lib/quality/report';

export interface ValidateFlags extends QualityFlags {
  team: string;
  out: string;
  timeout: number;
  json?: boolean;
  config?: string;
}

/**
 * The quality loop on a batch already downloaded into `--out` (by `submit --out` or
 * `results --out`): validate, repair, quarantine, check docs, upload the verdicts.
 */
export async function validate(
  batchId: string,
  flags: ValidateFlags,
  deps: CliDeps,
): Promise<ExitCode> {
  const ref = batchRef(batchId, flags.team);
  const options = qualityOptionsOf(flags, deps.io.cwd);
  const services = await deps.connect(flags);
  try {
    const batch = await requireBatch(services, ref);
    if (!isFinished(batch))
      throw new UsageError(`batch ${batchId} has not ended yet: wait for it, then validate`);
    if (batch.kind === 'tests' && options.validate === undefined)
      throw new UsageError(
        'a tests batch is validated by running its tests: add --validate <command>',
      );
    const outDir = resolve(deps.io.cwd, flags.out);
    const written: string[] = [];
    for (const job of await services.jobs.listJobs(ref)) {
      const rel = relativeOutput(batch, job);
      if (rel === undefined) continue;
      if (
        await stat(join(outDir, rel)).then(
          (s) => s.isFile(),
          () => false,
        )
      )
        written.push(rel);
    }
    if (written.length === 0)
      throw new UsageError(
        `none of the batch's outputs is in ${outDir}: download them with \`warmbatch results ${batchId} --team ${ref.team} --out ${flags.out}\``,
      );
    const section = await runQuality(
      loopContextOf(services, deps, flags.timeout * 60_000),
      batch,
      outDir,
      written,
      options,
    );
    deps.io.stdout.write(
      flags.json
        ? `${JSON.stringify({ batchId, team: ref.team, quality: section })}\n`
        : `batch ${batchId} (${ref.team}/${batch.project}, ${batch.kind}, ${batch.model})\n${renderQuality(section).join('\n')}\n`,
    );
    return flags.failOnFailingTests && failingTests(section) > 0 ? EXIT.testsFailing : EXIT.ok;
  } finally {
    services.close();
  }
}

/** `warmbatch validate <batchId> --team T --out DIR --validate '<command>'`. */
export function validateCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  const command = pipelineCommand('validate', deps)
    .description(
      "Validate a downloaded batch's tests with your own command (repairing failures through the pipeline), or check its docs, and record the verdicts",
    )
    .argument('<batchId>', 'id printed by `warmbatch submit`')
    .requiredOption('--team <name>', 'team the batch belongs to')
    .requiredOption('--out <dir>', 'where the batch was downloaded (mirroring the input paths)')
    .option(
      '--timeout <minutes>',
      'give up waiting for a repair batch after this long',
      positive,
      60,
    )
    .option('--json', 'print one JSON object');
  withQualityOptions(command);
  return command
    .addHelpText(
      'after',
      `
Runs in your repository (the cwd), never in the pipeline: {file} is the generated test (under
--out), {source} its source file. Failure output goes to the model (repairs) and to the
--quarantine folder only, never to stdout.

Exit codes:
  0  validated (tests that do not pass are listed and moved out of --out)
  7  with --fail-on-failing-tests: some tests still failed after repair (each is listed)
  2  usage or configuration error
  1  any other error`,
    )
    .action(async (batchId: string, flags: ValidateFlags) =>
      runAction('validate', deps, () => validate(batchId, flags, deps)),
    );
}
