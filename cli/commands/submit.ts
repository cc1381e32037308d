import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import pLimit from 'p-limit';
import { DEFAULT_CONCURRENCY } from '../../shared/concurrency';
import {
  batchContextKeyFor,
  batchFileKeyFor,
  type Manifest,
  ManifestSchema,
  manifestKeyFor,
  validateName,
} from '../../shared/inputs';
import { type Catalog, defaultCatalog, knownModels } from '../../shared/pricing/catalog';
import { parseTag } from '../../shared/tags';
import {
  type BatchRef,
  KINDS,
  type Kind,
  SENSITIVITIES,
  type Sensitivity,
} from '../../shared/types';
import type { Services } from '../config';
import { instant, integer, number, positive } from '../lib/args';
import { printedSummary, reportBatch, waitForBatch } from '../lib/batch';
import { pipelineCommand, runAction } from '../lib/command';
import { type CliDeps, type CliIo, withDefaults } from '../lib/context';
import { EXIT, EXIT_CODES_HELP, type ExitCode, UsageError } from '../lib/exit';
import { expandInputs } from '../lib/files';
import { cliCatalog } from '../lib/prices';
import { batchProgress, uploadProgress } from '../lib/progress';
import { loopContextOf, runQuality } from '../lib/quality';
import {
  failingTests,
  type QualityFlags,
  qualityOptionsOf,
  withQualityOptions,
} from '../lib/quality/flags';

/** Model used when `--model` is not given; the stack's default model. */
export const DEFAULT_MODEL = 'deepseek-flash';

export interface SubmitFlags extends QualityFlags {
  shadow?: string;
  shadowRate: number;
  team: string;
  project: string;
  kind: Kind;
  context?: string[];
  model: string;
  sensitivity: Sensitivity;
  budgetUsd?: number;
  deadline?: string;
  preferOffPeak?: boolean;
  /** `key=value` cost-allocation tags, repeatable. */
  tag?: string[];
  wait?: boolean;
  timeout: number;
  out?: string;
  json?: boolean;
  /** Where to write the JUnit XML report. */
  junit?: string;
  concurrency: number;
  config?: string;
  region?: string;
  profile?: string;
  endpointUrl?: string;
}

/**
 * CI metadata for the manifest, from GitHub Actions or GitLab CI variables; undefined elsewhere.
 */
export function ciMetadata(env: Record<string, string | undefined>): Manifest['ci'] {
  if (env.GITHUB_ACTIONS === 'true' || env.GITHUB_REPOSITORY) {
    const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
    return clean({
      provider: 'github',
      repo: env.GITHUB_REPOSITORY,
      commit: env.GITHUB_SHA,
      ref: env.GITHUB_REF,
      runUrl:
        env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
          ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
          : undefined,
    });
  }
  if (env.GITLAB_CI === 'true' || env.CI_PROJECT_PATH) {
    return clean({
      provider: 'gitlab',
      repo: env.CI_PROJECT_PATH,
      commit: env.CI_COMMIT_SHA,
      ref: env.CI_COMMIT_REF_NAME,
      runUrl: env.CI_PIPELINE_URL,
    });
  }
  return undefined;
}

function clean(ci: Record<string, string | undefined>): Manifest['ci'] {
  return Object.fromEntries(Object.entries(ci).filter(([, v]) => v !== undefined && v !== ''));
}

/** A fresh batch id: sortable by time, unique by randomness, valid in S3 and DynamoDB keys. */
export function newBatchId(now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '')
    .toLowerCase();
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

/** Builds and validates the manifest before anything is uploaded, so a bad flag costs nothing. */
export function buildManifest(input: {
  batchId: string;
  flags: SubmitFlags;
  files: string[];
  contextFiles: string[];
  env: Record<string, string | undefined>;
  now: Date;
  /** The models the manifest may name; default the built-in catalog's. */
  catalog?: Catalog;
}): Manifest {
  const { flags } = input;
  for (const field of ['team', 'project'] as const) {
    const checked = validateName(`--${field}`, field, flags[field]);
    if (!checked.ok) throw new UsageError(checked.rejection.reason);
  }
  const known = knownModels(input.catalog ?? defaultCatalog());
  if (!known.includes(flags.model))
    throw new UsageError(
      `model ${JSON.stringify(flags.model)} is not in the price catalog: pick one of ${known.join(', ')}`,
    );
  const ci = ciMetadata(input.env);
  const tags: Record<string, string> = {};
  for (const text of flags.tag ?? []) {
    try {
      const [key, value] = parseTag(text);
      if (key in tags) throw new UsageError(`--tag ${key} is given twice`);
      tags[key] = value;
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError((err as Error).message);
    }
  }
  const manifest: Manifest = {
    batchId: input.batchId,
    team: flags.team.toLowerCase(),
    project: flags.project.toLowerCase(),
    kind: flags.kind,
    files: input.files,
    contextFiles: input.contextFiles,
    model: flags.model,
    sensitivity: flags.sensitivity,
    ...(flags.budgetUsd !== undefined ? { budgetUsd: flags.budgetUsd } : {}),
    ...(flags.deadline !== undefined ? { deadline: flags.deadline } : {}),
    ...(flags.preferOffPeak ? { preferOffPeak: true } : {}),
    ...(ci && Object.keys(ci).length > 0 ? { ci } : {}),
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
    createdAt: input.now.toISOString(),
    ...(flags.shadow !== undefined
      ? { shadow: { model: flags.shadow, rate: flags.shadowRate } }
      : {}),
  };
  const parsed = ManifestSchema.safeParse(manifest);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('; '));
  return manifest;
}

