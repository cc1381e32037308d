/**
 * What a local end-to-end run says about 100,000 and 1,000,000 files on AWS: arithmetic over
 * the run's measured figures (AWS cost per job, the provider's time per job from the
 * simulator's latency model, the planner's measured time per job against AWS-like latencies)
 * and the limits that bound each stage. A model, not a measurement: every input is named in
 * the output so it can be checked and changed.
 */

export interface ProjectionInput {
  /** Mean time one job's request keeps its slot (provider latency), seconds. */
  jobSeconds: number;
  /** Warm-up chain of a work message that warms (probe, settle, check), seconds. */
  warmupSeconds: number;
  /** Planner time per job in one invocation against AWS-like latencies, ms (bench/planner.ts). */
  planMsPerJob: number;
  /** The step that commits a sharded batch, ms per job (bench/planner.ts --sharded). */
  commitMsPerJob: number;
  jobsPerShard: number;
  jobsPerMessage: number;
  /** Files of one prefix group in one batch: how long its FIFO chain of messages is. */
  filesPerGroup: number;
  /** AWS cost per job (nano-USD), from the run's bill. */
  awsNanoUsdPerJob: number;
  /** Provider cost per job (nano-USD), from the simulator's bill. */
  providerNanoUsdPerJob: number;
}

export interface Deployment {
  name: string;
  /** Worker invocations at once (reserved concurrency). */
  workers: number;
  /** Requests in flight per worker invocation (providerConcurrency). */
  perWorker: number;
  /** The provider account's concurrency limit for the model (DeepSeek: flash 2,500, pro 500). */
  providerLimit: number;
  /** Planner invocations at once (Lambda's account concurrency left for it). */
  planners: number;
}

/** The deployed stack (cdk.json's figures), and the same stack sized to the provider's limits. */
export function deployments(deployed: {
  workerReservedConcurrency: number;
  providerConcurrency: number;
  providerConcurrencyLimit: number;
}): Deployment[] {
  return [
    {
      name: 'as deployed (cdk.json)',
      workers: deployed.workerReservedConcurrency,
      perWorker: deployed.providerConcurrency,
      providerLimit: deployed.providerConcurrencyLimit,
      planners: 100,
    },
    ...SIZED,
  ];
}

const SIZED: readonly Deployment[] = [
  {
    name: 'flash at its limit',
    workers: 50,
    perWorker: 50,
    providerLimit: 2_500,
    planners: 200,
  },
  { name: 'pro at its limit', workers: 10, perWorker: 50, providerLimit: 500, planners: 200 },
];

export interface Projection {
  files: number;
  deployment: string;
  /** Requests in flight: workers x per worker, capped by the provider's limit. */
  inFlight: number;
  /** A drop's parts (of jobsPerShard files) planned side by side, in rounds of `planners`. */
  planningSeconds: number;
  /** One manifest of `files` files: its shards as above, then the one step that commits it. */
  manifestPlanningSeconds: number;
  /** All jobs' provider time spread over the requests in flight. */
  workSeconds: number;
  /** The longest FIFO chain: a prefix group's messages run one after another. */
  chainSeconds: number;
  /** Planning, then the slower of the work and the longest chain. */
  totalSeconds: number;
  jobsPerSecond: number;
  awsUsd: number;
  providerUsd: number;
}

/** Projects one deployment to `files` files dropped at once. */
export function project(input: ProjectionInput, files: number, d: Deployment): Projection {
  const inFlight = Math.min(d.workers * d.perWorker, d.providerLimit);
  const shards = Math.ceil(files / input.jobsPerShard);
  const shardSeconds = (input.jobsPerShard * input.planMsPerJob) / 1000;
  // Each part of a drop (a batch of its own) or shard of a manifest is planned by its own
  // invocation; a sharded manifest is then committed by one step.
  const planningSeconds = Math.ceil(shards / d.planners) * shardSeconds;
  const manifestPlanningSeconds = planningSeconds + (files * input.commitMsPerJob) / 1000;
  const workSeconds = (files * input.jobSeconds) / inFlight;
  const messages = Math.ceil(input.filesPerGroup / input.jobsPerMessage);
  const waves = Math.ceil(Math.min(input.jobsPerMessage, input.filesPerGroup) / d.perWorker);
  const chainSeconds = input.warmupSeconds + messages * waves * input.jobSeconds;
  const totalSeconds = planningSeconds + Math.max(workSeconds, chainSeconds);
  return {
    files,
    deployment: d.name,
    inFlight,
    planningSeconds: Math.round(planningSeconds),
    manifestPlanningSeconds: Math.round(manifestPlanningSeconds),
    workSeconds: Math.round(workSeconds),
    chainSeconds: Math.round(chainSeconds),
    totalSeconds: Math.round(totalSeconds),
    jobsPerSecond: Math.round((files / totalSeconds) * 10) / 10,
    awsUsd: Math.round(files * input.awsNanoUsdPerJob) / 1e9,
    providerUsd: Math.round(files * input.providerNanoUsdPerJob) / 1e9,
  };
}

/** Every deployment at 100,000 and 1,000,000 files. */
export function projections(
  input: ProjectionInput,
  deployed: Parameters<typeof deployments>[0],
): Projection[] {
  return [100_000, 1_000_000].flatMap((files) =>
    deployments(deployed).map((d) => project(input, files, d)),
  );
}
