/**
 * What the three handlers share: building the dependencies once per container, lazily at the
 * first invocation, from the environment (and Secrets Manager).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { WorkerDeps } from '../shared/pipeline/types';
import { type FunctionName, METRICS, SERVICE_NAMES } from '../shared/resources';
import { buildPipelineDeps, configFromEnvironment } from './deps';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * A Lambda entry point that builds its handler on first use and keeps it for the container's
 * life; a failed build (missing variable, unreadable secret) is retried on the next invocation.
 */
export function lazyHandler(fn: FunctionName, make: (deps: WorkerDeps) => SqsHandler): SqsHandler {
  let built: Promise<SqsHandler> | undefined;
  return async (event, context) => {
    built ??= (async () => {
      const serviceName = SERVICE_NAMES[fn];
      const logger = new Logger({ serviceName });
      const metrics = new Metrics({ namespace: METRICS.namespace, serviceName });
      const config = await configFromEnvironment(process.env);
      return make(buildPipelineDeps(config, { logger, metrics }));
    })().catch((err: unknown) => {
      built = undefined;
      throw err;
    });
    return (await built)(event, context);
  };
}
