/**
 * The one shape of the pipeline's settings, with every default in one place: the stack builds
 * them from its configuration (infra/config.ts `toSettings`) and checks them here at synth, the
 * functions parse the JSON the stack puts in `ENV.settings` here at cold start, and the local
 * runtime and the benchmarks pass the same fields. One set of names end to end, so nothing
 * renames a field on the way; an unknown field is refused rather than silently dropped. Errors
 * name the bad field, so a broken deployment says what to fix.
 */
import * as z from 'zod';
import { DEFAULT_TAG_COLUMNS, TagColumnsSchema } from '../chargeback/line-items';
import { DEFAULT_CONCURRENCY } from '../concurrency';
import { ConfigurationError } from '../configuration-error';
import { DEFAULT_EXECUTOR_OPTIONS } from '../executor/executor';
import { WARMUP_MODES } from '../grouping/types';
import { DEFAULT_MAX_JSONL_BYTES } from '../inputs/jsonl';
import { DEFAULT_MAX_FILE_BYTES } from '../inputs/validate';

/** Default of `maxBatchBytes`: 256 MiB of file content in one batch. */
export const DEFAULT_MAX_BATCH_BYTES = 256 * 1024 * 1024;

import { AWS_UNITS } from '../pricing/aws';
import { DEFAULT_REFERENCE_MODEL, DEFAULT_V41_SWITCH_AT } from '../pricing/builtin';
import { buildCatalog } from '../pricing/catalog';
import { IsoInstantSchema, PriceDataSettingSchema } from '../pricing/schema';
import { ShadowSchema } from '../quality/shadow';
import { ENDPOINT_NAMES } from '../resources';
import { TagsSchema } from '../tags';
import { SENSITIVITIES, type Sensitivity } from '../types';
import { settingsLayers } from './prices';

const positiveInt = z.number().int().positive();

const endpointSchema = z.object({
  /** Key of the endpoint's API key in the secret. */
  name: z.string().min(1),
  baseURL: z.url(),
  userIdField: z.enum(['user_id', 'user', 'none']).optional(),
  /** Models the endpoint serves; absent: any. A shadow run is planned only where its model is. */
  models: z.array(z.string().min(1)).optional(),
});

/**
 * A fallback endpoint (docs/reliability.md): its own name (the secret's key, the ledger's
 * `endpoint`), the sensitivity it is cleared for, and the model it serves jobs with.
 */
const fallbackSchema = endpointSchema.extend({
  clearedFor: z.enum(SENSITIVITIES),
  model: z.string().min(1).optional(),
});

const executorSchema = z.object({
  warmup: z.enum(WARMUP_MODES).default(DEFAULT_EXECUTOR_OPTIONS.warmup),
  concurrency: positiveInt.default(DEFAULT_EXECUTOR_OPTIONS.concurrency),
  /** A fixed settle time; absent, the executor waits what the provider's cache profile says. */
  settleMs: z.number().int().nonnegative().optional(),
  stopMarginMs: z.number().int().nonnegative().default(DEFAULT_EXECUTOR_OPTIONS.stopMarginMs),
  maxVerifications: z
    .number()
    .int()
    .nonnegative()
    .default(DEFAULT_EXECUTOR_OPTIONS.maxVerifications),
  minPrefixCover: z.number().min(0).max(1).default(DEFAULT_EXECUTOR_OPTIONS.minPrefixCover),
  verifyMinJobs: positiveInt.default(DEFAULT_EXECUTOR_OPTIONS.verifyMinJobs),
});

/**
 * How work messages are grouped on the FIFO queue: per batch and prefix (groups of different
 * batches run side by side), or per prefix alone (batches sharing a prefix run one after the
 * other, so the later one finds the cache warm).
 */
export const WORK_GROUP_BY = ['batch-prefix', 'prefix'] as const;

const concurrencySchema = z.object({
  planning: positiveInt.default(DEFAULT_CONCURRENCY.planning),
  dropClaims: positiveInt.default(DEFAULT_CONCURRENCY.dropClaims),
  claims: positiveInt.default(DEFAULT_CONCURRENCY.claims),
  jobEnds: positiveInt.default(DEFAULT_CONCURRENCY.jobEnds),
  outputReads: positiveInt.default(DEFAULT_CONCURRENCY.outputReads),
  transfers: positiveInt.default(DEFAULT_CONCURRENCY.transfers),
});

