/**
 * The fault campaign: the whole local pipeline (emulators, the real handlers, the simulator)
 * runs the same workload under one fault mix after another, and each mix is judged on what a
 * platform owner cares about: every input has an output object or a failure with an honest
 * reason (not one of the faults injected, which the pipeline should have ridden out), every call
 * the provider billed is in the ledger (exactly, by its response id, or as an estimate that is
 * an upper bound of what the provider billed for it), how many requests the provider billed more
 * than once, and how much later batches finish than without faults.
 *
 *   npm run chaos -- [--jobs 500] [--mixes baseline,errors,...] [--json]
 *
 * Workload: `--jobs` distinct source files, 25 to a project, dropped under
 * intake/<team>/<project>/docs/ (one drop, so one batch, per project). Every mix starts from
 * empty tables, an empty simulator and drained queues, on one set of emulators.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Command } from 'commander';
import {
  type LocalPipeline,
  type LocalPipelineOptions,
  startLocalPipeline,
} from '../local/pipeline';
import { recreateTables } from '../local/runtime/resources';
import type { SimBilledCall, SimConfigurePatch, SimHandle } from '../local/sim/server';
import type { Clock } from '../shared/clock';
import { isJobErrorCode, type JobErrorCode, REJECTION_CODES } from '../shared/job-errors';
import type { LlmClient } from '../shared/llm/client';
import type { JobItem } from '../shared/ports/jobs';
import { WARMUP_JOB_ID } from '../shared/ports/ledger';
import { FUNCTIONS } from '../shared/resources';
import { TERMINAL_STATES } from '../shared/types';
import { CHAOS_WORKER_ENV, type ChaosWorkerConfig } from './chaos-worker';

// As the CLI does (packages/cli/bin.js): the SDK's notice is about later releases than the pinned ones.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** What a mix does to the pipeline. */
export interface Mix {
  name: string;
  description: string;
  /** Faults of the simulated provider during the mix. */
  sim?: SimConfigurePatch;
  /**
   * The worker loses every Nth billed job answer: its call never returns (a worker frozen or
   * killed between the answer and the ledger, in-process).
   */
  crashEvery?: number;
  /**
   * The worker runs in a child process, killed with SIGKILL `kills` times while calls are in
   * flight (every `everyMs` at the soonest), and started again each time.
   */
  sigkill?: { kills: number; everyMs: number };
  /** Every S3 notification of a dropped file is delivered twice. */
  duplicateEvents?: boolean;
  /** The work queue's visibility is 1 s: messages are delivered again while they run. */
  redeliverWork?: boolean;
  /** Every file is dropped twice, 100 ms apart. */
  dropTwice?: boolean;
}

export const MIXES: readonly Mix[] = [
  { name: 'baseline', description: 'no faults' },
  {
    name: 'errors',
    description: '20% of requests answer 429, 500 or 503',
    sim: { faults: { rate429: 0.07, rate500: 0.07, rate503: 0.06 } },
  },
  {
    name: 'resets',
    description: '10% of connections reset mid-answer',
    sim: { faults: { resetRate: 0.1 } },
  },
  {
    name: 'stalls',
    description: 'every request held 1.5 s with keep-alive lines',
    sim: { faults: { stallMs: 1_500 } },
  },
  {
    name: 'lost-answers',
    description: 'every 50th billed answer never reaches the worker (in-process)',
    crashEvery: 50,
  },
  {
    name: 'crashes',
    description: 'the worker process killed with SIGKILL 4 times while calls are in flight',
    sigkill: { kills: 4, everyMs: 3_000 },
  },
  {
    name: 'duplicate-events',
    description: 'every S3 notification delivered twice',
    duplicateEvents: true,
  },
  {
    name: 'redelivered-work',
    description: 'work messages delivered again while they run',
    redeliverWork: true,
  },
  { name: 'drop-twice', description: 'every file dropped twice, 100 ms apart', dropTwice: true },
];

/**
 * Failure codes that name a cause a person can act on and that no injected fault produces:
 * a failure with one of these is an honest outcome. Any other failure of the campaign (the
 * provider's errors, resets, time-outs, attempts run out, an unnamed error) is an injected
 * transient fault the pipeline should have ridden out, and its input counts as lost.
 */
