/**
 * The fault campaign: the whole local pipeline (emulators, the real handlers, the simulator)
 * runs the same workload under one fault mix after another, and each mix is judged on what a
 * platform owner cares about: no job lost, no call billed twice, the ledger equal to what the
 * provider billed (crash-window calls present as marked estimates), and how much later batches
 * finish than without faults.
 *
 *   npm run chaos -- [--jobs 500] [--mixes baseline,errors,...] [--json]
 *
 * Workload: `--jobs` distinct source files, 25 to a project, dropped under
 * intake/<team>/<project>/docs/ (one drop, so one batch, per project). Every mix starts from
 * empty tables, an empty simulator and drained queues, on one set of emulators.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Command } from 'commander';
import { type LocalPipeline, startLocalPipeline } from '../local/pipeline';
import { recreateTables } from '../local/runtime/resources';
import { responseCostNanoUsd } from '../local/sim/models';
import type { SimConfigurePatch, SimHandle } from '../local/sim/server';
import type { Clock } from '../shared/clock';
import type { LlmClient } from '../shared/llm/client';
import { defaultCatalog } from '../shared/pricing/catalog';
import { TERMINAL_STATES } from '../shared/types';

// As the CLI does (packages/cli/bin.js): the SDK's notice is about later releases than the pinned ones.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** What a mix does to the pipeline. */
export interface Mix {
  name: string;
  description: string;
  /** Faults of the simulated provider during the mix. */
  sim?: SimConfigurePatch;
  /** The worker dies right after every Nth billed job response (its answer is lost). */
  crashEvery?: number;
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
    name: 'crashes',
    description: 'the worker dies after every 50th billed answer',
    crashEvery: 50,
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

/** One mix's verdict. */
export interface MixResult {
  mix: string;
  description: string;
  inputs: number;
  /** Inputs that ended in no terminal state in any batch. */
  lost: number;
  /** Extra billed answers of requests already answered and delivered (duplicate work). */
  billedTwice: number;
  /** Answers billed by the provider and lost with a dying worker. */
  crashed: number;
  sim: { requests: number; costNanoUsd: number };
  ledger: {
    requests: number;
    costNanoUsd: number;
    estimatedRequests: number;
    estimatedCostNanoUsd: number;
  };
  /** Ledger equals the provider's bill, except the crash-window calls, all present as estimates. */
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

/** Runs the campaign; `onMix` reports each mix as it ends. */
export async function runChaos(options: {
  jobs: number;
  mixes: readonly Mix[];
  timeoutMs?: number;
  onMix?: (r: MixResult) => void;
}): Promise<MixResult[]> {
  // One clock for handlers, client and simulator; the campaign runs in real time.
  const clock: Clock = { now: () => new Date() };
  const pipeline = await startLocalPipeline({
    ports: { s3Sqs: 0, dynamodb: 0 },
    configPath: false,
    clock,
    // Short function timeouts (and leases), so a dead worker is taken over within seconds.
    timeScale: 0.02,
    concurrency: { planner: 2, worker: 4, finalize: 2 },
    sim: { timeScale: 0, constructionDelayMs: 0, seed: 7 },
    settings: {
      maxOutputTokens: { docs: 256, tests: 256 },
      retryBackoff: { minSeconds: 1, maxSeconds: 8 },
      executor: { settleMs: 5, stopMarginMs: 1_000, concurrency: 32 },
    },
  });
  const sim = pipeline.sim as SimHandle;
  const realLlm = pipeline.deps.llm;
  const results: MixResult[] = [];
  try {
    // An unreported first run of the same size, so the baseline is not the one that pays for a
    // cold start (the first mix ran about twice as slow as the same mix run later).
    await runMix(pipeline, sim, realLlm, { name: 'warm-up', description: '' }, options);
    for (const mix of options.mixes) {
      const result = await runMix(pipeline, sim, realLlm, mix, options);
      results.push(result);
      options.onMix?.(result);
    }
  } finally {
    pipeline.deps.llm = realLlm;
    await pipeline.stop();
  }
  return results;
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
  sim.configure({
    faults: { rate429: 0, rate500: 0, rate503: 0, resetRate: 0, stallMs: 0, ...mix.sim?.faults },
  });
  const workVisibility = mix.redeliverWork
    ? 1
    : runtime.resources.queues.work.visibilityTimeoutSeconds;
  const crashVisibility = mix.crashEvery ? 2 : workVisibility;
  await runtime.clients.sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: runtime.resources.queues.work.url,
      Attributes: { VisibilityTimeout: String(Math.min(workVisibility, crashVisibility)) },
    }),
  );

  // Every billed job answer, by request, and the ones lost with a dying worker.
  const delivered = new Map<string, number>();
  let crashed = 0;
  let crashedCost = 0;
  let billedAnswers = 0;
  deps.llm = {
    complete: async (request, callOptions) => {
      const isJob = request.maxTokens !== 1;
      const response = await realLlm.complete(request, callOptions);
      if (!isJob) return response;
      billedAnswers++;
      if (mix.crashEvery && billedAnswers % mix.crashEvery === 0) {
        crashed++;
        // What the simulator billed for this answer: its usage at the simulator's own price,
        // from its own catalog at the instant it prices with (the request's arrival, or
        // `created`), which the pipeline's sending instant stands for.
        const at =
          sim.options.pricingInstant === 'created' ? response.created * 1000 : response.sentAt;
        crashedCost += responseCostNanoUsd(
          response.model,
          new Date(at),
          response.usage,
          sim.options.catalog ?? defaultCatalog(),
        );
        return new Promise(() => {});
      }
      const key = JSON.stringify([request.model, request.messages, request.maxTokens]);
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
      return response;
    },
  };

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
  let lost = inputs.length;
  let doneBatches: { project: string; doneAt: number }[] = [];
  while (Date.now() - started < timeoutMs) {
    const state = await inputStates(pipeline, inputs);
    lost = state.lost;
    doneBatches = state.done;
    if (lost === 0 && queuesIdle(pipeline)) break;
    await sleep(1_000);
  }

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
  const ledgerMatches =
    ledger.requests === simTotals.requests &&
    ledger.estimatedRequests === crashed &&
    ledger.costNanoUsd - ledger.estimatedCostNanoUsd === simTotals.costNanoUsd - crashedCost;
  const billedTwice = [...delivered.values()].reduce((n, c) => n + Math.max(0, c - 1), 0);
  const completions = doneBatches
    .map((b) => b.doneAt - (dropStarted.get(b.project) ?? started))
    .sort((a, b) => a - b);
  return {
    mix: mix.name,
    description: mix.description,
    inputs: inputs.length,
    lost,
    billedTwice,
    crashed,
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

/** How many inputs have ended in no batch yet, and the batches that are done. */
async function inputStates(pipeline: LocalPipeline, inputs: readonly string[]) {
  const { deps } = pipeline;
  const summaries = (await deps.objects.list(`results/${TEAM}/`)).filter((k) =>
    k.endsWith('summary.json'),
  );
  const ended = new Set<string>();
  const done: { project: string; doneAt: number }[] = [];
  for (const key of summaries) {
    const ref = { team: TEAM, batchId: key.split('/').at(-2) as string };
    const batch = await deps.jobs.getBatch(ref);
    if (batch?.status !== 'done') continue;
    done.push({ project: batch.project, doneAt: Date.parse(batch.doneAt ?? batch.createdAt) });
    for (const job of await deps.jobs.listJobs(ref))
      if ((TERMINAL_STATES as readonly string[]).includes(job.state)) ended.add(job.inputKey);
  }
  return { lost: inputs.filter((k) => !ended.has(k)).length, done };
}

function table(results: readonly MixResult[]): string {
  const base = results.find((r) => r.mix === 'baseline');
  const rows = results.map((r) => {
    const ratio = (x: number, b?: number) => (b ? `${(x / b).toFixed(2)}x` : '-');
    return [
      r.mix,
      String(r.inputs),
      String(r.lost),
      String(r.billedTwice),
      `${r.ledger.requests}/${r.sim.requests}`,
      String(r.ledger.estimatedRequests),
      r.ledgerMatches ? 'yes' : 'NO',
      `${(r.completionMs.p50 / 1000).toFixed(1)} s (${ratio(r.completionMs.p50, base?.completionMs.p50)})`,
      `${(r.completionMs.p95 / 1000).toFixed(1)} s (${ratio(r.completionMs.p95, base?.completionMs.p95)})`,
    ];
  });
  const head = [
    'mix',
    'jobs',
    'lost',
    'billed twice',
    'ledger/sim calls',
    'estimated',
    'ledger = bill',
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
    .option('--json', 'print one JSON array instead of a table')
    .parse([...argv], { from: 'user' });
  const flags = program.opts<{ jobs: number; mixes?: string; json?: boolean }>();
  const names = flags.mixes?.split(',') ?? MIXES.map((m) => m.name);
  const unknown = names.filter((n) => !MIXES.some((m) => m.name === n));
  if (unknown.length > 0) program.error(`unknown mix(es): ${unknown.join(', ')}`);
  const mixes = MIXES.filter((m) => names.includes(m.name));
  const results = await runChaos({
    jobs: flags.jobs,
    mixes,
    onMix: (r) =>
      process.stderr.write(
        `${r.mix}: ${r.lost} lost, ${r.billedTwice} billed twice, ledger ${r.ledgerMatches ? '=' : '!='} bill, ${(r.elapsedMs / 1000).toFixed(0)} s\n`,
      ),
  });
  process.stdout.write(
    flags.json ? `${JSON.stringify(results, null, 2)}\n` : `${table(results)}\n`,
  );
  if (results.some((r) => r.lost > 0 || r.billedTwice > 0 || !r.ledgerMatches))
    process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
