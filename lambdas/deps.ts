/**
 * The composition root: builds the pipeline's real dependencies (AWS clients, stores, and for
 * the worker the LLM client) from one resolved configuration, so the domain under shared/ never
 * builds an SDK client itself. The Lambda handlers resolve it from their environment at cold
 * start, and the worker, the only function that calls the provider, its API keys from Secrets
 * Manager; the local runtime passes its emulators' clients and the simulator.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoBreakerStore } from '../shared/aws/breaker-store';
import { createJobsStore } from '../shared/aws/jobs';
import { createLedgerStore } from '../shared/aws/ledger-store';
import { createS3ObjectStore } from '../shared/aws/object-store';
import { createDynamoProfileStore } from '../shared/aws/profiles';
import { createSqsQueueSender } from '../shared/aws/queue';
import { type Clock, systemClock } from '../shared/clock';
import { ConfigurationError } from '../shared/configuration-error';
import type { BreakerConfig } from '../shared/llm/breaker';
import { createBreakers } from '../shared/llm/breakers';
import { createLlmClient, type LlmClient } from '../shared/llm/client';
import type { LlmEndpoint, LlmRouting } from '../shared/llm/routing';
import { createPriceSource, PRICES_KEY } from '../shared/pipeline/prices';
import { type PipelineSettings, parseSettings } from '../shared/pipeline/settings';
import type { PipelineDeps, WorkerDeps } from '../shared/pipeline/types';
import type { Logger } from '../shared/ports/logger';
import type { Metrics } from '../shared/ports/metrics';
import { ENV } from '../shared/resources';

/** Local runs only: provider API keys as JSON `{ "<endpoint name>": "<key>" }`. */
export const API_KEYS_ENV = 'WARMBATCH_API_KEYS';

export interface PipelineConfig {
  bucket: string;
  jobsTable: string;
  ledgerTable: string;
  workQueueUrl: string;
  finalizeQueueUrl: string;
  intakeQueueUrl?: string;
  planQueueUrl?: string;
  settings: PipelineSettings;
}

/** API key per endpoint name (settings.endpoints.*.name): the worker's alone. */
export type ApiKeys = Record<string, string>;

export interface BuildOptions {
  /** Prebuilt clients (the local runtime's); otherwise default clients are made. */
  clients?: { s3: S3Client; sqs: SQSClient; doc: DynamoDBDocumentClient };
  clock?: Clock;
  logger?: Logger;
  metrics?: Metrics;
  /** Injected in tests that script the provider. */
  llm?: LlmClient;
}

/** Routing from settings and keys; an endpoint without a key is a configuration error. */
export function routingFor(settings: PipelineSettings, apiKeys: ApiKeys): LlmRouting {
  const endpoint = (e: PipelineSettings['endpoints']['public']): LlmEndpoint => {
    const apiKey = apiKeys[e.name];
    if (!apiKey) throw new ConfigurationError(`no API key for endpoint ${e.name} in the secret`);
    return {
      name: e.name,
      baseURL: e.baseURL,
      apiKey,
      ...(e.userIdField ? { userIdField: e.userIdField } : {}),
    };
  };
  const { internal, restricted, fallbacks } = settings.endpoints;
  return {
    public: endpoint(settings.endpoints.public),
    ...(internal ? { internal: endpoint(internal) } : {}),
    ...(restricted ? { restricted: endpoint(restricted) } : {}),
    userIdByTeam: settings.userIdByTeam,
    ...(fallbacks
      ? {
          fallbacks: Object.fromEntries(
            Object.entries(fallbacks).map(([level, list]) => [
              level,
              (list ?? []).map((f) => ({
                ...endpoint(f),
                clearedFor: f.clearedFor,
                ...(f.model ? { model: f.model } : {}),
              })),
            ]),
          ),
        }
      : {}),
  };
}

/** Whether the worker keeps circuit breakers: with fallbacks to move to, or when configured. */
function breakersOn(settings: PipelineSettings): boolean {
  const fallbacks = Object.values(settings.endpoints.fallbacks ?? {}).flat();
  return fallbacks.length > 0 || settings.breaker !== undefined;
}

/**
 * Builds the worker's dependencies: those of every function, and the LLM client, which only
 * the worker has (and so only the worker holds the provider keys).
 */
export function buildWorkerDeps(
  config: PipelineConfig,
  apiKeys: ApiKeys,
  options: BuildOptions = {},
): WorkerDeps {
  const clients = options.clients ?? {
    s3: new S3Client({}),
    sqs: new SQSClient({}),
    doc: DynamoDBDocumentClient.from(new DynamoDBClient({}), {
      marshallOptions: { removeUndefinedValues: true },
    }),
  };
  const deps = buildPipelineDeps(config, { ...options, clients });
  // The client measures deadlines on the pipeline's clock: the worker computes them from it.
  const llm =
    options.llm ??
    createLlmClient(routingFor(config.settings, apiKeys), {
      now: () => deps.clock.now().getTime(),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(breakersOn(config.settings)
        ? {
            breakers: createBreakers(createDynamoBreakerStore(clients.doc, config.jobsTable), {
              now: () => deps.clock.now().getTime(),
              ...(config.settings.breaker ? { config: definedOf(config.settings.breaker) } : {}),
              ...(options.logger ? { logger: options.logger } : {}),
            }),
          }
        : {}),
    });
  // The provider's measured cache profiles, kept in the jobs table between invocations.
  return { ...deps, llm, profiles: createDynamoProfileStore(clients.doc, config.jobsTable) };
}

