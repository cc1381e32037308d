import * as z from 'zod';
import { DEFAULT_TAG_COLUMNS, TagColumnsSchema } from '../shared/chargeback/line-items';
import { ConfigurationError } from '../shared/configuration-error';
import {
  fallbackIssues,
  type PipelineSettingsInput,
  PRICING_INSTANTS,
  parseSettings,
} from '../shared/pipeline/settings';
import { IsoInstantSchema, PriceDataSettingSchema } from '../shared/pricing/schema';
import { ShadowSchema } from '../shared/quality/shadow';
import { ENDPOINT_NAMES, QUALITY_ALARM_DEFAULTS } from '../shared/resources';
import { TagsSchema } from '../shared/tags';
import { SENSITIVITIES, type Sensitivity } from '../shared/types';

/** Context key in cdk.json (or `-c warmbatch='{...}'`) that holds the stack's configuration. */
export const CONFIG_CONTEXT_KEY = 'warmbatch';

const NANO_USD_PER_USD = 1_000_000_000;

const TEAM_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https:// URL' });

const PROJECT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const retentionDays = z.int({ error: 'must be a whole number of days' }).min(1).max(3650);

/** How long the bucket keeps a batch's objects, in days, unless the configuration says. */
export const DEFAULT_RETENTION = { intakeDays: 30, batchesDays: 30, outputsDays: 90 } as const;

const sensitivitySchema = z.enum(SENSITIVITIES, {
  error: `must be one of ${SENSITIVITIES.join(', ')}`,
});

const teamSchema = z.strictObject({
  /** Whole US dollars; converted to integer nano-USD for the functions. */
  monthlyBudgetUsd: z
    .int({ error: 'must be a whole number of US dollars' })
    .positive()
    .max(1_000_000),
  /**
   * Least sensitivity of every input of the team (default `public`): drops, OpenAI JSONL files
   * and manifests below it are raised to it.
   */
  sensitivity: sensitivitySchema.optional(),
  /** Per project: a sensitivity that raises the team's for that project's inputs. */
  projects: z
    .record(
      z.string().regex(PROJECT_NAME, {
        error: 'project names match [a-z0-9][a-z0-9_-]{0,62} (stored in lower case)',
      }),
      z.strictObject({
        sensitivity: sensitivitySchema.optional(),
        /** Default cost-allocation tags of every batch of the project (shared/tags.ts rules). */
        tags: TagsSchema.optional(),
      }),
    )
    .optional(),
});