/**
 * Which instant of a request prices it (peak or off-peak, which row): the time the worker sent
 * it, measured on the pipeline's clock, or the provider's `created`. DeepSeek does not say which
 * it uses; docs/pricing.md says why `sent` is the default.
 */
export const PRICING_INSTANTS = ['sent', 'created'] as const;
export type PricingInstant = (typeof PRICING_INSTANTS)[number];

const pricingSchema = z.object({
  instant: z.enum(PRICING_INSTANTS).default('sent'),
  /** When deepseek-v4-flash became billed as deepseek-flash (sources disagree). */
  v41SwitchAt: IsoInstantSchema.default(DEFAULT_V41_SWITCH_AT),
  /** Price rows, peak rules and holidays merged over the built-in ones (the price file format). */
  prices: PriceDataSettingSchema,
  /** How often the functions read the bucket's config/prices.json again. */
  reloadSeconds: positiveInt.default(60),
  /** A job without a deadline is reserved at the dearest price of this many hours ahead. */
  reservationHorizonHours: positiveInt.default(96),
});

/** Defaults of `drops`; the local runtime scales `quietMs` by its time scale. */
export const DEFAULT_DROP_SETTINGS = { quietMs: 30_000, maxFilesPerBatch: 1_000 } as const;

const dropsSchema = z.object({
  /**
   * Files dropped under one `intake/<team>/<project>/<kind>/` prefix belong to one drop until no
   * new file has arrived for this long; then the drop is planned as one batch. 0 plans each
   * planner invocation's files at once (and is what happens without an intake queue URL).
   */
  quietMs: z.number().int().nonnegative().default(DEFAULT_DROP_SETTINGS.quietMs),
  /** A drop with more files is split, in key order, into batches of at most this many. */
  maxFilesPerBatch: positiveInt.default(DEFAULT_DROP_SETTINGS.maxFilesPerBatch),
});

/** Default of `planning.jobsPerShard`: see docs/benchmarks.md "Planning 100,000 jobs". */
export const DEFAULT_JOBS_PER_SHARD = 1_000;

const planningSchema = z.object({
  /**
   * A batch of more jobs is planned in shards of this many, each by its own planner invocation
   * through the planning queue (when there is one); then one step commits the batch.
   */
  jobsPerShard: positiveInt.default(DEFAULT_JOBS_PER_SHARD),
});

/**
 * What is wrong with per-sensitivity fallback lists, wherever they are written (the settings
 * and the stack's config): a fallback cleared below the level it serves (never a lower
 * sensitivity), or named like a sensitivity (its key in the secret would collide).
 */
export function fallbackIssues(
  fallbacks: Partial<Record<string, readonly { name: string; clearedFor: Sensitivity }[]>>,
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  for (const [level, list] of Object.entries(fallbacks))
    for (const [i, f] of (list ?? []).entries()) {
      if (SENSITIVITIES.indexOf(f.clearedFor) < SENSITIVITIES.indexOf(level as Sensitivity))
        issues.push({
          path: [level, i, 'clearedFor'],
          message: `a ${f.clearedFor} endpoint may not serve ${level} jobs: never a lower sensitivity`,
        });
      if ((SENSITIVITIES as readonly string[]).includes(f.name))
        issues.push({
          path: [level, i, 'name'],
          message: `a fallback needs a name of its own, not a sensitivity's`,
        });
    }
  return issues;
}

