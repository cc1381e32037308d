/**
 * The whole pipeline on one machine: AWS emulators, the DeepSeek simulator (unless a real key
 * is given) and the real Lambda handlers, wired the way the cloud wires them. `warmbatch local`
 * (and so `npm start`) and the end-to-end tests all start it through here.
 */

import { buildWorkerDeps } from '../lambdas/deps';
import { createExportHandler } from '../lambdas/export/handler';
import { createFinalizeHandler } from '../lambdas/finalize/handler';
import { createPlannerHandler } from '../lambdas/planner/handler';
import { createWorkerHandler } from '../lambdas/worker/handler';
import { type Clock, clockMs } from '../shared/clock';
import { settingsLayers } from '../shared/pipeline/prices';
import {
  type PipelineSettings,
  type PipelineSettingsInput,
  parsePricingSettings,
  parseSettings,
} from '../shared/pipeline/settings';
import type { WorkerDeps } from '../shared/pipeline/types';
import type { Logger } from '../shared/ports/logger';
import { buildCatalog } from '../shared/pricing/catalog';
import { ENDPOINT_NAMES, FUNCTIONS, type FunctionName } from '../shared/resources';
import type { Sensitivity } from '../shared/types';
import type { AwsMeter } from './meter';
import {
  type InvocationRecord,
  type LocalRuntime,
  type RuntimeContext,
  startLocalRuntime,
} from './runtime';
import type { EmulatorPorts } from './runtime/emulators';
import { type SimHandle, type SimStartOptions, startSimulator } from './sim/server';

/** DeepSeek's public endpoint, used when a real key is configured. */
export const DEEPSEEK_BASE_URL = 'https://api.deepseek.com';

export interface LocalPipelineOptions {
  /** Emulator ports; 0 picks free ones. Default 4566 (S3+SQS) and 8000 (DynamoDB). */
  ports?: EmulatorPorts;
  /** A real DeepSeek key: calls go to DeepSeek and no simulator starts. */
  deepseekApiKey?: string;
  /** Simulator options (port 0 by default). */
  sim?: SimStartOptions;
  /** Scales the deployed timeouts and batching windows (see startLocalRuntime). */
  timeScale?: number;
  /**
   * Run the line-item export from the ledger's stream, as the stack does (default true); test
   * files that do not look at line items leave it off to spare the shared DynamoDB Local.
   */
  exportLineItems?: boolean;
  /** Settings beyond the endpoints; the public endpoint is filled in here. */
  settings?: Omit<PipelineSettingsInput, 'endpoints'>;
  /**
   * Endpoints for `internal` and `restricted` inputs (none by default: such jobs then fail
   * `no_endpoint`). Tests point them at a second simulator.
   */
  endpoints?: Partial<
    Record<'internal' | 'restricted', { baseURL: string; apiKey: string; models?: string[] }>
  >;
  /** Fallback endpoints per sensitivity, tried in order while the level's own is open. */
  fallbacks?: Partial<Record<Sensitivity, LocalFallback[]>>;
  concurrency?: Partial<Record<FunctionName, number>>;
  /** The one clock of handlers, LLM client and simulator; default the system clock. */
  clock?: Clock;
  /** Where the handlers and the LLM client log; default nowhere. */
  logger?: Logger;
  /** A running DynamoDB Local to use instead of starting one (the test suite shares one). */
  dynamodbEndpoint?: string;
  /** Put before every table name, to share that DynamoDB Local between test files. */
  tablePrefix?: string;
  /** Where to write the config file the CLI reads; false for none (tests). */
  configPath?: string | false;
  /** Counts every AWS request by function (the benchmarks of the pipeline's own bill). */
  meter?: AwsMeter;
  /** With `meter`: milliseconds each AWS request waits first. */
  awsLatencyMs?: () => number;
  /** Told of every invocation once it ended (what Lambda would bill). */
  onInvocation?: (invocation: InvocationRecord) => void;
  /**
   * Functions not polled here: another process runs them (the fault campaign's worker, which it
   * kills with SIGKILL), with `localDeps` over the same emulators.
   */
  outOfProcess?: readonly 'worker'[];
}

/**
 * The handlers' dependencies over the local runtime's clients and resources, as this module
 * builds them; another process that runs a handler against the same emulators builds them here
 * too, so it cannot drift.
 */