export const configSchema = z
  .strictObject({
    /** Model every job uses unless its manifest names another. */
    model: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, { error: 'must be a model id' }),
    teams: z
      .record(
        z.string().regex(TEAM_NAME, { error: 'team names match [a-z0-9][a-z0-9_-]{0,62}' }),
        teamSchema,
      )
      .refine((teams) => Object.keys(teams).length > 0, { error: 'configure at least one team' }),
    endpoints: z.strictObject({
      public: httpsUrl,
      internal: httpsUrl.optional(),
      restricted: httpsUrl.optional(),
    }),
    /**
     * Per sensitivity, endpoints tried in order while the level's own is failing (its circuit
     * breaker open): each with a name of its own (its key in the API-key secret), the level it
     * is cleared for (at least the list's), and the model it serves jobs with.
     */
    fallbacks: z
      .partialRecord(
        sensitivitySchema,
        z
          .array(
            z.strictObject({
              name: z
                .string()
                .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, { error: 'lowercase letters, digits, dashes' }),
              baseURL: httpsUrl,
              clearedFor: sensitivitySchema,
              model: z.string().min(1).optional(),
              userIdField: z.enum(['user_id', 'user', 'none']).optional(),
            }),
          )
          .max(5),
      )
      .default({}),
    /**
     * Worker instances that may run at once. With `providerConcurrency` requests in flight per
     * instance, their product is what the provider sees, so it must stay within its limit.
     */
    workerReservedConcurrency: z.int().min(2).max(1000),
    providerConcurrency: z.int().min(1).max(1000),
    /** The provider account's concurrency limit (DeepSeek: 2,500 flash, 500 pro). */
    providerConcurrencyLimit: z.int().positive().max(100_000).default(500),
    /** Seconds the intake event source collects S3 events before invoking the planner. */
    intakeBatchingWindowSeconds: z.int().min(0).max(300),
    /**
     * How responses are priced (docs/pricing.md): which instant prices a request, when the V4.1
     * flash prices started, and price rows merged over the built-in ones. Rows that change at
     * runtime belong in the bucket's config/prices.json, which the CLI reads too.
     */
    pricing: z
      .strictObject({
        instant: z.enum(PRICING_INSTANTS).optional(),
        v41SwitchAt: IsoInstantSchema.optional(),
        prices: PriceDataSettingSchema,
      })
      .optional(),
    /**
     * Chargeback: the tag keys activated as line-item columns (each one a column `tag_<key>`
     * and a branch of the saved spend-by-tag query), like AWS's activated cost-allocation tags.
     */
    chargeback: z
      .strictObject({
        tagColumns: TagColumnsSchema,
      })
      .default({ tagColumns: [...DEFAULT_TAG_COLUMNS] }),
    /**
     * A shadow run of a seeded sample of every batch on a second model, ledgered apart (lane
     * `shadow`), to compare quality per dollar before moving work (docs/quality.md).
     */
    // The settings' own schema, without the per-batch seed (a batch's id seeds its sample).
    shadow: ShadowSchema.omit({ seed: true }).optional(),
    /**
     * The quality regression alarm (docs/quality.md): it fires when the primary lane's 7-day
     * test pass rate is `dropPoints` percentage points or more below its 28-day baseline, once
     * the 7 days hold at least `minTests` validated tests.
     */
    quality: z
      .strictObject({
        dropPoints: z.number().positive().max(100).default(QUALITY_ALARM_DEFAULTS.dropPoints),
        minTests: z.int().min(1).max(1_000_000).default(QUALITY_ALARM_DEFAULTS.minTests),
      })
      .default({ ...QUALITY_ALARM_DEFAULTS }),
    /**
     * Days before the bucket deletes what a batch leaves: dropped files (`intake/`), submitted
     * files and the stored prompts built from them (`batches/`, `pipeline/`), and generated
     * outputs and results (`outputs/`, `results/`). The ledger and its line items are kept.
     * Repairs and reuse need the prompts and outputs they refer to: older ones are not found.
     */
    retention: z
      .strictObject({
        intakeDays: retentionDays.default(DEFAULT_RETENTION.intakeDays),
        batchesDays: retentionDays.default(DEFAULT_RETENTION.batchesDays),
        outputsDays: retentionDays.default(DEFAULT_RETENTION.outputsDays),
      })
      .default(DEFAULT_RETENTION),
    /** Existing SNS topic that receives alarm notifications; alarms only show without it. */
    alarmTopicArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/, { error: 'must be an SNS topic ARN' })
      .optional(),
  })
  .superRefine((config, ctx) => {
    const inFlight = config.workerReservedConcurrency * config.providerConcurrency;
    if (inFlight > config.providerConcurrencyLimit) {
      ctx.addIssue({
        code: 'custom',
        path: ['workerReservedConcurrency'],
        message: `times providerConcurrency (${config.providerConcurrency}) allows ${inFlight} requests in flight, above providerConcurrencyLimit ${config.providerConcurrencyLimit}`,
      });
    }
    for (const issue of fallbackIssues(config.fallbacks))
      ctx.addIssue({ code: 'custom', ...issue, path: ['fallbacks', ...issue.path] });
    for (const [level, list] of Object.entries(config.fallbacks))
      for (const [i, f] of (list ?? []).entries())
        if (f.clearedFor !== 'public' && sameOrigin(f.baseURL, config.endpoints.public))
          ctx.addIssue({
            code: 'custom',
            path: ['fallbacks', level, i, 'baseURL'],
            message: `must not be the public endpoint: it is cleared for ${f.clearedFor}`,
          });
    for (const sensitivity of ['internal', 'restricted'] as const) {
      const url = config.endpoints[sensitivity];
      if (url !== undefined && sameOrigin(url, config.endpoints.public)) {
        ctx.addIssue({
          code: 'custom',
          path: ['endpoints', sensitivity],
          message: `must not be the public endpoint: ${sensitivity} inputs never reach it`,
        });
      }
    }
  });

export type WarmbatchConfig = z.infer<typeof configSchema>;

/**
 * Validates the `warmbatch` context value (an object, or its JSON text when passed with `-c`).
 * Throws a ConfigurationError listing every bad key as `warmbatch.<path>` with the value it got.
 */
