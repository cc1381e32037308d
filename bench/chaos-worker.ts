/**
 * The fault campaign's worker process: the real worker handler, polled from the work queue as
 * Lambda would, against the campaign's emulators and simulator. The campaign starts it with
 * `fork` and kills it with SIGKILL while calls are in flight: a process dying, not a promise that
 * never resolves. Its configuration comes in one environment variable, as JSON.
 */
import { createWorkerHandler } from '../lambdas/worker/handler';
import { type LocalPipelineOptions, localDeps } from '../local/pipeline';
import { createLocalClients, type LocalAwsEndpoints } from '../local/runtime/clients';
import { startEventSource } from '../local/runtime/event-source';
import type { LocalResources } from '../local/runtime/resources';
import { EVENT_SOURCES, FUNCTIONS } from '../shared/resources';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** What the campaign hands its worker process. */
export interface ChaosWorkerConfig {
  endpoints: LocalAwsEndpoints;
  region: string;
  resources: LocalResources;
  provider: { baseURL: string; apiKey: string };
  settings: LocalPipelineOptions['settings'];
  timeScale: number;
  concurrency: number;
}

export const CHAOS_WORKER_ENV = 'WARMBATCH_CHAOS_WORKER';

function main(): void {
  const raw = process.env[CHAOS_WORKER_ENV];
  if (!raw)
    throw new Error(`${CHAOS_WORKER_ENV} is not set: this process is started by bench/chaos.ts`);
  const config = JSON.parse(raw) as ChaosWorkerConfig;
  const clients = createLocalClients(config.endpoints, config.region);
  const deps = localDeps(
    { clients, resources: config.resources },
    { settings: config.settings, timeScale: config.timeScale },
    config.provider,
  );
  const spec = EVENT_SOURCES.find((s) => s.function === 'worker');
  if (!spec) throw new Error('no event source feeds the worker');
  const queue = config.resources.queues[spec.queue];
  const source = startEventSource({
    sqs: clients.sqs,
    queueUrl: queue.url,
    queueArn: queue.arn,
    region: config.region,
    functionName: 'warmbatch-worker',
    handler: createWorkerHandler(deps),
    batchSize: spec.batchSize,
    maxBatchingWindowMs: Math.round(spec.maxBatchingWindowSeconds * 1000 * config.timeScale),
    timeoutMs: Math.round(FUNCTIONS.worker.timeoutSeconds * 1000 * config.timeScale),
    memoryMb: FUNCTIONS.worker.memoryMb,
    concurrency: config.concurrency,
  });
  // A clean stop when asked (the campaign's last worker); SIGKILL needs no handler.
  process.on('SIGTERM', () => {
    void source.stop().then(() => process.exit(0));
  });
  process.send?.('ready');
}

if (import.meta.url === `file://${process.argv[1]}`) main();
