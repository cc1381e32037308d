import { PurgeQueueCommand } from '@aws-sdk/client-sqs';
import type { Logger } from '../../shared/ports/logger';
import {
  EVENT_SOURCES,
  EXPORT_STREAM,
  FUNCTIONS,
  type FunctionName,
  QUEUES,
  type QueueFunctionName,
  type QueueName,
  visibilityTimeoutSeconds,
} from '../../shared/resources';
import { type AwsMeter, meterClient } from '../meter';
import {
  createLocalClients,
  destroyLocalClients,
  LOCAL_CREDENTIALS,
  type LocalAwsClients,
} from './clients';
import {
  cleanStaleRuntime,
  DEFAULT_CONFIG_PATH,
  type LocalConfig,
  removeLocalConfig,
  type StaleCleanup,
  writeLocalConfig,
} from './config-file';
import {
  type EmulatorEndpoints,
  type EmulatorPorts,
  type Emulators,
  startEmulators,
} from './emulators';
import {
  type EventSource,
  type InvocationRecord,
  type SqsLambdaHandler,
  startEventSource,
} from './event-source';
import { ensureLocalResources, functionEnvironment, type LocalResources } from './resources';
import { type S3EventBridge, startS3EventBridge } from './s3-bridge';
import { type StreamLambdaHandler, type StreamSource, startStreamSource } from './stream-source';

export type { LocalAwsClients } from './clients';
export type { LocalConfig, StaleCleanup } from './config-file';
export type { EmulatorEndpoints, Emulators } from './emulators';
export type { InvocationRecord, SqsLambdaHandler } from './event-source';
export type { LocalQueue, LocalResources } from './resources';
export type { StreamLambdaHandler } from './stream-source';

/** The queue functions' handlers, and the export's, fed from the ledger's stream. */
export type LocalHandlers = Partial<Record<QueueFunctionName, SqsLambdaHandler>> & {
  export?: StreamLambdaHandler;
};

/** What a handler factory gets, so handlers can be built once the resources exist. */
export interface RuntimeContext {
  clients: LocalAwsClients;
  resources: LocalResources;
  endpoints: EmulatorEndpoints;
  /** The environment functions get in the cloud, plus the AWS endpoint and credential variables. */
  env: Record<string, string>;
}

export interface LocalRuntimeOptions {
  ports?: EmulatorPorts;
  /** Handlers by function, or a factory called after the resources exist. Missing ones are not polled. */
  handlers: LocalHandlers | ((ctx: RuntimeContext) => LocalHandlers | Promise<LocalHandlers>);
  bucket?: string;
  /**
   * Multiplies every duration taken from shared/resources.ts (function timeouts, visibility
   * timeouts, batching windows); 1 (the default) is the deployed value. Visibility timeouts are
   * kept at one second at least, as SQS counts them in whole seconds.
   */
  timeScale?: number;
  /** Concurrent invocations per function (Lambda's scaling); default 2. */
  concurrency?: Partial<Record<FunctionName, number>>;
  /** Where to write the config the CLI reads; `false` writes none. */
  configPath?: string | false;
  /** Send S3's `s3:TestEvent` to the intake queue at start, as S3 does. Default true. */
  sendTestEvent?: boolean;
  javaCommand?: string;
  /** Use this running DynamoDB Local instead of starting one (the test suite shares one). */
  dynamodbEndpoint?: string;
  /** Put before every table name (see ensureLocalResources). */
  tablePrefix?: string;
  logger?: Logger;
  /**
   * Counts every request of the runtime's AWS clients (handlers, pollers, and whoever else uses
   * `clients`), by function: see local/meter.ts. The benchmarks pass one.
   */
  meter?: AwsMeter;
  /** With `meter`: milliseconds each AWS request waits first, to play AWS's latency. */
  awsLatencyMs?: () => number;
  /** Told of every Lambda-style invocation once it ended. */
  onInvocation?: (invocation: InvocationRecord) => void;
}