export function parseConfig(raw: unknown): WarmbatchConfig {
  let input = raw;
  if (typeof raw === 'string') {
    try {
      input = JSON.parse(raw);
    } catch (err) {
      throw new ConfigurationError(`${CONFIG_CONTEXT_KEY}: context value is not valid JSON`, {
        cause: err,
      });
    }
  }
  if (input === undefined) {
    throw new ConfigurationError(
      `${CONFIG_CONTEXT_KEY}: missing; set context.${CONFIG_CONTEXT_KEY} in cdk.json`,
    );
  }
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const key = [CONFIG_CONTEXT_KEY, ...issue.path.map(String)].join('.');
    const value = valueAt(input, issue.path);
    const got = value === undefined ? 'missing' : `got ${JSON.stringify(value)}`;
    return `${key}: ${issue.message} (${got})`;
  });
  throw new ConfigurationError(`invalid configuration:\n  ${issues.join('\n  ')}`, {
    cause: result.error,
    issues,
  });
}

/**
 * The settings the functions receive as JSON in `ENV.settings`, in the fields of the one settings
 * schema (shared/pipeline/settings.ts): `model` becomes `defaultModel`, `providerConcurrency`
 * `executor.concurrency`, each team's budget `budgets.<team>` in nano-USD. They are parsed here
 * as the functions will parse them, so settings a function would refuse stop the synth instead.
 * @throws ConfigurationError naming the bad settings field.
 */
export function toSettings(config: WarmbatchConfig): PipelineSettingsInput {
  const endpoint = (name: string, baseURL: string) => ({ name, baseURL });
  const { internal, restricted } = config.endpoints;
  const settings: PipelineSettingsInput = {
    defaultModel: config.model,
    endpoints: {
      public: endpoint(ENDPOINT_NAMES.public, config.endpoints.public),
      ...(internal ? { internal: endpoint(ENDPOINT_NAMES.internal, internal) } : {}),
      ...(restricted ? { restricted: endpoint(ENDPOINT_NAMES.restricted, restricted) } : {}),
      ...(Object.keys(config.fallbacks).length > 0 ? { fallbacks: config.fallbacks } : {}),
    },
    executor: { concurrency: config.providerConcurrency },
    ...(config.pricing ? { pricing: config.pricing } : {}),
    ...(config.shadow ? { shadow: config.shadow } : {}),
    sensitivity: sensitivitiesOf(config),
    projectTags: projectTagsOf(config),
    chargeback: { tagColumns: config.chargeback.tagColumns },
    budgets: Object.fromEntries(
      Object.entries(config.teams).map(([team, { monthlyBudgetUsd }]) => [
        team,
        monthlyBudgetUsd * NANO_USD_PER_USD,
      ]),
    ),
  };
  parseSettings(settings);
  return settings;
}

type SensitivitySettings = NonNullable<PipelineSettingsInput['sensitivity']>;
type ProjectTagSettings = NonNullable<PipelineSettingsInput['projectTags']>;

/** The configured sensitivities, per team and per team and project; unlisted means `public`. */
function sensitivitiesOf(config: WarmbatchConfig): SensitivitySettings {
  const teams: Record<string, Sensitivity> = {};
  const projects: Record<string, Record<string, Sensitivity>> = {};
  for (const [team, { sensitivity, projects: ofTeam }] of Object.entries(config.teams)) {
    if (sensitivity) teams[team] = sensitivity;
    const raised = Object.entries(ofTeam ?? {}).flatMap(([project, p]) =>
      p.sensitivity ? [[project, p.sensitivity] as const] : [],
    );
    if (raised.length > 0) projects[team] = Object.fromEntries(raised);
  }
  return { teams, projects };
}

/** The configured default tags, per team and project. */
function projectTagsOf(config: WarmbatchConfig): ProjectTagSettings {
  const out: ProjectTagSettings = {};
  for (const [team, { projects }] of Object.entries(config.teams)) {
    const tagged = Object.entries(projects ?? {}).flatMap(([project, p]) =>
      p.tags && Object.keys(p.tags).length > 0 ? [[project, p.tags] as const] : [],
    );
    if (tagged.length > 0) out[team] = Object.fromEntries(tagged);
  }
  return out;
}

function sameOrigin(a: string, b: string): boolean {
  return new URL(a).origin === new URL(b).origin;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let node = input;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}
