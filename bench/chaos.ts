/**
 * The fault campaign: the whole local pipeline (emulators, the real handlers, the simulator)
 * runs the same workload under one fault mix after another, and each mix is judged on what a
 * platform owner cares about: every input has an output object or a failure with an honest
 * reason (not one of the faults injected, which the pipeline should have ridden out), every call
 * the provider billed is in the ledger (exactly, by its response id, or as an estimate that is
 * an upper bound of what the provider billed for it), how many requests the provider billed more
 * than once, and how much later batches finish than without faults.
 *
 *   npm run chaos -- [--jobs 500] [--mixes baseline,errors,...,outage] [--json]
 *
 * Workload: `--jobs` distinct source files, 25 to a project, dropped under
 * intake/<team>/<project>/docs/ (one drop, so one batch, per project). Every mix starts from
 * empty tables, an empty simulator and drained queues, on one set of emulators.
 *
 * Under bench/chaos/: the mixes and their verdict (mixes.ts), one mix's run (run-mix.ts), the
 * judgement of bill and outputs (judge.ts), the outage mix's fallback host and figures
 * (fallback-host.ts, outage.ts), and the table (report.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import {
  type LocalPipeline,
  type LocalPipelineOptions,
  startLocalPipeline,
} from '../local/pipeline';
import { type SimHandle, startSimulator } from '../local/sim/server';
import type { Clock } from '../shared/clock';
import { type FallbackHost, startFallbackHost } from './chaos/fallback-host';
import { TEAM } from './chaos/inspect';
import {
  type ChaosOptions,
  MIXES,
  type MixResult,
  MUTATIONS,
  type Mutation,
  mixFailed,
} from './chaos/mixes';
import { FALLBACK_ENDPOINT } from './chaos/outage';
import { outageReport, table } from './chaos/report';
import { type MixContext, restrictedProject, runMix } from './chaos/run-mix';
import { CHAOS_WORKER_ENV, type ChaosWorkerConfig } from './chaos-worker';

export {
  type ChaosOptions,
  HONEST_FAILURE_CODES,
  MIXES,
  type Mix,
  type MixResult,
  MUTATIONS,
  type Mutation,
  mixFailed,
} from './chaos/mixes';

// As the CLI does (packages/cli/bin.js): the SDK's notice is about later releases than the pinned ones.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const PIPELINE_SETTINGS: LocalPipelineOptions['settings'] = {
  maxOutputTokens: { docs: 256, tests: 256 },
  retryBackoff: { minSeconds: 1, maxSeconds: 8 },
  executor: { settleMs: 5, stopMarginMs: 1_000, concurrency: 32 },
  // A breaker that opens after a few failures in a row and probes again within seconds, so the
  // outage mix sees it open and close in a short run.
  breaker: { failureThreshold: 3, openMs: 2_000, probeLeaseMs: 2_000 },
  sensitivity: {
    teams: {},
    projects: {
      [TEAM]: Object.fromEntries(MIXES.map((m) => [restrictedProject(m), 'restricted' as const])),
    },
  },
};
/** Short function timeouts (and leases), so a dead worker is taken over within seconds. */
const TIME_SCALE = 0.02;

/** The restricted endpoint's simulator and the public fallback, beside the pipeline's own. */
interface Providers {
  restricted: SimHandle;
  fallback: FallbackHost;
}

async function startPipeline(
  outOfProcess: boolean,
  clock: Clock,
  providers?: Providers,
  dynamodb?: ChaosOptions['dynamodb'],
): Promise<LocalPipeline> {
  return startLocalPipeline({
    ports: { s3Sqs: 0, dynamodb: 0 },
    ...(dynamodb ?? {}),
    configPath: false,
    clock,
    timeScale: TIME_SCALE,
    concurrency: { planner: 2, worker: 4, finalize: 2 },
    sim: { timeScale: 0, constructionDelayMs: 0, seed: 7 },
    settings: PIPELINE_SETTINGS,
    ...(outOfProcess ? { outOfProcess: ['worker'] as const } : {}),
    ...(providers
      ? {
          endpoints: {
            restricted: {
              baseURL: providers.restricted.url,
              apiKey: providers.restricted.options.apiKeys[0] ?? '',
            },
          },
          fallbacks: {
            public: [
              {
                name: FALLBACK_ENDPOINT,
                baseURL: providers.fallback.url,
                apiKey: providers.fallback.apiKey,
                clearedFor: 'public' as const,
                model: providers.fallback.model,
                userIdField: 'user' as const,
              },
            ],
          },
        }
      : {}),
  });
}

