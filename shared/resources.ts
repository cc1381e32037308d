/**
 * The one definition of the pipeline's AWS resources and their settings, read by the CDK stack
 * (infra/) and by the local runtime (local/), so that what runs on a laptop cannot drift from
 * what is deployed. Names here are logical; the stack lets CloudFormation name the physical
 * resources and passes them to functions through the environment variables in `ENV`.
 */

import type { Sensitivity } from './types';

export interface QueueSpec {
  /** Base name; FIFO queues end in `.fifo`. Used as the physical name locally. */
  name: string;
  fifo: boolean;
  /** Receives before a message moves to the dead-letter queue. */
  maxReceiveCount: number;
  /** Seconds a message stays on the DLQ. */
  dlqRetentionSeconds: number;
}

export interface EventSourceSpec {
  queue: QueueName;
  function: QueueFunctionName;
  batchSize: number;
  /** Lambda's MaximumBatchingWindowInSeconds; must be 0 for FIFO queues. */
  maxBatchingWindowSeconds: number;
}

export interface FunctionSpec {
  /** Path of the handler module, relative to the repo root. */
  entry: string;
  timeoutSeconds: number;
  memoryMb: number;
}

export interface TableSpec {
  name: string;
  partitionKey: string;
  sortKey: string;
  /** Attribute holding an epoch-seconds expiry, if items expire. */
  ttlAttribute?: string;
  /** The table's change stream, if something reads it. */
  stream?: 'KEYS_ONLY';
}

export type QueueName = 'intake' | 'plan' | 'work' | 'finalize';
export type FunctionName = 'planner' | 'worker' | 'finalize' | 'export';
/** The functions fed by SQS queues (the export reads the ledger's change stream). */
export type QueueFunctionName = Exclude<FunctionName, 'export'>;
export type TableName = 'jobs' | 'ledger';

export const FUNCTIONS: Record<FunctionName, FunctionSpec> = {
  planner: { entry: 'lambdas/planner/handler.ts', timeoutSeconds: 120, memoryMb: 1024 },
  // The worker waits on the provider most of its time, and Lambda bills that wait by memory: 512 MB
  // holds it (the whole local pipeline, eight workers, emulators and simulator in one process,
  // peaked at about 340 MB), at half the GB-seconds of 1,024 (docs/benchmarks.md).
  worker: { entry: 'lambdas/worker/handler.ts', timeoutSeconds: 900, memoryMb: 512 },
  finalize: { entry: 'lambdas/finalize/handler.ts', timeoutSeconds: 300, memoryMb: 1024 },
  // Reads the ledger's change stream and writes line items (shared/chargeback/export.ts).
  export: { entry: 'lambdas/export/handler.ts', timeoutSeconds: 300, memoryMb: 1024 },
};

/**
 * How the export function reads the ledger's change stream: keys only (it re-reads the records
 * it needs), batches gathered for up to `maxBatchingWindowSeconds` so a busy team-day is
 * rewritten at most that often, retried (idempotently) before the batch goes to the DLQ.
 */
export const EXPORT_STREAM = {
  batchSize: 1000,
  maxBatchingWindowSeconds: 60,
  retryAttempts: 10,
} as const;

export const QUEUES: Record<QueueName, QueueSpec> = {
  // S3 notifications for intake/ objects and batch manifests.
  intake: {
    name: 'warmbatch-intake',
    fifo: false,
    maxReceiveCount: 5,
    dlqRetentionSeconds: 1_209_600,
  },
  // Planning fan-out: shards of a batch too large for one planner invocation, the step that
  // commits such a batch, and the parts of a drop split into several batches. One message an
  // invocation, so Lambda plans them side by side.
  plan: {
    name: 'warmbatch-plan',
    fifo: false,
    maxReceiveCount: 5,
    dlqRetentionSeconds: 1_209_600,
  },
  // Planned work: FIFO with MessageGroupId = prefix key, so the chunks of one prefix group run
  // one after another (the first warms the cache) while different groups run in parallel.
  work: {
    name: 'warmbatch-work.fifo',
    fifo: true,
    // Above the jobs' maxAttempts (5): a delivery that waits for a lease held elsewhere uses a
    // receive without using an attempt. A malformed body comes back at once, so it still
    // reaches the DLQ in seconds.
    maxReceiveCount: 10,
    dlqRetentionSeconds: 1_209_600,
  },
  // One message per batch whose last job ended.
  finalize: {
    name: 'warmbatch-finalize',
    fifo: false,
    maxReceiveCount: 5,
    dlqRetentionSeconds: 1_209_600,
  },
};

export const EVENT_SOURCES: readonly EventSourceSpec[] = [
  { queue: 'intake', function: 'planner', batchSize: 100, maxBatchingWindowSeconds: 10 },
  { queue: 'plan', function: 'planner', batchSize: 1, maxBatchingWindowSeconds: 0 },
  { queue: 'work', function: 'worker', batchSize: 1, maxBatchingWindowSeconds: 0 },
  { queue: 'finalize', function: 'finalize', batchSize: 10, maxBatchingWindowSeconds: 0 },
];