export const HONEST_FAILURE_CODES: ReadonlySet<JobErrorCode> = new Set<JobErrorCode>([
  'budget',
  'no_endpoint',
  'missing',
  'deadline',
  'BadRequestError',
  'AuthenticationError',
  'InsufficientBalanceError',
  'InvalidParametersError',
]);

/** Whether a job's failure is honest: an input rejected for what it is, or a code above. */
function honestFailure(job: JobItem): boolean {
  const code = job.error?.code;
  if (!isJobErrorCode(code)) return false;
  return HONEST_FAILURE_CODES.has(code) || (REJECTION_CODES as readonly string[]).includes(code);
}

/** One mix's verdict. */
export interface MixResult {
  mix: string;
  description: string;
  inputs: number;
  /** Inputs with an output object (succeeded or reused). */
  outputs: number;
  /** Inputs without an output that ended failed, skipped or expired with an honest reason. */
  failedHonestly: number;
  /**
   * Inputs with neither: no job, no output object where one was recorded, or a failure whose
   * reason is an injected transient fault; plus inputs whose answer the provider billed and
   * delivered but that ended failed.
   */
  lost: number;
  /** Why the lost inputs were lost (a code, `no output object`, `no job`, ...), with counts. */
  lostReasons: Record<string, number>;
  /** Extra answers the worker received for inputs already answered (duplicate work). */
  billedTwice: number;
  /**
   * What the provider billed against what the ledger holds: requests the provider billed more
   * than once for the same input, calls billed and not recorded exactly (each must be covered by
   * an estimate that is an upper bound), and estimates for calls the provider never billed.
   */
  provider: {
    billedRequests: number;
    recordedExactly: number;
    recordedAsEstimates: number;
    /** Job requests billed again for an input already billed (crashes make these). */
    billedTwiceForAnInput: number;
    /** Calls the provider billed that no exact record holds. */
    billedNotRecorded: number;
    /** Of those, calls whose client was gone when the answer was ready (billed anyway). */
    billedAbandoned: number;
    /** Estimates with no provider call behind them (a worker died before its call got out). */
    estimatesWithoutBill: number;
    /** Billed-unrecorded calls whose estimate is lower than what the provider billed. */
    estimatesBelowBill: number;
    /** Billed-unrecorded calls with no estimate at all. */
    uncovered: number;
  };
  /** Answers billed by the provider and lost with a dying worker (in-process mix). */
  crashed: number;
  /** SIGKILLs sent, and calls in flight at each. */
  kills: { count: number; inFlightAtKill: number[] };
  sim: { requests: number; costNanoUsd: number };
  ledger: {
    requests: number;
    costNanoUsd: number;
    estimatedRequests: number;
    estimatedCostNanoUsd: number;
  };
  /**
   * Every exact record is a call the provider billed, at exactly its bill, and every call
   * billed and not recorded exactly is covered by an estimate at least as large.
   */
  ledgerMatches: boolean;
  /** Per batch, from its first drop to its summary. */
  completionMs: { p50: number; p95: number };
  elapsedMs: number;
}

const TEAM = 'chaos';
const FILES_PER_PROJECT = 25;

