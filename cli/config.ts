/**
 * Where the CLI finds the pipeline: a config file named with `--config`, else `WARMBATCH_CONFIG`,
 * else a running local runtime's config (`WARMBATCH_LOCAL_CONFIG`), else `cdk-outputs.json` in the working
 * directory (`cdk deploy --outputs-file cdk-outputs.json`). Credentials follow the standard AWS
 * chain (`--profile` picks a named profile); a local runtime gets the emulators' dummy ones.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import * as z from 'zod';
import type { CacheProfileStore } from '../shared/executor/profile';
import { type LocalConfig, localConfigSchema, readLocalConfig } from '../shared/local-config';
import type { JobsStore } from '../shared/ports/jobs';
import type { LedgerStore } from '../shared/ports/ledger';
import type { ObjectStore } from '../shared/ports/objects';
import { STACK_NAME, STACK_OUTPUTS } from '../shared/resources';
import { UsageError } from './lib/exit';

/** The flags every command that talks to the pipeline accepts. */
export interface ConnectionFlags {
  config?: string;
  region?: string;
  profile?: string;
  endpointUrl?: string;
}

/** What the CLI needs to reach one deployment (cloud or local). */
export interface CliConfig {
  /** Where the settings came from, for messages. */
  source: string;
  region?: string;
  bucket: string;
  jobsTable: string;
  ledgerTable: string;
  /** Endpoint overrides; set for the local runtime and by `--endpoint-url`. */
  endpoints: { s3?: string; dynamodb?: string };
  /** The local emulators accept only dummy credentials; the AWS chain is not consulted. */
  local: boolean;
  profile?: string;
}

/** The one line printed when no configuration is found at all. */
export const NO_CONFIG_MESSAGE =
  'no warmbatch configuration found: pass --config <file> or set WARMBATCH_CONFIG (the stack outputs of `cdk deploy --outputs-file`), or put cdk-outputs.json here';

export interface ConfigSources {
  env: Record<string, string | undefined>;
  cwd: string;
  /**
   * Path of a local runtime's config file (`WARMBATCH_LOCAL_CONFIG`; in this repository
   * the runtime's `.local/warmbatch.json` by default); none in an installed command.
   */
  localConfigPath?: string;
}

const stackOutputsSchema = z.object({
  [STACK_OUTPUTS.bucketName]: z.string().min(1),
  [STACK_OUTPUTS.jobsTableName]: z.string().min(1),
  [STACK_OUTPUTS.ledgerTableName]: z.string().min(1),
  [STACK_OUTPUTS.region]: z.string().min(1).optional(),
});

/**
 * The part of a local runtime's config file (its one schema, shared/local-config.ts) the CLI
 * reads; a copy passed with `--config` need not name a live process.
 */
const localConnectionSchema = localConfigSchema.pick({
  version: true,
  region: true,
  endpoints: true,
  bucket: true,
  tables: true,
});

function fromLocal(config: z.output<typeof localConnectionSchema>, source: string): CliConfig {
  return {
    source,
    region: config.region,
    bucket: config.bucket,
    jobsTable: config.tables.jobs,
    ledgerTable: config.tables.ledger,
    endpoints: { s3: config.endpoints.s3, dynamodb: config.endpoints.dynamodb },
    local: true,
  };
}

/**
 * Reads a config file of any form the CLI accepts: a local runtime config, `cdk-outputs.json`
 * (outputs under the stack name, or under the only stack in the file), or the bare outputs.
 */
