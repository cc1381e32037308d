/**
 * The planner as a whole, at scale: one manifest of N files planned by the real planner
 * (`planIntake`: read the manifest, read every input and the context, look up reuse, store
 * every request, create every job, send the work messages) against the local emulators, with
 * every AWS request delayed by an AWS-like latency and counted. Prints the time, the requests
 * per job, and the memory the planner's process used.
 *
 *   npx tsx bench/planner.ts [--files 2000] [--latency 15-30] [--context-tokens 3000]
 *
 * S3 and SQS run in a child process, so that the objects they hold are not counted in this
 * process's memory; DynamoDB Local is a JVM of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Command, InvalidArgumentError } from 'commander';
import pLimit from 'p-limit';
import { buildPipelineDeps } from '../lambdas/deps';
import { createAwsMeter, meterClient } from '../local/meter';
import { createLocalClients } from '../local/runtime/clients';
import { startDynamoLocal } from '../local/runtime/emulators';
import { ensureLocalResources } from '../local/runtime/resources';
import { fixedClock } from '../shared/clock';
import {
  batchContextKeyFor,
  batchFileKeyFor,
  jobIdFor,
  manifestKeyFor,
  outputKeyFor,
} from '../shared/inputs';
import { planObjectKey, requestSetKeyFor } from '../shared/pipeline/keys';
import { finishShardedBatch, type PlanDecision, planIntake } from '../shared/pipeline/plan';
import { newJobsOf } from '../shared/pipeline/plan/batch';
import { DEFAULT_JOBS_PER_SHARD, parseSettings } from '../shared/pipeline/settings';
import { FUNCTIONS } from '../shared/resources';
import { drawFileTokens, seededRandom, syntheticContext, syntheticFile } from './cache/workload';

// As the CLI does (packages/cli/bin.js): the SDK's notice is about later releases than the pinned ones.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const EMULATOR_FLAG = '--serve-emulator';

/** Child mode: serve S3 and SQS (fauxqs) on a free port and print its URL. */
async function serveEmulator(): Promise<void> {
  const { startFauxqs } = await import('fauxqs');
  const server = await startFauxqs({ port: 0, logger: false });
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.port}` })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

function startEmulatorChild(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, EMULATOR_FLAG], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ url: (JSON.parse(line) as { url: string }).url, child });
    });
    child.on('exit', (code) => reject(new Error(`emulator child exited with ${code}`)));
  });
}

function range(value: string): { min: number; max: number } {
  const m = /^(\d+)(?:-(\d+))?$/.exec(value);
  if (!m) throw new InvalidArgumentError('a number of ms, or a range like 15-30');
  const min = Number(m[1]);
  return { min, max: Number(m[2] ?? min) };
}
function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
}

const mb = (bytes: number) => Math.round(bytes / 1_048_576);

interface Measured {
  wallMs: number;
  cpuMs: number;
  awsCalls: number;
  /** Requests per job, by service and operation. */
  perJob?: Record<string, number>;
  rssBeforeMb: number;
  peakRssMb: number;
  heapBeforeMb: number;
  peakHeapMb: number;
}

/** Runs `fn` under a meter scope, sampling this process's memory every 50 ms. */
async function measure(
  meter: ReturnType<typeof createAwsMeter>,
  caller: string,
  fn: () => Promise<void>,
): Promise<Measured> {
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 50);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  try {
    await meter.scope(caller, fn);
  } finally {
    clearInterval(sampler);
  }
  const wallMs = Math.round(performance.now() - started);
  const cpu = process.cpuUsage(cpuBefore);
  let awsCalls = 0;
  const counts: Record<string, number> = {};
  for (const [service, byOp] of Object.entries(meter.snapshot()[caller] ?? {}))
    for (const [op, t] of Object.entries(byOp ?? {})) {
      counts[`${service}.${op}`] = t.calls;
      awsCalls += t.calls;
    }
  return {
    wallMs,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    awsCalls,
    perJob: counts,
    rssBeforeMb: mb(before.rss),
    peakRssMb: mb(peakRss),
    heapBeforeMb: mb(before.heapUsed),
    peakHeapMb: mb(peakHeap),
  };
}

function describe(m: Measured, jobs: number): string {
  const perJob = Object.entries(m.perJob ?? {})
    .map(([k, n]) => `${k} ${(n / jobs).toFixed(3)}`)
    .join(', ');
  return `${m.wallMs} ms wall (${(m.wallMs / jobs).toFixed(2)} ms a job), ${m.cpuMs} ms CPU, ${m.awsCalls} AWS requests (${perJob}); RSS ${m.rssBeforeMb} -> peak ${m.peakRssMb} MB, heap ${m.heapBeforeMb} -> peak ${m.peakHeapMb} MB`;
}

/**
 * Stores every shard's decisions as shards would have, each job calling the LLM, spread over
 * 200 prefix groups of skewed sizes, and marks every shard done.
 */
async function fakeShardDecisions(
  deps: ReturnType<typeof buildPipelineDeps>,
  ref: { team: string; batchId: string },
  planId: string,
  paths: readonly string[],
  jobs: number,
  shards: number,
): Promise<void> {
  const rnd = seededRandom(7);
  const groups = Array.from({ length: 200 }, (_, g) => ({
    prefixKey: createHash('sha256').update(`group-${g}`).digest('hex'),
    prefixTokens: 800 + Math.floor(rnd() * 6_000),
  }));
  const sorted = [...paths].sort();
  const size = deps.settings.planning.jobsPerShard;
  const limit = pLimit(16);
  await limit.map(
    Array.from({ length: shards }, (_, i) => i),
    async (shard) => {
      const decided = sorted.slice(shard * size, (shard + 1) * size).map((path, i) => {
        const jobId = jobIdFor(ref.batchId, path);
        const group = groups[Math.floor(rnd() ** 2 * groups.length)] ?? groups[0];
        return {
          job: {
            jobId,
            path,
            inputKey: batchFileKeyFor(ref, path),
            outputKey: outputKeyFor(ref.team, 'mono', ref.batchId, 'docs', path),
          },
          decision: {
            kind: 'llm' as const,
            // A set of 50 requests to an object, as decideJobs stores them.
            requestKey: requestSetKeyFor(
              ref,
              createHash('sha256')
                .update(`${shard}/${Math.floor(i / 50)}`)
                .digest('hex')
                .slice(0, 32),
            ),
            requestHash: createHash('sha256').update(path).digest('hex'),
            estimateNanoUsd: 1_000_000,
            prefixKey: group?.prefixKey ?? '',
            prefixTokens: group?.prefixTokens ?? 0,
            uniqueTokens: 200 + Math.floor(rnd() * 4_000),
            model: 'deepseek-flash',
            maxTokens: 2_048,
            sortKey: `${path}\0import { x } from './y';`,
          },
        };
      });
      await deps.objects.put(
        planObjectKey(ref, planId, `decided-${shard}.json`),
        JSON.stringify({ decided, rejections: [] }),
      );
      // As a shard does: its jobs' items, then itself done.
      await deps.jobs.createJobs(
        { ...ref, createdAt: '2026-11-01T12:00:00Z' },
        newJobsOf(
          decided.map((d) => d.job),
          new Map(decided.map((d) => [d.job.jobId, d.decision as PlanDecision])),
        ),
      );
      await deps.jobs.markShardDone(ref, shard);
    },
  );
  if (jobs !== sorted.length) throw new Error('paths and jobs differ');
}

type PlannerOptions = ReturnType<typeof parseOptions>;

function parseOptions() {
  return new Command('planner')
    .description(
      'Plan one manifest of N files with the real planner against latency-delayed emulators',
    )
    .option('--files <n>', 'files in the manifest', positiveInt, 2_000)
    .option('--latency <ms>', 'delay of every AWS request, ms or a range (uniform)', range, {
      min: 15,
      max: 30,
    })
    .option('--context-tokens <n>', 'tokens of the shared context file', positiveInt, 3_000)
    .option('--seed <n>', 'workload seed', positiveInt, 1)
    .option(
      '--jobs-per-shard <n>',
      'sharded: jobs a shard plans (planning.jobsPerShard)',
      positiveInt,
      DEFAULT_JOBS_PER_SHARD,
    )
    .option(
      '--sharded',
      'plan in shards: time the step that cuts the batch and the step that commits it',
    )
    .option(
      '--dynamodb-endpoint <url>',
      'a running DynamoDB Local to use instead of starting one (the tests share theirs)',
    )
    .option('--table-prefix <prefix>', 'put before the table names (with --dynamodb-endpoint)', '')
    .option('--json', 'print one JSON object')
    .parse()
    .opts<{
      files: number;
      latency: { min: number; max: number };
      contextTokens: number;
      seed: number;
      jobsPerShard: number;
      sharded?: boolean;
      dynamodbEndpoint?: string;
      tablePrefix: string;
      json?: boolean;
    }>();
}

/** The workload: a manifest's files and its context, uploaded without latency or counting. */
async function uploadWorkload(
  clients: ReturnType<typeof createLocalClients>,
  bucket: string,
  options: PlannerOptions,
  ref: { team: string; batchId: string },
  paths: readonly string[],
  random: () => number,
): Promise<string> {
  const upload = pLimit(32);
  const put = (key: string, body: string) =>
    clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  await put(
    batchContextKeyFor(ref, 'STYLE.md'),
    syntheticContext('scale', options.contextTokens, () => true, random),
  );
  // Sharded, only the cutting and the commit are timed here: no file is read.
  await Promise.all(
    (options.sharded ? [] : paths).map((path) =>
      upload(() =>
        put(
          batchFileKeyFor(ref, path),
          syntheticFile('typescript', path, drawFileTokens(random), random),
        ),
      ),
    ),
  );
  const manifestKey = manifestKeyFor(ref);
  await put(
    manifestKey,
    JSON.stringify({
      batchId: ref.batchId,
      team: ref.team,
      project: 'mono',
      kind: 'docs',
      files: paths,
      contextFiles: ['STYLE.md'],
      model: 'deepseek-flash',
      createdAt: '2026-11-01T12:00:00Z',
    }),
  );
  return manifestKey;
}

/** Sharded: the shards' decisions stored as a shard does, then the finish step, timed. */
async function measureSharded(
  deps: ReturnType<typeof buildPipelineDeps>,
  meter: ReturnType<typeof createAwsMeter>,
  ref: { team: string; batchId: string },
  paths: string[],
  options: PlannerOptions,
  plan: Measured,
  report: Record<string, unknown>,
  lines: string[],
): Promise<void> {
  const stored = await deps.jobs.getPlan(ref);
  if (!stored) throw new Error('the batch was not sharded');
  // The shards' decisions as a shard stores them, without running the shards (a shard is
  // the whole-batch measurement above at jobsPerShard files): every job calls the LLM.
  await fakeShardDecisions(deps, ref, stored.planId, paths, options.files, stored.shards);
  // Where the commit's time goes: the listing of the stored jobs and the work sends.
  const phases = { listJobsMs: 0, sendMs: 0 };
  const timed =
    <A extends unknown[], R>(key: keyof typeof phases, fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const t = performance.now();
      try {
        return await fn(...a);
      } finally {
        phases[key] += Math.round(performance.now() - t);
      }
    };
  const finishDeps = {
    ...deps,
    jobs: { ...deps.jobs, listJobs: timed('listJobsMs', deps.jobs.listJobs) },
    queues: { ...deps.queues, send: timed('sendMs', deps.queues.send) },
  };
  const finish = await measure(meter, 'finish', async () => {
    const done = await finishShardedBatch(
      { type: 'plan-finish', team: ref.team, batchId: ref.batchId, planId: stored.planId },
      finishDeps,
    );
    if (!done) throw new Error('the finish step did nothing');
  });
  const batch = await deps.jobs.getBatch(ref);
  if (batch?.plannedAt === undefined || batch.total !== options.files)
    throw new Error(`the batch was not committed whole: ${JSON.stringify(batch)}`);
  report.coordinator = {
    ...plan,
    shards: stored.shards,
    jobsPerShard: deps.settings.planning.jobsPerShard,
  };
  report.finish = { ...finish, ...phases, workMessages: batch.workMessages };
  lines.push(
    `coordinator (cut into ${stored.shards} shards of ${deps.settings.planning.jobsPerShard}, stored, sent): ${describe(plan, options.files)}`,
    `finish step (commit ${options.files} decided jobs, send ${batch.workMessages} work messages): ${describe(finish, options.files)}; of it listing the jobs ${phases.listJobsMs} ms, sending the work ${phases.sendMs} ms`,
  );
}

async function main(): Promise<void> {
  const options = parseOptions();
  const emulator = await startEmulatorChild();
  const dynamo = options.dynamodbEndpoint
    ? { endpoint: options.dynamodbEndpoint, stop: async () => undefined }
    : await startDynamoLocal({ startTimeoutMs: 60_000 });
  try {
    const clients = createLocalClients({ s3Sqs: emulator.url, dynamodb: dynamo.endpoint });
    const resources = await ensureLocalResources(clients, { tablePrefix: options.tablePrefix });
    // The workload: a manifest's files and its context, uploaded without latency or counting.
    const random = seededRandom(options.seed);
    const ref = { team: 'scale', batchId: `plan-${options.files}` };
    const paths = Array.from(
      { length: options.files },
      (_, i) => `packages/m${i % 37}/src/file${String(i).padStart(6, '0')}.ts`,
    );
    const manifestKey = await uploadWorkload(
      clients,
      resources.bucket,
      options,
      ref,
      paths,
      random,
    );

    // The planner's own clients: every request delayed and counted.
    const planner = createLocalClients({ s3Sqs: emulator.url, dynamodb: dynamo.endpoint });
    const meter = createAwsMeter();
    const latency = {
      latencyMs: () => options.latency.min + random() * (options.latency.max - options.latency.min),
    };
    meterClient(planner.s3, 's3', meter, latency);
    meterClient(planner.sqs, 'sqs', meter, latency);
    meterClient(planner.ddb, 'dynamodb', meter, latency);
    const deps = buildPipelineDeps(
      {
        bucket: resources.bucket,
        jobsTable: resources.tables.jobs,
        ledgerTable: resources.tables.ledger,
        workQueueUrl: resources.queues.work.url,
        finalizeQueueUrl: resources.queues.finalize.url,
        ...(options.sharded ? { planQueueUrl: resources.queues.plan.url } : {}),
        settings: parseSettings({
          endpoints: { public: { name: 'public', baseURL: 'https://x.test' } },
          planning: { jobsPerShard: options.jobsPerShard },
        }),
      },
      { clients: planner, clock: fixedClock('2026-11-01T12:00:00Z') },
    );
    const record = {
      messageId: 'bench',
      body: JSON.stringify({ Records: [{ s3: { object: { key: manifestKey, sequencer: '1' } } }] }),
    };
    const plan = await measure(meter, 'planner', async () => {
      const failures = await planIntake([record], deps);
      if (failures.size > 0)
        throw new Error(
          `planning failed: ${[...failures.values()].map((e) => e.message).join('; ')}`,
        );
    });
    const lines = [
      `node ${process.version}, ${availableParallelism()} cores, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
      `every AWS request delayed ${options.latency.min}-${options.latency.max} ms; one manifest of ${options.files} files, context ${options.contextTokens} tokens`,
    ];
    const report: Record<string, unknown> = {
      node: process.version,
      files: options.files,
      latencyMs: options.latency,
      contextTokens: options.contextTokens,
    };
    if (!options.sharded) {
      const batch = await deps.jobs.getBatch(ref);
      if (batch?.plannedAt === undefined || batch.total !== options.files)
        throw new Error(`the batch was not planned whole: ${JSON.stringify(batch)}`);
      const msPerJob = plan.wallMs / options.files;
      const perThousandMb = (plan.peakRssMb - plan.rssBeforeMb) / (options.files / 1000);
      report.whole = { ...plan, msPerJob, workMessages: batch.workMessages };
      report.projection100k = {
        wallSeconds: Math.round((msPerJob * 100_000) / 1000),
        peakRssMb: Math.round(plan.rssBeforeMb + perThousandMb * 100),
        plannerTimeoutSeconds: FUNCTIONS.planner.timeoutSeconds,
        plannerMemoryMb: FUNCTIONS.planner.memoryMb,
      };
      lines.push(
        `planned whole in one invocation: ${describe(plan, options.files)}`,
        `projected to 100,000 files in one invocation: ${Math.round((msPerJob * 100_000) / 1000)} s and about ${Math.round(plan.rssBeforeMb + perThousandMb * 100)} MB (planner timeout ${FUNCTIONS.planner.timeoutSeconds} s and ${FUNCTIONS.planner.memoryMb} MB; Lambda at most 900 s)`,
      );
    } else {
      await measureSharded(deps, meter, ref, paths, options, plan, report, lines);
    }

    process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${lines.join('\n')}\n`);
  } finally {
    await dynamo.stop();
    emulator.child.stdin?.end();
    emulator.child.kill();
  }
}

if (process.argv.includes(EMULATOR_FLAG)) await serveEmulator();
else await main();