function source(i: number): string {
  return `export function step${i}(input: number): number {\n  // step ${i} of the chaos workload\n  return input * ${i + 1} + ${i % 7};\n}\n`;
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0
    ? 0
    : (sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0);

/** Faults planted in the product itself, to prove the campaign sees them. */
export const MUTATIONS = ['answered-as-failed'] as const;
export type Mutation = (typeof MUTATIONS)[number];

export interface ChaosOptions {
  jobs: number;
  mixes: readonly Mix[];
  timeoutMs?: number;
  /** Plants a fault in the product (in-process mixes): the campaign must then fail. */
  mutation?: Mutation;
  onMix?: (r: MixResult) => void;
}

/** Whether a mix's result breaks a promise of docs/reliability.md. */
export function mixFailed(r: MixResult, mix?: Mix): boolean {
  const crashes = mix ? mix.crashEvery !== undefined || mix.sigkill !== undefined : true;
  return (
    r.lost > 0 ||
    !r.ledgerMatches ||
    // Without crashes nothing may be billed twice; a crash can make the provider bill twice.
    (!crashes && (r.billedTwice > 0 || r.provider.billedTwiceForAnInput > 0))
  );
}

const PIPELINE_SETTINGS: LocalPipelineOptions['settings'] = {
  maxOutputTokens: { docs: 256, tests: 256 },
  retryBackoff: { minSeconds: 1, maxSeconds: 8 },
  executor: { settleMs: 5, stopMarginMs: 1_000, concurrency: 32 },
};
/** Short function timeouts (and leases), so a dead worker is taken over within seconds. */
const TIME_SCALE = 0.02;

async function startPipeline(outOfProcess: boolean): Promise<LocalPipeline> {
  // One clock for handlers, client and simulator; the campaign runs in real time.
  const clock: Clock = { now: () => new Date() };
  return startLocalPipeline({
    ports: { s3Sqs: 0, dynamodb: 0 },
    configPath: false,
    clock,
    timeScale: TIME_SCALE,
    concurrency: { planner: 2, worker: 4, finalize: 2 },
    sim: { timeScale: 0, constructionDelayMs: 0, seed: 7 },
    settings: PIPELINE_SETTINGS,
    ...(outOfProcess ? { outOfProcess: ['worker'] as const } : {}),
  });
}

/** Runs the campaign; `onMix` reports each mix as it ends. */
export async function runChaos(options: ChaosOptions): Promise<MixResult[]> {
  const results: MixResult[] = [];
  const inProcess = options.mixes.filter((m) => !m.sigkill);
  const killed = options.mixes.filter((m) => m.sigkill);
  for (const [mixes, outOfProcess] of [
    [inProcess, false],
    [killed, true],
  ] as const) {
    if (mixes.length === 0) continue;
    const pipeline = await startPipeline(outOfProcess);
    const sim = pipeline.sim as SimHandle;
    const realLlm = pipeline.deps.llm;
    const realLedger = pipeline.deps.ledger;
    try {
      if (options.mutation === 'answered-as-failed') plantAnsweredAsFailed(pipeline);
      // An unreported first run of the same size, so the baseline is not the one that pays for
      // a cold start (the first mix ran about twice as slow as the same mix run later).
      await runMix(
        pipeline,
        sim,
        realLlm,
        {
          name: 'warm-up',
          description: '',
          ...(outOfProcess ? { sigkill: { kills: 0, everyMs: 0 } } : {}),
        },
        options,
      );
      for (const mix of mixes) {
        const result = await runMix(pipeline, sim, realLlm, mix, options);
        results.push(result);
        options.onMix?.(result);
      }
    } finally {
      pipeline.deps.llm = realLlm;
      pipeline.deps.ledger = realLedger;
      await pipeline.stop();
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
function inputOf(messages: readonly { content: string }[]): number | undefined {
  const m = /src\/step(\d+)\.ts\b/.exec(messages.at(-1)?.content ?? '');
  return m ? Number(m[1]) : undefined;
}

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

async function runMix(
  pipeline: LocalPipeline,
  sim: SimHandle,
  realLlm: LlmClient,
  mix: Mix,
  options: { jobs: number; timeoutMs?: number },
): Promise<MixResult> {
  const { runtime, deps } = pipeline;
  // A fresh start: nothing of the last mix runs on, every table and the simulator empty.
  deps.llm = realLlm;
  await runtime.drain();
  await recreateTables(runtime.clients, runtime.resources.tables);
  sim.reset();
  // Every call the provider billed, as it billed it.
  const calls: SimBilledCall[] = [];
  sim.configure({
    faults: { rate429: 0, rate500: 0, rate503: 0, resetRate: 0, stallMs: 0, ...mix.sim?.faults },
    onBilled: (call) => calls.push(call),
    // A killed worker's calls are billed once the provider has done the work, as a real one
    // bills them; answers take time, so that calls are in flight when the worker dies.
    billAbandoned: mix.sigkill !== undefined,
    timeScale: mix.sigkill ? 0.05 : 0,
  });
  const workVisibility = mix.redeliverWork
    ? 1
    : runtime.resources.queues.work.visibilityTimeoutSeconds;
  // A dead worker's message comes back within seconds. A killed process's comes back after its
  // lease has run out, as on AWS (a message's visibility, six function timeouts, outlasts the
  // lease of one): the worker that receives it takes the jobs over at once.
  const leaseSeconds = Math.ceil(FUNCTIONS.worker.timeoutSeconds * TIME_SCALE + 2);
  const crashVisibility = mix.sigkill ? leaseSeconds : mix.crashEvery ? 2 : workVisibility;
  await runtime.clients.sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: runtime.resources.queues.work.url,
      Attributes: { VisibilityTimeout: String(Math.min(workVisibility, crashVisibility)) },
    }),
  );

  // Every job answer the worker received, by request, and the ones lost with a dying worker.
  const delivered = new Map<string, number>();
  let crashed = 0;
  let billedAnswers = 0;
  deps.llm = {
    complete: async (request, callOptions) => {
      const isJob = request.maxTokens !== 1;
      const response = await realLlm.complete(request, callOptions);
      if (!isJob) return response;
      billedAnswers++;
      if (mix.crashEvery && billedAnswers % mix.crashEvery === 0) {
        crashed++;
        return new Promise(() => {});
      }
      const key = JSON.stringify([request.model, request.messages, request.maxTokens]);
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
      return response;
    },
  };

  // The worker process, killed while calls are in flight and started again.
  let worker = mix.sigkill ? await startWorkerProcess(pipeline, sim) : undefined;
  const kills: number[] = [];
  let killing = true;
  const killer = (async () => {
    const plan = mix.sigkill;
    if (!plan) return;
    while (killing && kills.length < plan.kills) {
      await sleep(plan.everyMs);
      // Wait for many calls in flight (a fan-out, not a lone warm-up; a minute at most, then
      // any), then kill without warning.
      const waitUntil = Date.now() + 60_000;
      while (killing && sim.inFlight() < 8 && Date.now() < waitUntil) await sleep(20);
      while (killing && sim.inFlight() === 0) await sleep(20);
      if (!killing || !worker) break;
      kills.push(sim.inFlight());
      worker.kill('SIGKILL');
      worker = await startWorkerProcess(pipeline, sim);
    }
  })();

  const started = Date.now();
  const projects = Math.ceil(options.jobs / FILES_PER_PROJECT);
  const inputs: string[] = [];
  const dropStarted = new Map<string, number>();
  const put = (key: string, body: string) =>
    runtime.clients.s3.send(
      new PutObjectCommand({ Bucket: runtime.resources.bucket, Key: key, Body: body }),
    );
  for (let p = 0; p < projects; p++) {
    const project = `${mix.name}-p${p}`;
    dropStarted.set(project, Date.now());
    const count = Math.min(FILES_PER_PROJECT, options.jobs - p * FILES_PER_PROJECT);
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const n = p * FILES_PER_PROJECT + i;
        const key = `intake/${TEAM}/${project}/docs/src/step${n}.ts`;
        inputs.push(key);
        await put(key, source(n));
        if (mix.dropTwice) {
          await sleep(100);
          await put(key, source(n));
        }
      }),
    );
    if (mix.duplicateEvents) await duplicateNotifications(pipeline, project);
  }

  // Wait until every input has ended in some batch, or the time is up.
  const timeoutMs = options.timeoutMs ?? 600_000;
  let state = await inputStates(pipeline, inputs);
  let reported = Date.now();
  while (Date.now() - started < timeoutMs) {
    state = await inputStates(pipeline, inputs);
    if (state.unended === 0 && queuesIdle(pipeline) && sim.inFlight() === 0) break;
    if (Date.now() - reported >= 15_000) {
      reported = Date.now();
      process.stderr.write(
        `  ${mix.name}: ${inputs.length - state.unended}/${inputs.length} inputs ended, ${calls.length} calls billed, ${kills.length} kills\n`,
      );
    }
    await sleep(1_000);
  }
  killing = false;
  await killer;
  worker?.kill('SIGTERM');

  const simTotals = sim.usage().totals;
  const month = deps.clock.now().toISOString().slice(0, 7);
  const rollups = await deps.ledger.rollups(month);
  const sum = (f: 'requests' | 'costNanoUsd' | 'estimatedRequests' | 'estimatedCostNanoUsd') =>
    rollups.filter((r) => r.team === TEAM).reduce((n, r) => n + r[f], 0);
  const ledger = {
    requests: sum('requests'),
    costNanoUsd: sum('costNanoUsd'),
    estimatedRequests: sum('estimatedRequests'),
    estimatedCostNanoUsd: sum('estimatedCostNanoUsd'),
  };
  // The tables are recreated for every mix: every record of the team is this mix's, whatever
  // batch (finished or not) it belongs to.
  // The batches' AWS lines are estimates of AWS's bill, not provider responses: left out.
  const records = (await deps.ledger.records(TEAM, month)).filter((r) => r.purpose !== 'aws');

  // Per call: the exact records by response id; what is left is billed and not recorded.
  const byId = new Map(calls.map((c) => [c.id, c]));
  let exactMatch = true;
  const exactIds = new Set<string>();
  for (const r of records) {
    if (r.estimated) continue;
    exactIds.add(r.responseId);
    const call = byId.get(r.responseId);
    if (!call || call.usage.costNanoUsd !== r.costNanoUsd) exactMatch = false;
  }
  const unrecorded = calls.filter((c) => !exactIds.has(c.id));
  // Each such call needs an estimate of the same input (a warm-up's, for a warm-up) at least as
  // large as what the provider billed; an estimate covers one call.
  const estimates = records.filter((r) => r.estimated);
  const estimateInput = (jobId: string, batchId: string) =>
    jobId === WARMUP_JOB_ID ? 'warmup' : state.inputOfJob.get(`${batchId}/${jobId}`);
  const pool = new Map<string, number[]>();
  for (const e of estimates) {
    const key = String(estimateInput(e.jobId, e.batchId));
    pool.set(key, [...(pool.get(key) ?? []), e.costNanoUsd]);
  }
  let below = 0;
  let uncovered = 0;
  for (const call of [...unrecorded].sort((a, b) => b.usage.costNanoUsd - a.usage.costNanoUsd)) {
    const n = inputOf(call.messages);
    const key = call.maxTokens === 1 || n === undefined ? 'warmup' : `src/step${n}.ts`;
    const candidates = (pool.get(key) ?? []).sort((a, b) => b - a);
    const best = candidates.shift();
    pool.set(key, candidates);
    if (best === undefined) uncovered++;
    else if (best < call.usage.costNanoUsd) below++;
  }
  const estimatesWithoutBill = [...pool.values()].reduce((n, l) => n + l.length, 0);
  const perInput = new Map<number, number>();
  for (const c of calls) {
    const n = inputOf(c.messages);
    if (n !== undefined && c.maxTokens !== 1) perInput.set(n, (perInput.get(n) ?? 0) + 1);
  }
  // The campaign's own inputs: a file dropped twice is one input.
  const answered = new Set(
    calls.filter((c) => !c.abandoned && c.maxTokens !== 1).map((c) => inputOf(c.messages)),
  );
  const provider = {
    billedRequests: calls.length,
    recordedExactly: exactIds.size,
    recordedAsEstimates: estimates.length,
    billedTwiceForAnInput: [...perInput.values()].reduce((n, c) => n + Math.max(0, c - 1), 0),
    billedNotRecorded: unrecorded.length,
    billedAbandoned: unrecorded.filter((c) => c.abandoned).length,
    estimatesWithoutBill,
    estimatesBelowBill: below,
    uncovered,
  };
  const ledgerMatches =
    exactMatch &&
    below === 0 &&
    uncovered === 0 &&
    ledger.requests === records.length &&
    ledger.estimatedRequests === estimates.length &&
    calls.length === simTotals.requests;

  // Output-based: every input has an output object or an honest failure.
  const lostReasons: Record<string, number> = {};
  const lose = (why: string) => {
    lostReasons[why] = (lostReasons[why] ?? 0) + 1;
  };
  let outputs = 0;
  let failedHonestly = 0;
  for (const key of inputs) {
    const jobs = state.jobsByInput.get(key) ?? [];
    const n = Number(/step(\d+)\.ts$/.exec(key)?.[1]);
    const done = jobs.filter((j) => j.state === 'succeeded' || j.state === 'reused');
    let hasOutput = false;
    for (const j of done)
      if ((await deps.objects.size(j.outputKey)) !== undefined) hasOutput = true;
    if (hasOutput) {
      outputs++;
      continue;
    }
    if (jobs.length === 0) lose('no job');
    else if (done.length > 0) lose('no output object');
    else if (answered.has(n))
      lose(`answered, yet ${jobs[0]?.state} (${jobs[0]?.error?.code ?? 'no code'})`);
    else if (jobs.every((j) => j.state === 'pending' || j.state === 'running')) lose('never ended');
    else if (jobs.some((j) => honestFailure(j))) failedHonestly++;
    else lose(jobs.find((j) => j.error)?.error?.code ?? 'failed without a reason');
  }
  const lost = Object.values(lostReasons).reduce((a, b) => a + b, 0);
  const billedTwice = [...delivered.values()].reduce((n, c) => n + Math.max(0, c - 1), 0);
  const completions = state.done
    .map((b) => b.doneAt - (dropStarted.get(b.project) ?? started))
    .sort((a, b) => a - b);
  return {
    mix: mix.name,
    description: mix.description,
    inputs: inputs.length,
    outputs,
    failedHonestly,
    lost,
    lostReasons,
    billedTwice,
    provider,
    crashed,
    kills: { count: kills.length, inFlightAtKill: kills },
    sim: { requests: simTotals.requests, costNanoUsd: simTotals.costNanoUsd },
    ledger,
    ledgerMatches,
    completionMs: { p50: percentile(completions, 0.5), p95: percentile(completions, 0.95) },
    elapsedMs: Date.now() - started,
  };
}