export function localDeps(
  ctx: Pick<RuntimeContext, 'clients' | 'resources'>,
  options: Pick<
    LocalPipelineOptions,
    'endpoints' | 'fallbacks' | 'settings' | 'timeScale' | 'clock' | 'logger'
  >,
  provider: { baseURL: string; apiKey: string },
): WorkerDeps {
  const { baseURL, apiKey } = provider;
  const extra = Object.entries(options.endpoints ?? {});
  // One dependency object for the three handlers, so that test wrappers reach them all;
  // on AWS only the worker's has an LLM client (lambdas/wiring.ts).
  return buildWorkerDeps(
    {
      bucket: ctx.resources.bucket,
      jobsTable: ctx.resources.tables.jobs,
      ledgerTable: ctx.resources.tables.ledger,
      workQueueUrl: ctx.resources.queues.work.url,
      finalizeQueueUrl: ctx.resources.queues.finalize.url,
      intakeQueueUrl: ctx.resources.queues.intake.url,
      planQueueUrl: ctx.resources.queues.plan.url,
      settings: scaledSettings(
        parseSettings({
          // A lease must outlast the invocation that took it (attempt reconciliation
          // relies on it), so it scales with the function timeouts.
          leaseMs: Math.round(FUNCTIONS.worker.timeoutSeconds * 1000 * (options.timeScale ?? 1)),
          ...options.settings,
          endpoints: {
            public: { name: ENDPOINT_NAMES.public, baseURL },
            ...Object.fromEntries(
              extra.map(([level, e]) => [
                level,
                {
                  name: level,
                  baseURL: e.baseURL,
                  ...(e.models ? { models: e.models } : {}),
                },
              ]),
            ),
            ...(options.fallbacks
              ? {
                  fallbacks: Object.fromEntries(
                    Object.entries(options.fallbacks).map(([level, list]) => [
                      level,
                      (list ?? []).map(({ apiKey: _, ...f }) => f),
                    ]),
                  ),
                }
              : {}),
          },
        }),
        options.timeScale ?? 1,
      ),
    },
    {
      [ENDPOINT_NAMES.public]: apiKey,
      ...Object.fromEntries(extra.map(([level, e]) => [level, e.apiKey])),
      ...Object.fromEntries(
        Object.values(options.fallbacks ?? {}).flatMap((list) =>
          (list ?? []).map((f) => [f.name, f.apiKey]),
        ),
      ),
    },
    {
      clients: ctx.clients,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    },
  );
}

export interface LocalPipeline {
  runtime: LocalRuntime;
  /** Undefined when a real DeepSeek key is used. */
  sim?: SimHandle;
  /** The dependencies the handlers run with (stores, object store, settings). */
  deps: WorkerDeps;
  stop(): Promise<void>;
}

/**
 * Settings as the local runtime runs them: the drops' quiet period is a duration like the
 * function timeouts and batching windows, so it is scaled with them.
 */
export function scaledSettings(settings: PipelineSettings, timeScale: number): PipelineSettings {
  return {
    ...settings,
    drops: { ...settings.drops, quietMs: Math.round(settings.drops.quietMs * timeScale) },
  };
}

/** Starts emulators, simulator and handlers; `stop()` tears all of it down. */
export async function startLocalPipeline(
  options: LocalPipelineOptions = {},
): Promise<LocalPipeline> {
  // The simulator plays DeepSeek: it bills with the provider's prices (the built-in history and
  // the settings' rows, not an operator's bucket file) at the instant the pipeline prices with.
  const pricing = parsePricingSettings(options.settings?.pricing);
  const sim = options.deepseekApiKey
    ? undefined
    : await startSimulator({
        port: 0,
        ...(options.clock ? { clock: clockMs(options.clock) } : {}),
        catalog: buildCatalog(settingsLayers({ pricing }).layers),
        pricingInstant: pricing.instant,
        ...options.sim,
      });
  const apiKey = options.deepseekApiKey ?? sim?.options.apiKeys[0] ?? '';
  const baseURL = sim ? sim.url : DEEPSEEK_BASE_URL;
  let deps: WorkerDeps | undefined;
  try {
    const runtime = await startLocalRuntime({
      ports: options.ports,
      timeScale: options.timeScale,
      concurrency: options.concurrency,
      configPath: options.configPath,
      dynamodbEndpoint: options.dynamodbEndpoint,
      tablePrefix: options.tablePrefix,
      ...(options.meter ? { meter: options.meter } : {}),
      ...(options.awsLatencyMs ? { awsLatencyMs: options.awsLatencyMs } : {}),
      ...(options.onInvocation ? { onInvocation: options.onInvocation } : {}),
      handlers: (ctx) => {
        deps = localDeps(ctx, options, { baseURL, apiKey });
        const shared = deps;
        const elsewhere = new Set(options.outOfProcess ?? []);
        return {
          planner: createPlannerHandler(deps),
          ...(elsewhere.has('worker') ? {} : { worker: createWorkerHandler(deps) }),
          finalize: createFinalizeHandler(deps),
          // Read through `shared` at each call, so a test that swaps a store swaps it here too.
          ...(options.exportLineItems !== false
            ? {
                export: createExportHandler({
                  get ledger() {
                    return shared.ledger;
                  },
                  get objects() {
                    return shared.objects;
                  },
                  tagKeys: shared.settings.chargeback.tagColumns,
                  ...(options.logger ? { logger: options.logger } : {}),
                }),
              }
            : {}),
        };
      },
    });
    if (!deps) throw new Error('the local runtime did not build the handlers');
    const built = deps;
    return {
      runtime,
      sim,
      deps: built,
      stop: async () => {
        await runtime.stop();
        await sim?.close();
      },
    };
  } catch (err) {
    await sim?.close();
    throw err;
  }
}

/** A fallback endpoint of the local pipeline, with its key. */
export interface LocalFallback {
  name: string;
  baseURL: string;
  apiKey: string;
  clearedFor: Sensitivity;
  model?: string;
  models?: string[];
  userIdField?: 'user_id' | 'user' | 'none';
}