async function upload(
  services: Services,
  io: CliIo,
  items: { key: string; path: string }[],
  concurrency: number,
): Promise<void> {
  const limit = pLimit(concurrency);
  const bar = uploadProgress(io, 'uploading');
  bar.start(items.length);
  try {
    await limit.map(items, async (item) => {
      const body = await readFile(resolve(io.cwd, item.path));
      await services.objects.put(item.key, new Uint8Array(body));
      bar.increment();
    });
  } finally {
    bar.stop();
  }
}

/**
 * With `--wait` or `--out`: follows the batch to its end, reports it (downloading outputs with
 * `--out`), runs the quality loop where the code lives, writes JUnit, and prints the summary.
 * Returns the documented exit code.
 */
async function followBatch(
  services: Services,
  deps: CliDeps,
  flags: SubmitFlags,
  quality: ReturnType<typeof qualityOptionsOf>,
  ref: BatchRef,
  files: string[],
): Promise<ExitCode> {
  const { io } = deps;
  const progress = batchProgress(io);
  let waited: Awaited<ReturnType<typeof waitForBatch>>;
  try {
    waited = await waitForBatch({
      jobs: services.jobs,
      batch: ref,
      clock: deps.clock,
      sleep: deps.sleep,
      pollMs: deps.pollMs,
      timeoutMs: flags.timeout * 60_000,
      onProgress: (b) => progress.update(b),
    });
  } finally {
    progress.stop();
  }
  const { batch, timedOut } = waited;
  if (!batch) {
    io.stderr.write(
      `warmbatch submit: batch ${ref.batchId} was not planned within ${flags.timeout} minute(s): check the pipeline's intake queue and planner\n`,
    );
    if (flags.json)
      io.stdout.write(`${JSON.stringify({ batchId: ref.batchId, exitCode: EXIT.timeout })}\n`);
    return EXIT.timeout;
  }
  const outDir = flags.out !== undefined ? resolve(io.cwd, flags.out) : undefined;
  const summary = await reportBatch(services, batch, {
    submitted: files,
    ...(outDir !== undefined ? { outDir } : {}),
    timedOut,
  });
  // Validation runs here, where the code lives; docs get their model-free check.
  if (
    outDir !== undefined &&
    !timedOut &&
    (quality.validate !== undefined || batch.kind === 'docs')
  )
    summary.quality = await runQuality(
      loopContextOf(services, deps, flags.timeout * 60_000),
      batch,
      outDir,
      summary.outputs ?? [],
      quality,
    );
  // Opt-in, for CI: tests left failing fail the step, unless the batch itself already did.
  if (
    flags.failOnFailingTests &&
    summary.exitCode === EXIT.ok &&
    summary.quality !== undefined &&
    failingTests(summary.quality) > 0
  )
    summary.exitCode = EXIT.testsFailing;
  if (flags.junit !== undefined && !timedOut) {
    const { junitXml } = await import('../lib/junit');
    await writeFile(resolve(io.cwd, flags.junit), junitXml(summary));
  }
  io.stdout.write(printedSummary(summary, flags.json));
  if (timedOut)
    io.stderr.write(
      `warmbatch submit: gave up waiting after ${flags.timeout} minute(s); the batch goes on: run \`warmbatch status ${ref.batchId} --team ${ref.team}\`\n`,
    );
  return summary.exitCode;
}

/**
 * Uploads the inputs and context, writes the manifest last (which starts planning), and with
 * `--wait` follows the batch to its end, downloads outputs with `--out`, and returns the
 * documented exit code.
 */