/** Sends every S3 notification already delivered for a project's drop once more. */
async function duplicateNotifications(pipeline: LocalPipeline, project: string): Promise<void> {
  const { runtime } = pipeline;
  await runtime.flushS3Events();
  const seen = runtime.emulators.fauxqs.spy
    .getAllMessages()
    .filter(
      (m) =>
        m.service === 'sqs' &&
        m.status === 'published' &&
        m.queueName === runtime.resources.queues.intake.name &&
        m.body.includes(`intake/${TEAM}/${project}/`),
    );
  for (const m of seen)
    if (m.service === 'sqs')
      await runtime.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: runtime.resources.queues.intake.url,
          MessageBody: m.body,
        }),
      );
}

/** No message waits, is delayed or is in flight on any queue: nothing more will happen. */
function queuesIdle(pipeline: LocalPipeline): boolean {
  const { runtime } = pipeline;
  return Object.values(runtime.resources.queues).every((q) => {
    const inspected = runtime.emulators.fauxqs.inspectQueue(q.name);
    if (!inspected) return true;
    const m = inspected.messages;
    return m.ready.length + m.delayed.length + m.inflight.length === 0;
  });
}

/**
 * Where every input stands: its jobs (in every batch of the team), the batches that are done,
 * and how many inputs have no job in a terminal state yet.
 */
