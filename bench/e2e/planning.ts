/**
 * The planning figures of `bench --all`: bench/planner.ts run twice in child processes (each
 * starts its own emulators and DynamoDB Local), once whole at one shard's size (what one shard's
 * invocation takes) and once sharded at the full size (the step that cuts the batch and the
 * step that commits it), then put side by side.
 *
 *   npx tsx bench/planner.ts --files 1000 --json
 *   npx tsx bench/planner.ts --sharded --files 100000 --json
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Lambda's longest invocation. */
const LAMBDA_MAX_SECONDS = 900;

interface Measured {
  wallMs: number;
  cpuMs: number;
  awsCalls: number;
  rssBeforeMb: number;
  peakRssMb: number;
}

/** What `bench/planner.ts --json` prints, planned whole. */
export interface WholePlannerJson {
  files: number;
  latencyMs: { min: number; max: number };
  whole: Measured & { msPerJob: number; workMessages: number };
  projection100k: {
    wallSeconds: number;
    peakRssMb: number;
    plannerTimeoutSeconds: number;
    plannerMemoryMb: number;
  };
}

/** What `bench/planner.ts --sharded --json` prints. */
export interface ShardedPlannerJson {
  files: number;
  latencyMs: { min: number; max: number };
  coordinator: Measured & { shards: number; jobsPerShard: number };
  finish: Measured & { listJobsMs: number; sendMs: number; workMessages: number };
}

export interface PlanningFigures {
  jobs: number;
  latencyMs: { min: number; max: number };
  /** One invocation planning the whole batch, projected from the per-shard run. */
  oneInvocation: { projectedSeconds: number; projectedPeakRssMb: number; fits: boolean };
  shards: number;
  jobsPerShard: number;
  /** One shard's invocation: the whole planner at jobsPerShard files. */
  shard: { wallMs: number; cpuMs: number; msPerJob: number; peakRssMb: number };
  coordinator: { wallMs: number; peakRssMb: number };
  finish: {
    wallMs: number;
    msPerJob: number;
    peakRssMb: number;
    listJobsMs: number;
    sendMs: number;
    workMessages: number;
  };
  /** Every shard at once (Lambda's concurrency allowing): cut, one shard's time, commit. */
  parallelWallMs: number;
  /** Every invocation within the planner's timeout and memory. */
  fitsPlannerLimits: boolean;
  plannerTimeoutSeconds: number;
  plannerMemoryMb: number;
}

/** The two runs side by side; throws if they were not run as a pair. */
export function planningFigures(
  whole: WholePlannerJson,
  sharded: ShardedPlannerJson,
): PlanningFigures {
  const shards = sharded.coordinator.shards;
  const jobsPerShard = sharded.coordinator.jobsPerShard;
  if (whole.files !== jobsPerShard)
    throw new Error(
      `the whole run planned ${whole.files} files, a shard holds ${jobsPerShard}: run it with --files ${jobsPerShard}`,
    );
  const { plannerTimeoutSeconds, plannerMemoryMb } = whole.projection100k;
  const projectedSeconds = Math.round((whole.whole.msPerJob * sharded.files) / 1000);
  const perJobMb = (whole.whole.peakRssMb - whole.whole.rssBeforeMb) / whole.files;
  const projectedPeakRssMb = Math.round(whole.whole.rssBeforeMb + perJobMb * sharded.files);
  const peaks = [whole.whole.peakRssMb, sharded.coordinator.peakRssMb, sharded.finish.peakRssMb];
  const walls = [whole.whole.wallMs, sharded.coordinator.wallMs, sharded.finish.wallMs];
  return {
    jobs: sharded.files,
    latencyMs: sharded.latencyMs,
    oneInvocation: {
      projectedSeconds,
      projectedPeakRssMb,
      fits:
        projectedSeconds <= Math.min(plannerTimeoutSeconds, LAMBDA_MAX_SECONDS) &&
        projectedPeakRssMb <= plannerMemoryMb,
    },
    shards,
    jobsPerShard,
    shard: {
      wallMs: whole.whole.wallMs,
      cpuMs: whole.whole.cpuMs,
      msPerJob: whole.whole.msPerJob,
      peakRssMb: whole.whole.peakRssMb,
    },
    coordinator: {
      wallMs: sharded.coordinator.wallMs,
      peakRssMb: sharded.coordinator.peakRssMb,
    },
    finish: {
      wallMs: sharded.finish.wallMs,
      msPerJob: Math.round((sharded.finish.wallMs / sharded.files) * 1000) / 1000,
      peakRssMb: sharded.finish.peakRssMb,
      listJobsMs: sharded.finish.listJobsMs,
      sendMs: sharded.finish.sendMs,
      workMessages: sharded.finish.workMessages,
    },
    parallelWallMs: walls.reduce((a, b) => a + b, 0),
    fitsPlannerLimits:
      walls.every((ms) => ms <= plannerTimeoutSeconds * 1000) &&
      peaks.every((mb) => mb <= plannerMemoryMb),
    plannerTimeoutSeconds,
    plannerMemoryMb,
  };
}

/** Runs bench/planner.ts with these arguments (and --json) in a child; its JSON. */
export function runPlannerBench(args: readonly string[]): Promise<unknown> {
  // From bench/e2e/ and from the tools' bundle in dist/tools/ alike, two levels up is the checkout.
  const script = fileURLToPath(new URL('../../bench/planner.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line)
        reject(new Error(`bench/planner.ts ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(line));
    });
  });
}

/** Both runs, at `jobs` files in shards of `jobsPerShard`. */
export async function runPlanning(
  jobs: number,
  jobsPerShard: number,
  /** A running DynamoDB Local to plan against; by default each run starts its own. */
  dynamodb?: { endpoint: string; tablePrefix: string },
): Promise<PlanningFigures> {
  const shared = (run: string) =>
    dynamodb
      ? [
          '--dynamodb-endpoint',
          dynamodb.endpoint,
          '--table-prefix',
          `${dynamodb.tablePrefix}${run}-`,
        ]
      : [];
  const whole = (await runPlannerBench([
    '--files',
    String(jobsPerShard),
    ...shared('whole'),
  ])) as WholePlannerJson;
  const sharded = (await runPlannerBench([
    '--sharded',
    '--files',
    String(jobs),
    '--jobs-per-shard',
    String(jobsPerShard),
    ...shared('sharded'),
  ])) as ShardedPlannerJson;
  return planningFigures(whole, sharded);
}

/** One line for a person. */
export function planningText(p: PlanningFigures): string {
  return `planning ${p.jobs} jobs (AWS requests delayed ${p.latencyMs.min}-${p.latencyMs.max} ms): one invocation would take about ${p.oneInvocation.projectedSeconds} s and ${p.oneInvocation.projectedPeakRssMb} MB (fits: ${p.oneInvocation.fits ? 'yes' : 'no'}); in ${p.shards} shards of ${p.jobsPerShard}: cut ${(p.coordinator.wallMs / 1000).toFixed(1)} s, a shard ${(p.shard.wallMs / 1000).toFixed(1)} s (${p.shard.msPerJob.toFixed(2)} ms a job, peak ${p.shard.peakRssMb} MB), commit ${(p.finish.wallMs / 1000).toFixed(1)} s (peak ${p.finish.peakRssMb} MB, ${p.finish.workMessages} work messages); every shard at once ${(p.parallelWallMs / 1000).toFixed(1)} s; within the planner's ${p.plannerTimeoutSeconds} s and ${p.plannerMemoryMb} MB: ${p.fitsPlannerLimits ? 'yes' : 'NO'}\n`;
}