export interface LocalRuntime {
  clients: LocalAwsClients;
  resources: LocalResources;
  endpoints: EmulatorEndpoints;
  emulators: Emulators;
  env: Record<string, string>;
  /** What was left by a run killed without cleaning up, and was cleaned before this start. */
  cleaned: StaleCleanup;
  /** Resolves when every S3 event observed so far is on the intake queue. */
  flushS3Events(): Promise<void>;
  /**
   * Resolves once every ledger change made so far has reached the export handler (at once when
   * no export handler runs).
   */
  settleExport(): Promise<void>;
  /**
   * Brings the runtime to rest for a fresh start: stops polling and waits for every in-flight
   * invocation, forwards pending S3 events, empties every queue and its DLQ, then polls again.
   * Tests call it between cases so nothing of one case runs into the next.
   */
  drain(): Promise<void>;
  /** Stops polling (waiting for in-flight invocations), the bridge and the emulators. */
  stop(): Promise<void>;
}

/**
 * Environment for code that builds its own AWS clients (e.g. handlers at module scope): the
 * function variables of shared/resources.ts plus SDK endpoint overrides and dummy credentials.
 */
export function localEnvironment(
  resources: LocalResources,
  endpoints: EmulatorEndpoints,
  region: string,
): Record<string, string> {
  return {
    ...functionEnvironment(resources),
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: endpoints.s3Sqs,
    AWS_ENDPOINT_URL_SQS: endpoints.s3Sqs,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
  };
}

const scaledVisibility = (scale: number): Record<QueueName, number> => {
  const out = {} as Record<QueueName, number>;
  for (const queue of Object.keys(QUEUES) as QueueName[])
    out[queue] = Math.max(1, Math.round(visibilityTimeoutSeconds(queue) * scale));
  return out;
};

/**
 * Starts the whole AWS side of the pipeline on this machine: S3+SQS and DynamoDB emulators,
 * the resources of shared/resources.ts, the S3-to-intake-queue bridge, and one Lambda-style
 * poller per event source whose handler is given. Writes the config file the CLI reads.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const scale = options.timeScale ?? 1;
  const configPath =
    options.configPath === false ? undefined : (options.configPath ?? DEFAULT_CONFIG_PATH);
  // First, so that an orphan JVM of a killed run no longer holds the DynamoDB port.
  const cleaned = configPath ? await cleanStaleRuntime(configPath) : {};
  if (cleaned.config)
    options.logger?.warn('cleaned up after a local runtime that was killed', {
      configFile: cleaned.config.path,
      deadPid: cleaned.config.pid,
      ...(cleaned.dynamodbPid !== undefined ? { killedDynamodbPid: cleaned.dynamodbPid } : {}),
    });
  const emulators = await startEmulators({
    ports: options.ports,
    javaCommand: options.javaCommand,
    dynamodbEndpoint: options.dynamodbEndpoint,
  });
  const endpoints = emulators.endpoints;
  const clients = createLocalClients(
    { s3Sqs: endpoints.s3Sqs, dynamodb: endpoints.dynamodb },
    emulators.region,
  );
  const meter = options.meter;
  if (meter) meterClients(clients, meter, options.awsLatencyMs);
  let bridge: S3EventBridge | undefined;
  let sources: EventSource[] = [];
  let ledgerStream: StreamSource | undefined;

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (configPath) await removeLocalConfig(configPath);
      await bridge?.stop();
      await Promise.all(sources.map((s) => s.stop()));
      await ledgerStream?.stop();
      destroyLocalClients(clients);
      await emulators.stop();
    })();
    return stopping;
  };

  try {
    const resources = await ensureLocalResources(clients, {
      bucket: options.bucket,
      tablePrefix: options.tablePrefix,
      visibilityTimeoutSeconds: scale === 1 ? undefined : scaledVisibility(scale),
    });
    const env = localEnvironment(resources, endpoints, emulators.region);
    const handlers =
      typeof options.handlers === 'function'
        ? await options.handlers({ clients, resources, endpoints, env })
        : options.handlers;

    bridge = await startS3EventBridge({
      fauxqs: emulators.fauxqs,
      clients,
      bucket: resources.bucket,
      queueUrl: resources.queues.intake.url,
      region: emulators.region,
      sendTestEvent: options.sendTestEvent,
      logger: options.logger,
      ...(meter ? { scope: meter.scope } : {}),
    });

    const startSources = () =>
      startEventSources(options, { handlers, clients, resources, region: emulators.region });
    sources = startSources();

    const exportHandler = handlers.export;
    if (exportHandler)
      ledgerStream = await startStreamSource({
        ddb: clients.ddb,
        endpoint: endpoints.dynamodb,
        region: emulators.region,
        credentials: LOCAL_CREDENTIALS,
        table: resources.tables.ledger,
        handler: exportHandler,
        // The deployed event source's filter: cost records only.
        filter: ({ pk }) => pk?.startsWith('REC#') === true,
        batchSize: EXPORT_STREAM.batchSize,
        retryAttempts: EXPORT_STREAM.retryAttempts,
        ...(options.logger ? { logger: options.logger } : {}),
      });
    const activeStream = ledgerStream;

    if (configPath) await writeLocalConfig(toConfig(resources, emulators), configPath);

    const activeBridge = bridge;
    return {
      clients,
      resources,
      endpoints,
      emulators,
      env,
      cleaned,
      flushS3Events: () => activeBridge.flush(),
      settleExport: async () => activeStream?.settle(),
      drain: async () => {
        await Promise.all(sources.splice(0).map((s) => s.stop()));
        await activeBridge.flush();
        await purgeQueues(clients, resources);
        sources = startSources();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Counts (and delays, with a latency) every request of the runtime's clients. */