export const SettingsSchema = z.strictObject({
  defaultModel: z.string().min(1).default('deepseek-flash'),
  referenceModel: z.string().min(1).default(DEFAULT_REFERENCE_MODEL),
  maxFileBytes: positiveInt.default(DEFAULT_MAX_FILE_BYTES),
  /**
   * Most bytes of input one batch may send, counted over its files' own messages in path
   * order: the files past it fail `too_large` with a reason, the others run.
   */
  maxBatchBytes: positiveInt.default(DEFAULT_MAX_BATCH_BYTES),
  /** Largest OpenAI Batch API file planned, in bytes; a larger one is refused unread. */
  maxJsonlBytes: positiveInt.default(DEFAULT_MAX_JSONL_BYTES),
  /**
   * Per model id, figures that replace shared/models/limits.ts: `contextTokens` (prompt plus
   * max_tokens) and `maxOutputTokens` (largest max_tokens). Requests over them are refused.
   */
  modelLimits: z
    .record(
      z.string(),
      z.strictObject({
        contextTokens: positiveInt.optional(),
        maxOutputTokens: positiveInt.optional(),
      }),
    )
    .default({}),
  maxOutputTokens: z
    .object({ docs: positiveInt.default(2_048), tests: positiveInt.default(4_096) })
    .default({ docs: 2_048, tests: 4_096 }),
  executor: executorSchema.default(executorSchema.parse({})),
  drops: dropsSchema.default(dropsSchema.parse({})),
  planning: planningSchema.default(planningSchema.parse({})),
  /** Calls of one kind kept in flight at once (shared/concurrency.ts says which). */
  concurrency: concurrencySchema.default(concurrencySchema.parse({})),
  /** How long a claimed job is leased to one worker before another may take it over. */
  leaseMs: positiveInt.default(15 * 60_000),
  /** Claims of one job before it fails for good. */
  maxAttempts: positiveInt.default(5),
  /**
   * When a work message with jobs to run again comes back: after a backoff growing with its
   * deliveries (with jitter) from `minSeconds` to `maxSeconds`, or when the lease of a job
   * another delivery holds runs out, instead of after the queue's whole visibility timeout.
   */
  retryBackoff: z
    .object({
      minSeconds: positiveInt.default(2),
      maxSeconds: positiveInt.default(300),
    })
    .default({ minSeconds: 2, maxSeconds: 300 }),
  reuseTtlDays: positiveInt.default(30),
  endpoints: z
    .object({
      public: endpointSchema,
      internal: endpointSchema.optional(),
      restricted: endpointSchema.optional(),
      /** Per sensitivity, the endpoints tried in order when the level's own breaker is open. */
      fallbacks: z.partialRecord(z.enum(SENSITIVITIES), z.array(fallbackSchema)).optional(),
    })
    .superRefine((endpoints, ctx) => {
      for (const issue of fallbackIssues(endpoints.fallbacks ?? {}))
        ctx.addIssue({ code: 'custom', ...issue, path: ['fallbacks', ...issue.path] });
      for (const level of SENSITIVITIES) {
        const name = endpoints[level]?.name;
        if (name !== undefined && name !== ENDPOINT_NAMES[level])
          ctx.addIssue({
            code: 'custom',
            path: [level, 'name'],
            message: `must be "${ENDPOINT_NAMES[level]}": endpoints are named after their sensitivity everywhere (the secret's keys, the ledger)`,
          });
      }
    }),
  /**
   * The endpoints' shared circuit breakers (shared/llm/breaker.ts): on when any fallback is
   * configured or this is set. Absent fields take the defaults.
   */
  breaker: z
    .object({
      failureThreshold: positiveInt.optional(),
      openMs: positiveInt.optional(),
      probeLeaseMs: positiveInt.optional(),
    })
    .optional(),
  /**
   * Least sensitivity of every input, per team and per project (team -> project -> level); the
   * strictest that applies wins (shared/pipeline/sensitivity.ts). Unlisted: `public`.
   */
  sensitivity: z
    .object({
      teams: z.record(z.string(), z.enum(SENSITIVITIES)).default({}),
      projects: z.record(z.string(), z.record(z.string(), z.enum(SENSITIVITIES))).default({}),
    })
    .default({ teams: {}, projects: {} }),
  /**
   * Default cost-allocation tags per team and project (team -> project -> tags): every batch
   * of the project carries them, a manifest's or `--tag`'s own tags winning key by key.
   */
  projectTags: z.record(z.string(), z.record(z.string(), TagsSchema)).default({}),
  /**
   * Chargeback: the cost-allocation tag keys activated as line-item columns (as AWS activates
   * tags for its cost reports); every tag is in the line items' `tags` map regardless.
   */
  chargeback: z
    .object({
      tagColumns: TagColumnsSchema.default([...DEFAULT_TAG_COLUMNS]),
    })
    .default({ tagColumns: [...DEFAULT_TAG_COLUMNS] }),
  /** DeepSeek `user_id` per team: isolates each team's cache. */
  userIdByTeam: z.record(z.string(), z.string()).default({}),
  /** Monthly cap per team in integer nano-USD; teams not listed are tracked, never refused. */
  budgets: z.record(z.string(), z.number().int().nonnegative()).default({}),
  workGroupBy: z.enum(WORK_GROUP_BY).default('batch-prefix'),
  /**
   * Longest delay of a deferred batch's message on the intake queue, in seconds (SQS allows
   * 900). A batch waiting for off-peak hours comes back this often and is sent back until then.
   */
  maxDeferDelaySeconds: z.number().int().min(0).max(900).default(900),
  pricing: pricingSchema.default(pricingSchema.parse({})),
  /**
   * A shadow run (shared/quality/shadow.ts): a seeded sample of every primary batch also runs
   * on a second model, ledgered in lane `shadow`. A manifest's own `shadow` (or null) wins.
   */
  shadow: ShadowSchema.optional(),
  /**
   * AWS prices over the built-in us-east-1 list prices (shared/pricing/aws.ts), for the AWS
   * overhead summaries estimate: another region's, or a negotiated rate.
   */
  awsPrices: z
    .array(
      z.strictObject({
        unit: z.enum(AWS_UNITS),
        microUsdPerMillion: z.number().int().nonnegative(),
        from: IsoInstantSchema,
        region: z.string().optional(),
        source: z.string().optional(),
      }),
    )
    .default([]),
});

