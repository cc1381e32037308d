/**
 * What the three handlers share: building the dependencies once per container, lazily at the
 * first invocation, from the environment. Only the worker reads the provider keys (Secrets
 * Manager) and builds an LLM client; the planner and finalize never hold a key.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { PipelineDeps, WorkerDeps } from '../shared/pipeline/types';
import { type FunctionName, METRICS, SERVICE_NAMES } from '../shared/resources';
import {
  apiKeysFromEnvironment,
  type BuildOptions,
  buildPipelineDeps,
  buildWorkerDeps,
  configFromEnvironment,
} from './deps';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * A Lambda entry point that builds its handler on first use and keeps it for the container's
 * life; a failed build (missing variable, unreadable secret) is retried on the next invocation.
 */
function lazy<D>(
  fn: FunctionName,
  build: (options: BuildOptions) => Promise<D>,
  make: (deps: D) => SqsHandler,
): SqsHandler {
  let built: Promise<SqsHandler> | undefined;
  return async (event, context) => {
    built ??= (async () => {
      const serviceName = SERVICE_NAMES[fn];
      const logger = new Logger({ serviceName });
      const metrics = new Metrics({ namespace: METRICS.namespace, serviceName });
      return make(await build({ logger, metrics }));
    })().catch((err: unknown) => {
      built = undefined;
      throw err;
    });
    return (await built)(event, context);
  };
}

/** The planner's or finalize's entry point: stores and queues, no provider key. */
export function lazyHandler(
  fn: Exclude<FunctionName, 'worker' | 'export'>,
  make: (deps: PipelineDeps) => SqsHandler,
): SqsHandler {
  return lazy(
    fn,
    async (options) => buildPipelineDeps(configFromEnvironment(process.env), options),
    make,
  );
}

/** The worker's entry point: also reads the provider keys and builds the LLM client. */
export function lazyWorkerHandler(make: (deps: WorkerDeps) => SqsHandler): SqsHandler {
  return lazy(
    'worker',
    async (options) =>
      buildWorkerDeps(
        configFromEnvironment(process.env),
        await apiKeysFromEnvironment(process.env),
        options,
      ),
    make,
  );
}