function meterClients(
  clients: LocalAwsClients,
  meter: AwsMeter,
  awsLatencyMs: (() => number) | undefined,
): void {
  const latency = awsLatencyMs ? { latencyMs: awsLatencyMs } : {};
  meterClient(clients.s3, 's3', meter, latency);
  meterClient(clients.sqs, 'sqs', meter, latency);
  // The document client sends through the base client's stack.
  meterClient(clients.ddb, 'dynamodb', meter, latency);
}

/** One Lambda-style poller per event source whose function has a handler, durations scaled. */
function startEventSources(
  options: LocalRuntimeOptions,
  at: {
    handlers: LocalHandlers;
    clients: LocalAwsClients;
    resources: LocalResources;
    region: string;
  },
): EventSource[] {
  const scale = options.timeScale ?? 1;
  const meter = options.meter;
  return EVENT_SOURCES.flatMap((spec) => {
    const handler = at.handlers[spec.function];
    if (!handler) return [];
    const queue = at.resources.queues[spec.queue];
    return [
      startEventSource({
        sqs: at.clients.sqs,
        queueUrl: queue.url,
        queueArn: queue.arn,
        region: at.region,
        functionName: `warmbatch-${spec.function}`,
        handler,
        batchSize: spec.batchSize,
        maxBatchingWindowMs: Math.round(spec.maxBatchingWindowSeconds * 1000 * scale),
        timeoutMs: Math.round(FUNCTIONS[spec.function].timeoutSeconds * 1000 * scale),
        memoryMb: FUNCTIONS[spec.function].memoryMb,
        concurrency: options.concurrency?.[spec.function],
        logger: options.logger,
        ...(meter ? { scope: meter.scope } : {}),
        ...(options.onInvocation ? { onInvocation: options.onInvocation } : {}),
      }),
    ];
  });
}

async function purgeQueues(clients: LocalAwsClients, resources: LocalResources): Promise<void> {
  const urls = Object.values(resources.queues).flatMap((q) => [q.url, q.dlq.url]);
  await Promise.all(urls.map((QueueUrl) => clients.sqs.send(new PurgeQueueCommand({ QueueUrl }))));
}

function toConfig(resources: LocalResources, emulators: Emulators): LocalConfig {
  const q = resources.queues;
  const { endpoints, region, dynamodbPid } = emulators;
  return {
    version: 1,
    pid: process.pid,
    ...(dynamodbPid !== undefined ? { dynamodbPid } : {}),
    startedAt: new Date().toISOString(),
    region,
    endpoints: { s3: endpoints.s3Sqs, sqs: endpoints.s3Sqs, dynamodb: endpoints.dynamodb },
    bucket: resources.bucket,
    tables: { ...resources.tables },
    queueUrls: { intake: q.intake.url, work: q.work.url, finalize: q.finalize.url },
    dlqUrls: { intake: q.intake.dlq.url, work: q.work.dlq.url, finalize: q.finalize.dlq.url },
  };
}