export async function submit(
  globs: string[],
  flags: SubmitFlags,
  deps: CliDeps,
): Promise<ExitCode> {
  const { io } = deps;
  if (flags.validate !== undefined && flags.out === undefined)
    throw new UsageError('--validate runs the downloaded tests: add --out <dir>');
  const quality = qualityOptionsOf(flags, io.cwd);
  if (flags.shadow !== undefined && !knownModels(defaultCatalog()).includes(flags.shadow))
    throw new UsageError(`--shadow ${flags.shadow} is not a model of the price catalog`);
  const files = await expandInputs(io.cwd, globs, 'input');
  const contextFiles = flags.context?.length
    ? await expandInputs(io.cwd, flags.context, 'context file')
    : [];
  const now = deps.clock.now();
  const batchId = newBatchId(now);
  // Flags are checked against the built-in models before connecting; a model only the
  // deployment's price file knows is checked against that file once connected.
  const builtIn = knownModels(defaultCatalog()).includes(flags.model);
  let manifest = builtIn
    ? buildManifest({ batchId, flags, files, contextFiles, env: io.env, now })
    : undefined;

  const services = await deps.connect(flags);
  try {
    manifest ??= buildManifest({
      batchId,
      flags,
      files,
      contextFiles,
      env: io.env,
      now,
      catalog: await cliCatalog({}, { cwd: io.cwd, deployment: services }),
    });
    const ref = { team: manifest.team, batchId };
    await upload(
      services,
      io,
      [
        ...files.map((path) => ({ key: batchFileKeyFor(ref, path), path })),
        ...contextFiles.map((path) => ({ key: batchContextKeyFor(ref, path), path })),
      ],
      flags.concurrency,
    );
    // Last: the manifest's arrival is what starts planning, so every file must be there first.
    await services.objects.put(
      manifestKeyFor(ref),
      `${JSON.stringify(manifest, null, 2)}\n`,
      'application/json',
    );
    io.stderr.write(
      `submitted batch ${batchId}: ${files.length} file(s), ${contextFiles.length} context file(s)\n`,
    );
    if (!flags.wait && flags.out === undefined) {
      io.stdout.write(
        flags.json
          ? `${JSON.stringify({ batchId, files: files.length, contextFiles: contextFiles.length })}\n`
          : `${batchId}\n`,
      );
      return EXIT.ok;
    }

    return await followBatch(services, deps, flags, quality, ref, files);
  } finally {
    services.close();
  }
}

/** The deadline as an ISO instant in UTC; times without an offset are refused (args.ts). */
const isoTime = (value: string): string => instant(value).toISOString();

/** `warmbatch submit`: uploads source files as one batch, for CI. */
export function submitCommand(partial?: Partial<CliDeps>): Command {
  const deps = withDefaults(partial);
  const command = pipelineCommand('submit', deps)
    .description(
      'Upload source files as one batch (manifest written last), optionally wait for it and download the outputs',
    )
    .argument(
      '<globs...>',
      "files, directories or quoted globs relative to the cwd ('src/**/*.ts')",
    )
    .requiredOption('--team <name>', 'team charged for the batch')
    .requiredOption('--project <name>', 'project the batch belongs to')
    .addOption(new Option('--kind <kind>', 'what to generate').choices(KINDS).makeOptionMandatory())
    .option(
      '--context <files...>',
      'shared context files (style guide, shared types) put in every prompt of the batch',
    )
    .option('--model <id>', 'model from the price catalog', DEFAULT_MODEL)
    .addOption(
      new Option('--sensitivity <level>', 'routes restricted code away from the public endpoint')
        .choices(SENSITIVITIES)
        .default('public'),
    )
    .option('--budget-usd <usd>', 'spend cap for this batch, in US dollars', number(0))
    .option(
      '--deadline <time>',
      'ISO 8601 time with Z or an offset after which no new work starts',
      isoTime,
    )
    .option('--prefer-off-peak', "schedule in the provider's off-peak hours when it can")
    .option(
      '--tag <key=value>',
      'cost-allocation tag on every cost record of the batch (repeatable; AWS tag rules)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--wait', 'show live progress until the batch ends; the exit code tells the outcome')
    .option('--timeout <minutes>', 'with --wait: give up waiting after this long', positive, 60)
    .option('--out <dir>', 'download the outputs here, mirroring the input paths (implies --wait)')
    .option('--json', 'print the summary as one JSON object')
    .option(
      '--junit <file>',
      'also write the batch as a JUnit XML report (a test case per file, and per generated test with --validate), for CI test tabs',
    )
    .option('--concurrency <n>', 'parallel uploads', integer(1), DEFAULT_CONCURRENCY.transfers)
    .option(
      '--shadow <model>',
      'also run a seeded sample of the files on this model (its own batch and ledger lane), to compare',
    )
    .option('--shadow-rate <p>', 'share of files the shadow model runs too', number(0, 1), 0.1);
  withQualityOptions(command);
  return command
    .addHelpText(
      'after',
      `\nThe batch id is printed on stdout (without --wait); progress and messages go to stderr.\nPut --context after the globs, or repeat it as --context=<file>.\n${EXIT_CODES_HELP}`,
    )
    .action(async (globs: string[], flags: SubmitFlags) =>
      runAction('submit', deps, () => submit(globs, flags, deps)),
    );
}