/** Visibility timeout of a queue: six times its consumer's timeout, as AWS recommends. */
export function visibilityTimeoutSeconds(queue: QueueName): number {
  const source = EVENT_SOURCES.find((s) => s.queue === queue);
  if (!source) throw new Error(`no event source consumes queue ${queue}`);
  return FUNCTIONS[source.function].timeoutSeconds * 6;
}

export const TABLES: Record<TableName, TableSpec> = {
  // Batch items, job items and result-reuse items; reuse items expire.
  jobs: { name: 'warmbatch-jobs', partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expiresAt' },
  // Cost records, monthly roll-ups and budgets; kept for chargeback, never expired.
  // Its change stream (keys only) drives the line-item export.
  ledger: { name: 'warmbatch-ledger', partitionKey: 'pk', sortKey: 'sk', stream: 'KEYS_ONLY' },
};

/** Key prefixes inside the one bucket. */
export const PREFIXES = {
  intake: 'intake/',
  batches: 'batches/',
  /**
   * What the pipeline writes about a batch (stored requests, rejections, a sharded plan's
   * objects): `pipeline/<team>/<batchId>/`. No submitter policy reaches it, so the pipeline
   * never reads back state a team could have rewritten (docs/security.md).
   */
  pipeline: 'pipeline/',
  outputs: 'outputs/',
  results: 'results/',
  config: 'config/',
  /** The ledger's line items, one Parquet file per team and UTC day (shared/chargeback/export.ts). */
  lineItems: 'line-items/',
} as const;

/**
 * The bucket notifies the intake queue of every object under `intake/`, and of those under
 * `batches/` whose key ends in this suffix: batch manifests (and old-layout ones, which the
 * planner refuses with a reason).
 */
export const MANIFEST_SUFFIX = 'manifest.json';

/**
 * ... and of those ending in this one: a batch's verdicts (`batches/<team>/<batchId>/verdicts.json`),
 * uploaded by the CLI after validation, which the planner records (shared/pipeline/verdicts.ts).
 */
export const VERDICTS_SUFFIX = 'verdicts.json';

/** Environment variables through which functions learn their resources. */
export const ENV = {
  bucket: 'WARMBATCH_BUCKET',
  jobsTable: 'WARMBATCH_JOBS_TABLE',
  ledgerTable: 'WARMBATCH_LEDGER_TABLE',
  workQueueUrl: 'WARMBATCH_WORK_QUEUE_URL',
  finalizeQueueUrl: 'WARMBATCH_FINALIZE_QUEUE_URL',
  /** Intake queue the planner re-sends deferred (off-peak) batches to; planner only. */
  intakeQueueUrl: 'WARMBATCH_INTAKE_QUEUE_URL',
  /** Planning queue the planner fans large batches and drops out to; planner only. */
  planQueueUrl: 'WARMBATCH_PLAN_QUEUE_URL',
  /** Secrets Manager secret id (cloud) holding provider API keys as JSON. */
  apiKeySecretId: 'WARMBATCH_API_KEY_SECRET_ID',
  /** JSON of the pipeline settings (model, endpoints per sensitivity, concurrency, budgets). */
  settings: 'WARMBATCH_SETTINGS',
} as const;

/** Name of the one CloudFormation stack; also the top-level key of `cdk-outputs.json`. */
export const STACK_NAME = 'WarmbatchStack';

/**
 * Keys of the stack outputs (`cdk deploy --outputs-file cdk-outputs.json`), read by the CLI.
 * `submitterPolicyArns` and `teamAdminPolicyArns` hold JSON objects mapping each configured team
 * to its policy ARN.
 */
export const STACK_OUTPUTS = {
  bucketName: 'BucketName',
  jobsTableName: 'JobsTableName',
  ledgerTableName: 'LedgerTableName',
  intakeQueueUrl: 'IntakeQueueUrl',
  workQueueUrl: 'WorkQueueUrl',
  finalizeQueueUrl: 'FinalizeQueueUrl',
  region: 'Region',
  apiKeySecretArn: 'ApiKeySecretArn',
  submitterPolicyArns: 'SubmitterPolicyArns',
  chargebackReaderPolicyArn: 'ChargebackReaderPolicyArn',
  teamAdminPolicyArns: 'TeamAdminPolicyArns',
  dashboardName: 'DashboardName',
} as const;

/**
 * Custom CloudWatch metrics the functions publish (Powertools Metrics, embedded metric format)
 * and the stack graphs and alarms on. The dashboard finds the job and cost metrics whatever
 * their dimensions; the budget alarm needs `BudgetUsedPercent` with exactly one dimension,
 * `team` (clear Powertools' default `service` dimension for that metric).
 */
export const METRICS = {
  namespace: 'warmbatch',
  jobsSucceeded: 'JobsSucceeded',
  jobsFailed: 'JobsFailed',
  cacheHitTokens: 'CacheHitTokens',
  cacheMissTokens: 'CacheMissTokens',
  costNanoUsd: 'CostNanoUsd',
  counterfactualNanoUsd: 'CounterfactualNanoUsd',
  /** Billed responses the price catalog could not price (recorded, awaiting reprice). */
  unpricedResponses: 'UnpricedResponses',
  /** Cost of warm-ups, probes and discarded attempts: the pipeline's overhead. */
  warmupCostNanoUsd: 'WarmupCostNanoUsd',
  budgetUsedPercent: 'BudgetUsedPercent',
  /** Calls whose billed answer never reached the ledger (a worker died): recorded as estimates. */
  billedUnrecorded: 'BilledUnrecordedCalls',
  budgetDimension: 'team',
  /**
   * Pass rate (percent) of the primary lane's validated tests over the trailing 7 and 28 UTC
   * days, and the tests the 7 days hold; the planner publishes them, with no dimension, each
   * time it records verdicts. The quality regression alarm compares the two rates.
   */
  testPassRate7d: 'TestPassRate7d',
  testPassRate28d: 'TestPassRate28d',
  testsValidated7d: 'TestsValidated7d',
} as const;

/** The regression alarm's defaults: points the 7-day rate may fall below the 28-day one, and the least tests of 7 days it judges. */
export const QUALITY_ALARM_DEFAULTS = { dropPoints: 5, minTests: 50 } as const;

/** Budget use, in percent of the monthly cap, at which the per-team alarm fires. */
export const BUDGET_ALARM_PERCENT = 80;

/** `POWERTOOLS_SERVICE_NAME` of each function, so logs and metrics say which one spoke. */
export const SERVICE_NAMES: Record<FunctionName, string> = {
  planner: 'warmbatch-planner',
  worker: 'warmbatch-worker',
  finalize: 'warmbatch-finalize',
  export: 'warmbatch-export',
};

/**
 * The one set of endpoint names, one per sensitivity level: the stack's settings, the keys of the
 * API-key secret (and of `WARMBATCH_API_KEYS` locally), the local runtime, the ledger's
 * `endpoint` and `costs --by endpoint` all use these.
 */
export const ENDPOINT_NAMES = {
  public: 'public',
  internal: 'internal',
  restricted: 'restricted',
} as const satisfies Record<Sensitivity, string>;

/** A fallback endpoint: cleared for a sensitivity, serving jobs with `model` (absent: theirs). */
export interface FallbackSetting extends EndpointSetting {
  clearedFor: Sensitivity;
  model?: string;
  userIdField?: 'user_id' | 'user' | 'none';
}

/** An LLM endpoint as the functions see it; its API key is read at runtime by `name`. */
export interface EndpointSetting {
  /** Key of this endpoint's API key in the JSON secret named by `ENV.apiKeySecretId`. */
  name: string;
  baseURL: string;
  /** Models this endpoint serves; absent: any. A shadow run goes only where its model is served. */
  models?: string[];
}

/**
 * The pipeline settings the stack serializes into `ENV.settings` (JSON). Budgets are integer
 * nano-USD. `internal` and `restricted` are absent when no endpoint is configured for them:
 * such jobs fail clearly rather than fall back to `public`.
 */
export interface PipelineSettings {
  model: string;
  endpoints: {
    public: EndpointSetting;
    internal?: EndpointSetting;
    restricted?: EndpointSetting;
    /** Per sensitivity, the endpoints tried in order while the level's own is open. */
    fallbacks?: Partial<Record<Sensitivity, FallbackSetting[]>>;
  };
  /** Provider requests one worker invocation may have in flight at once. */
  providerConcurrency: number;
  /**
   * Least sensitivity of inputs per team, and per team and project (absent: `public`); the
   * strictest that applies wins, and a manifest may raise it but not lower it.
   */
  sensitivity?: {
    teams: Record<string, Sensitivity>;
    projects: Record<string, Record<string, Sensitivity>>;
  };
  teams: Record<string, { monthlyBudgetNanoUsd: number }>;
  /** Default cost-allocation tags per team and project. */
  projectTags?: Record<string, Record<string, Record<string, string>>>;
  /** The tag keys activated as line-item columns. */
  chargeback?: { tagColumns: string[] };
  /** Pricing instant, V4.1 switch and price rows (shared/pipeline/settings.ts `pricing`). */
  pricing?: { instant?: 'sent' | 'created'; v41SwitchAt?: string; prices?: unknown };
  /** A shadow run of a seeded sample of every batch on a second model (manifests may override). */
  shadow?: { model: string; rate: number };
}