/** Runs the campaign; `onMix` reports each mix as it ends. */
export async function runChaos(options: ChaosOptions): Promise<MixResult[]> {
  const results: MixResult[] = [];
  const inProcess = options.mixes.filter((m) => !m.sigkill);
  const killed = options.mixes.filter((m) => m.sigkill);
  // One clock for handlers, client and simulators; the campaign runs in real time.
  const clock: Clock = { now: () => new Date() };
  for (const [mixes, outOfProcess] of [
    [inProcess, false],
    [killed, true],
  ] as const) {
    if (mixes.length === 0) continue;
    // The in-process pipeline has a restricted endpoint of its own and a public fallback.
    const providers = outOfProcess
      ? undefined
      : {
          restricted: await startSimulator({
            port: 0,
            timeScale: 0,
            constructionDelayMs: 0,
            seed: 8,
            clock: () => clock.now().getTime(),
          }),
          fallback: await startFallbackHost({ clock: () => clock.now().getTime() }),
        };
    const pipeline = await startPipeline(
      outOfProcess,
      clock,
      providers,
      outOfProcess ? undefined : options.dynamodb,
    );
    const sim = pipeline.sim as SimHandle;
    const realLlm = pipeline.deps.llm;
    const realLedger = pipeline.deps.ledger;
    const ctx: MixContext = {
      pipeline,
      sim,
      realLlm,
      ...(providers ?? {}),
      timeScale: TIME_SCALE,
      startWorker: () => startWorkerProcess(pipeline, sim),
    };
    try {
      if (options.mutation === 'answered-as-failed') plantAnsweredAsFailed(pipeline);
      // An unreported first run of the same size, so the baseline is not the one that pays for
      // a cold start (the first mix ran about twice as slow as the same mix run later).
      await runMix(
        ctx,
        {
          name: 'warm-up',
          description: '',
          ...(outOfProcess ? { sigkill: { kills: 0, everyMs: 0 } } : {}),
        },
        { jobs: options.warmupJobs ?? options.jobs },
      );
      for (const mix of mixes) {
        const result = await runMix(ctx, mix, options);
        results.push(result);
        options.onMix?.(result);
      }
    } finally {
      pipeline.deps.llm = realLlm;
      pipeline.deps.ledger = realLedger;
      await pipeline.stop();
      await providers?.restricted.close();
      await providers?.fallback.close();
    }
  }
  return results;
}

/**
 * The mutation an audit made: every answered job is recorded as failed (its billed response is
 * recorded, the job ended `failed` instead of `succeeded`). A campaign that counts outputs and
 * honest reasons must report those inputs lost.
 */
function plantAnsweredAsFailed(pipeline: LocalPipeline): void {
  const { deps } = pipeline;
  const ledger = deps.ledger;
  deps.ledger = Object.assign(Object.create(ledger) as typeof ledger, {
    recordBilledResponse: async (input: Parameters<typeof ledger.recordBilledResponse>[0]) => {
      const { job, ...rest } = input;
      const out = await ledger.recordBilledResponse(rest);
      if (job) {
        const { team, batchId, jobId } = input.record;
        await deps.jobs.endJob(
          { team, batchId },
          jobId,
          {
            state: 'failed',
            error: { code: 'error', reason: 'the answer was recorded as failed' },
          },
          { now: deps.clock.now(), owner: job.owner },
        );
      }
      return { ...out, jobUpdated: false };
    },
  });
}