async function inputStates(pipeline: LocalPipeline, inputs: readonly string[]) {
  const { deps } = pipeline;
  const summaries = (await deps.objects.list(`results/${TEAM}/`)).filter((k) =>
    k.endsWith('summary.json'),
  );
  const ended = new Set<string>();
  const done: { project: string; doneAt: number }[] = [];
  const jobsByInput = new Map<string, JobItem[]>();
  const inputOfJob = new Map<string, string>();
  const batches = new Set<string>();
  for (const key of summaries) {
    const ref = { team: TEAM, batchId: key.split('/').at(-2) as string };
    const batch = await deps.jobs.getBatch(ref);
    if (batch?.status !== 'done') continue;
    batches.add(ref.batchId);
    done.push({ project: batch.project, doneAt: Date.parse(batch.doneAt ?? batch.createdAt) });
    for (const job of await deps.jobs.listJobs(ref)) {
      if ((TERMINAL_STATES as readonly string[]).includes(job.state)) ended.add(job.inputKey);
      jobsByInput.set(job.inputKey, [...(jobsByInput.get(job.inputKey) ?? []), job]);
      const step = /src\/step\d+\.ts$/.exec(job.inputKey)?.[0];
      if (step) inputOfJob.set(`${ref.batchId}/${job.jobId}`, step);
    }
  }
  return {
    unended: inputs.filter((k) => !ended.has(k)).length,
    done,
    jobsByInput,
    inputOfJob,
    batches,
  };
}

