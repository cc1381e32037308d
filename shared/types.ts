/**
 * Plain data types shared across the domain. Everything here is serializable JSON:
 * it travels in SQS messages, DynamoDB items and S3 objects.
 */

/**
 * Which batch: a batch id is unique within its team, and every key of a batch (its objects, its
 * jobs-table partition) carries both, so that policies can be scoped by the team.
 */
export interface BatchRef {
  team: string;
  batchId: string;
}

export const KINDS = ['docs', 'tests'] as const;
export type Kind = (typeof KINDS)[number];

/**
 * Which run of the work a batch (and each of its billed responses) belongs to: the batch as
 * submitted, a repair of tests that failed validation, or a shadow run of a sample on a second
 * model. The ledger keeps them apart so that chargeback can tell them apart (or leave the
 * shadow runs out).
 */
export const LANES = ['primary', 'repair', 'shadow'] as const;
export type Lane = (typeof LANES)[number];

export const SENSITIVITIES = ['public', 'internal', 'restricted'] as const;
export type Sensitivity = (typeof SENSITIVITIES)[number];

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * Token usage of one billed provider response, in the ledger's terms.
 * `completionTokens` includes `reasoningTokens` (reasoning is billed as output), as the
 * provider reports it; `promptHitTokens + promptMissTokens` is the prompt size.
 */
export interface Usage {
  promptHitTokens: number;
  promptMissTokens: number;
  completionTokens: number;
  reasoningTokens: number;
}

/** Terminal and non-terminal job states. Every job ends in exactly one terminal state. */
export const JOB_STATES = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'skipped_budget',
  'reused',
  'cancelled',
  'expired',
] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_STATES = [
  'succeeded',
  'failed',
  'skipped_budget',
  'reused',
  'cancelled',
  'expired',
] as const satisfies readonly JobState[];
export type TerminalState = (typeof TERMINAL_STATES)[number];

/** Which of a price row's prices billed a request: a flat row has one; a peak row two. */
export const TIERS = ['peak', 'off-peak', 'flat'] as const;
export type Tier = (typeof TIERS)[number];

/** Why a model cannot be priced at an instant (shared/pricing/errors.ts throws them). */
export const PRICING_ERROR_CODES = [
  /** No row of the catalog names the model. */
  'unknown_model',
  /** Every row of the model ended before the instant. */
  'model_retired',
  /** The model is known, but no row is in force at the instant (not yet, or a gap). */
  'model_not_in_force',
  /** Peak or off-peak depends on a holiday list the catalog does not have (a future year). */
  'holidays_unknown',
] as const;
export type PricingErrorCode = (typeof PRICING_ERROR_CODES)[number];