export type PipelineSettings = z.output<typeof SettingsSchema>;
export type PricingSettings = z.output<typeof pricingSchema>;

/** The `pricing` settings alone, defaults filled (the local runtime gives them to the simulator). */
export function parsePricingSettings(raw: unknown): PricingSettings {
  const parsed = pricingSchema.safeParse(raw ?? {});
  if (!parsed.success)
    throw new ConfigurationError(
      `invalid settings: ${parsed.error.issues
        .map((i) => `pricing.${i.path.map(String).join('.')}: ${i.message}`)
        .join('; ')}`,
      { cause: parsed.error },
    );
  return parsed.data;
}
/** The settings as written (the stack's `ENV.settings`, a test's or benchmark's), defaults unfilled. */
export type PipelineSettingsInput = z.input<typeof SettingsSchema>;

/**
 * Parses settings from a JSON string or an object.
 * @throws ConfigurationError naming each bad field (`endpoints.public.baseURL: Invalid URL`).
 */
export function parseSettings(input: string | PipelineSettingsInput): PipelineSettings {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch (cause) {
      throw new ConfigurationError('settings are not valid JSON', { cause });
    }
  }
  const parsed = SettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (i) => `${i.path.map(String).join('.') || '(settings)'}: ${i.message}`,
    );
    throw new ConfigurationError(`invalid settings: ${issues.join('; ')}`, {
      cause: parsed.error,
      issues,
    });
  }
  checkReferenceModel(parsed.data);
  return parsed.data;
}

/**
 * The reference model prices every job answer's counterfactual: one no price row names would
 * leave every saving unknown, so it is refused when the settings are read, naming the models
 * that are priced (the built-in rows and the settings' own `pricing.prices`).
 */
function checkReferenceModel(settings: PipelineSettings): void {
  let known: ReadonlySet<string>;
  try {
    known = new Set(buildCatalog(settingsLayers(settings).layers).byModel.keys());
  } catch (cause) {
    throw new ConfigurationError(`pricing.prices: ${(cause as Error).message}`, { cause });
  }
  if (!known.has(settings.referenceModel))
    throw new ConfigurationError(
      `invalid settings: referenceModel: ${settings.referenceModel} is in no price row; priced models: ${[...known].sort().join(', ')}`,
    );
}