function table(results: readonly MixResult[]): string {
  const base = results.find((r) => r.mix === 'baseline');
  const rows = results.map((r) => {
    const ratio = (x: number, b?: number) => (b ? `${(x / b).toFixed(2)}x` : '-');
    const p = r.provider;
    return [
      r.mix,
      String(r.inputs),
      String(r.outputs),
      String(r.failedHonestly),
      r.lost === 0
        ? '0'
        : `${r.lost} (${Object.entries(r.lostReasons)
            .map(([why, n]) => `${n} ${why}`)
            .join(', ')})`,
      `${p.billedRequests} / ${p.recordedExactly} + ${p.recordedAsEstimates}`,
      String(p.billedTwiceForAnInput),
      `${p.billedNotRecorded} (${p.billedAbandoned} abandoned)`,
      String(p.estimatesWithoutBill),
      p.estimatesBelowBill + p.uncovered === 0
        ? 'yes'
        : `NO (${p.estimatesBelowBill} below, ${p.uncovered} none)`,
      r.ledgerMatches ? 'yes' : 'NO',
      `$${(r.ledger.costNanoUsd / 1e9).toFixed(4)} / $${(r.sim.costNanoUsd / 1e9).toFixed(4)}`,
      r.kills.count === 0
        ? '-'
        : `${r.kills.count} (${r.kills.inFlightAtKill.join(', ')} in flight)`,
      `${(r.completionMs.p50 / 1000).toFixed(1)} s (${ratio(r.completionMs.p50, base?.completionMs.p50)})`,
      `${(r.completionMs.p95 / 1000).toFixed(1)} s (${ratio(r.completionMs.p95, base?.completionMs.p95)})`,
    ];
  });
  const head = [
    'mix',
    'inputs',
    'outputs',
    'failed (honest)',
    'lost',
    'provider billed / recorded exactly + estimates',
    'provider billed twice',
    'billed, not recorded exactly',
    'estimates without a bill',
    'estimates >= bill',
    'ledger = bill',
    'ledger / provider $',
    'SIGKILLs (calls in flight)',
    'p50',
    'p95',
  ];
  const line = (r: readonly string[]) => `| ${r.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('chaos')
    .description('Fault campaign over the whole local pipeline')
    .option('--jobs <n>', 'source files (jobs) per mix', (v) => Number.parseInt(v, 10), 500)
    .option('--mixes <list>', `mixes to run (${MIXES.map((m) => m.name).join(',')})`)
    .option(
      '--mutation <name>',
      `plant a fault in the product to prove the campaign catches it (${MUTATIONS.join(',')})`,
    )
    .option('--json', 'print one JSON array instead of a table')
    .parse([...argv], { from: 'user' });
  const flags = program.opts<{ jobs: number; mixes?: string; mutation?: string; json?: boolean }>();
  const names = flags.mixes?.split(',') ?? MIXES.map((m) => m.name);
  const unknown = names.filter((n) => !MIXES.some((m) => m.name === n));
  if (unknown.length > 0) program.error(`unknown mix(es): ${unknown.join(', ')}`);
  if (flags.mutation !== undefined && !(MUTATIONS as readonly string[]).includes(flags.mutation))
    program.error(`unknown mutation: ${flags.mutation}`);
  const mixes = MIXES.filter((m) => names.includes(m.name));
  const results = await runChaos({
    jobs: flags.jobs,
    mixes,
    ...(flags.mutation ? { mutation: flags.mutation as Mutation } : {}),
    onMix: (r) =>
      process.stderr.write(
        `${r.mix}: ${r.outputs} outputs, ${r.failedHonestly} failed honestly, ${r.lost} lost, provider billed ${r.provider.billedRequests} (${r.provider.billedTwiceForAnInput} twice for an input), ledger ${r.ledgerMatches ? '=' : '!='} bill, ${(r.elapsedMs / 1000).toFixed(0)} s\n`,
      ),
  });
  process.stdout.write(
    flags.json ? `${JSON.stringify(results, null, 2)}\n` : `${table(results)}\n`,
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