/** The step number of a chaos input named in a request's last message, if any. */

/** Starts the worker in a child process over the pipeline's emulators and simulator. */
async function startWorkerProcess(pipeline: LocalPipeline, sim: SimHandle): Promise<ChildProcess> {
  const { runtime } = pipeline;
  const config: ChaosWorkerConfig = {
    endpoints: { s3Sqs: runtime.endpoints.s3Sqs, dynamodb: runtime.endpoints.dynamodb },
    region: runtime.emulators.region,
    resources: runtime.resources,
    provider: { baseURL: sim.url, apiKey: sim.options.apiKeys[0] ?? '' },
    settings: PIPELINE_SETTINGS,
    timeScale: TIME_SCALE,
    concurrency: 4,
  };
  const child = fork(fileURLToPath(new URL('./chaos-worker.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, [CHAOS_WORKER_ENV]: JSON.stringify(config) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) =>
      reject(new Error(`the worker process exited (${code}) before it was ready`)),
    );
  });
  child.removeAllListeners('exit');
  return child;
}

async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('chaos')
    .description('Fault campaign over the whole local pipeline')
    .option('--jobs <n>', 'source files (jobs) per mix', (v) => Number.parseInt(v, 10), 500)
    .option('--warmup-jobs <n>', 'jobs of the unreported first run (default: --jobs)', (v) =>
      Number.parseInt(v, 10),
    )
    .option('--mixes <list>', `mixes to run (${MIXES.map((m) => m.name).join(',')})`)
    .option(
      '--mutation <name>',
      `plant a fault in the product to prove the campaign catches it (${MUTATIONS.join(',')})`,
    )
    .option(
      '--dynamodb-endpoint <url>',
      'use a running DynamoDB Local (tables under a fresh prefix) instead of starting one',
    )
    .option('--json', 'print one JSON array instead of a table')
    .parse([...argv], { from: 'user' });
  const flags = program.opts<{
    jobs: number;
    warmupJobs?: number;
    mixes?: string;
    mutation?: string;
    dynamodbEndpoint?: string;
    json?: boolean;
  }>();
  const names = flags.mixes?.split(',') ?? MIXES.map((m) => m.name);
  const unknown = names.filter((n) => !MIXES.some((m) => m.name === n));
  if (unknown.length > 0) program.error(`unknown mix(es): ${unknown.join(', ')}`);
  if (flags.mutation !== undefined && !(MUTATIONS as readonly string[]).includes(flags.mutation))
    program.error(`unknown mutation: ${flags.mutation}`);
  const mixes = MIXES.filter((m) => names.includes(m.name));
  const results = await runChaos({
    jobs: flags.jobs,
    ...(flags.warmupJobs !== undefined ? { warmupJobs: flags.warmupJobs } : {}),
    ...(flags.dynamodbEndpoint
      ? {
          dynamodb: {
            dynamodbEndpoint: flags.dynamodbEndpoint,
            tablePrefix: `chaos${randomBytes(4).toString('hex')}-`,
          },
        }
      : {}),
    mixes,
    ...(flags.mutation ? { mutation: flags.mutation as Mutation } : {}),
    onMix: (r) =>
      process.stderr.write(
        `${r.mix}: ${r.outputs} outputs, ${r.failedHonestly} failed honestly, ${r.lost} lost, provider billed ${r.provider.billedRequests} (${r.provider.billedTwiceForAnInput} twice for an input), ledger ${r.ledgerMatches ? '=' : '!='} bill, ${(r.elapsedMs / 1000).toFixed(0)} s\n`,
      ),
  });
  process.stdout.write(
    flags.json
      ? `${JSON.stringify(results, null, 2)}\n`
      : `${table(results)}\n${outageReport(results)}\n`,
  );
  if (
    results.some((r) =>
      mixFailed(
        r,
        MIXES.find((m) => m.name === r.mix),
      ),
    )
  )
    process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