export function parseConfigText(text: string, source: string): CliConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new UsageError(`${source} is not valid JSON: fix or regenerate it`, { cause });
  }
  const local = localConnectionSchema.safeParse(raw);
  if (local.success) return fromLocal(local.data, source);
  const record = (raw ?? {}) as Record<string, unknown>;
  const stacks = Object.values(record).filter((v) => typeof v === 'object' && v !== null);
  const candidates = [record[STACK_NAME], ...(stacks.length === 1 ? stacks : []), raw];
  for (const candidate of candidates) {
    const outputs = stackOutputsSchema.safeParse(candidate);
    if (outputs.success) {
      const o = outputs.data;
      return {
        source,
        ...(o[STACK_OUTPUTS.region] ? { region: o[STACK_OUTPUTS.region] } : {}),
        bucket: o[STACK_OUTPUTS.bucketName],
        jobsTable: o[STACK_OUTPUTS.jobsTableName],
        ledgerTable: o[STACK_OUTPUTS.ledgerTableName],
        endpoints: {},
        local: false,
      };
    }
  }
  throw new UsageError(
    `${source} has no ${STACK_NAME} outputs (${STACK_OUTPUTS.bucketName}, ${STACK_OUTPUTS.jobsTableName}, ${STACK_OUTPUTS.ledgerTableName}): regenerate it with \`cdk deploy --outputs-file\``,
  );
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Finds the configuration in the documented order and applies `--region`, `--profile` and
 * `--endpoint-url`. Throws UsageError with one actionable line when nothing usable is found.
 */
export async function resolveConfig(
  flags: ConnectionFlags,
  sources: ConfigSources,
): Promise<CliConfig> {
  const named = flags.config ?? sources.env.WARMBATCH_CONFIG;
  let config: CliConfig | undefined;
  if (named !== undefined) {
    const path = resolve(sources.cwd, named);
    const text = await readIfExists(path);
    const via = flags.config !== undefined ? '--config' : 'WARMBATCH_CONFIG';
    if (text === undefined)
      throw new UsageError(`config file ${path} (from ${via}) does not exist: check the path`);
    config = parseConfigText(text, path);
  } else {
    const localPath = sources.localConfigPath;
    let local: LocalConfig | undefined;
    try {
      local = localPath === undefined ? undefined : await readLocalConfig(localPath);
    } catch (cause) {
      throw new UsageError(`${(cause as Error).message}: stop and restart \`npm start\``, {
        cause,
      });
    }
    if (local && localPath !== undefined) config = fromLocal(local, localPath);
    else {
      const outputsPath = resolve(sources.cwd, 'cdk-outputs.json');
      const text = await readIfExists(outputsPath);
      if (text !== undefined) config = parseConfigText(text, outputsPath);
    }
  }
  if (!config) throw new UsageError(NO_CONFIG_MESSAGE);
  const region =
    flags.region ?? config.region ?? sources.env.AWS_REGION ?? sources.env.AWS_DEFAULT_REGION;
  const endpoint = flags.endpointUrl;
  return {
    ...config,
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoints: { s3: endpoint, dynamodb: endpoint } } : {}),
    ...(flags.profile ? { profile: flags.profile } : {}),
  };
}

/** The stores the commands work with, over one deployment. */
export interface Services {
  objects: ObjectStore;
  /** The bucket `objects` reads, for messages (`s3://<bucket>/config/prices.json`). */
  bucket?: string;
  jobs: JobsStore;
  ledger: LedgerStore;
  /** The measured cache profiles the worker starts from (`calibrate --save` writes one). */
  profiles?: CacheProfileStore;
  /** Closes the clients' sockets. */
  close(): void;
}

/** Builds the AWS clients once and the stores over them. */
/** Adds `--config`, `--region`, `--profile` and `--endpoint-url` to a command. */
export function withConnectionOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--config <file>',
        'config file: cdk-outputs.json or a local runtime config (default: $WARMBATCH_CONFIG, the running local runtime, ./cdk-outputs.json)',
      ),
    )
    .option('--region <region>', 'AWS region (default: the stack output, then $AWS_REGION)')
    .option('--profile <name>', 'AWS named profile (default: the standard credential chain)')
    .option('--endpoint-url <url>', 'send S3 and DynamoDB calls to this endpoint');
}