/** Builds stores and queue sender once; pass the result to the domain functions. */
export function buildPipelineDeps(
  config: PipelineConfig,
  options: Omit<BuildOptions, 'llm'> = {},
): PipelineDeps {
  const s3 = options.clients?.s3 ?? new S3Client({});
  const sqs = options.clients?.sqs ?? new SQSClient({});
  const doc =
    options.clients?.doc ??
    DynamoDBDocumentClient.from(new DynamoDBClient({}), {
      marshallOptions: { removeUndefinedValues: true },
    });
  const clock = options.clock ?? systemClock;
  const objects = createS3ObjectStore(s3, config.bucket);
  return {
    objects,
    queues: createSqsQueueSender(sqs),
    queueUrls: {
      work: config.workQueueUrl,
      finalize: config.finalizeQueueUrl,
      ...(config.intakeQueueUrl ? { intake: config.intakeQueueUrl } : {}),
      ...(config.planQueueUrl ? { plan: config.planQueueUrl } : {}),
    },
    jobs: createJobsStore({
      ddb: doc,
      table: config.jobsTable,
      concurrency: config.settings.concurrency.jobEnds,
    }),
    ledger: createLedgerStore({
      ddb: doc,
      ledgerTable: config.ledgerTable,
      jobsTable: config.jobsTable,
    }),
    settings: config.settings,
    prices: createPriceSource({
      objects,
      settings: config.settings,
      clock,
      bucketOrigin: `s3://${config.bucket}/${PRICES_KEY}`,
      ...(options.logger ? { logger: options.logger } : {}),
    }),
    clock,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  };
}

/**
 * Reads the configuration from environment variables (shared/resources.ts ENV). Throws naming
 * every missing variable, so a bad deployment fails at cold start.
 */
export function configFromEnvironment(env: Record<string, string | undefined>): PipelineConfig {
  const required: string[] = [
    ENV.bucket,
    ENV.jobsTable,
    ENV.ledgerTable,
    ENV.workQueueUrl,
    ENV.finalizeQueueUrl,
    ENV.settings,
  ];
  const missing = required.filter((name) => !env[name]);
  if (missing.length > 0)
    throw new ConfigurationError(`missing environment variable(s): ${missing.join(', ')}`);
  const settings = parseSettings(env[ENV.settings] as string);
  return {
    bucket: env[ENV.bucket] as string,
    jobsTable: env[ENV.jobsTable] as string,
    ledgerTable: env[ENV.ledgerTable] as string,
    workQueueUrl: env[ENV.workQueueUrl] as string,
    finalizeQueueUrl: env[ENV.finalizeQueueUrl] as string,
    ...(env[ENV.intakeQueueUrl] ? { intakeQueueUrl: env[ENV.intakeQueueUrl] } : {}),
    ...(env[ENV.planQueueUrl] ? { planQueueUrl: env[ENV.planQueueUrl] } : {}),
    settings,
  };
}

/**
 * Reads the provider API keys, the worker's alone: from the Secrets Manager secret named by
 * ENV.apiKeySecretId (or, locally, WARMBATCH_API_KEYS). Errors never quote the secret's text.
 */
export async function apiKeysFromEnvironment(
  env: Record<string, string | undefined>,
  secrets: Pick<SecretsManagerClient, 'send'> = new SecretsManagerClient({}),
): Promise<ApiKeys> {
  let keysJson: string | undefined;
  const secretId = env[ENV.apiKeySecretId];
  if (secretId) {
    const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    keysJson = out.SecretString;
  } else if (env[API_KEYS_ENV]) keysJson = env[API_KEYS_ENV];
  else throw new ConfigurationError(`missing environment variable(s): ${ENV.apiKeySecretId}`);
  let apiKeys: unknown;
  try {
    apiKeys = JSON.parse(keysJson ?? '');
  } catch {
    // No cause: a JSON parse error would quote the secret's text, which is the keys.
    apiKeys = undefined;
  }
  if (apiKeys === null || typeof apiKeys !== 'object' || Array.isArray(apiKeys))
    throw new ConfigurationError('the API key secret is not a JSON object of endpoint name to key');
  return apiKeys as ApiKeys;
}

/** The breaker settings that are set (zod leaves absent optional fields undefined). */
function definedOf(b: NonNullable<PipelineSettings['breaker']>): Partial<BreakerConfig> {
  return Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined));
}
