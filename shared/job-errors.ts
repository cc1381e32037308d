/**
 * Why a file produced no output, as a code: one closed list, so finalize (errors.jsonl) and the
 * CLI (submit, status, results) can switch over it exhaustively, and a new code cannot be added
 * without saying what a person should do about it.
 */

/** Codes of inputs turned away before they became jobs, or failed at planning for their content. */
export const REJECTION_CODES = [
  'bad_key',
  'bad_name',
  'unknown_kind',
  'empty_path',
  'absolute_path',
  'path_traversal',
  'backslash',
  'control_char',
  'empty_segment',
  'path_too_long',
  'duplicate_path',
  'empty',
  'binary',
  'invalid_utf8',
  'too_large',
  'bad_manifest',
  'batch_id_mismatch',
  /** A manifest names another team than the one in its key. */
  'team_mismatch',
  /** A manifest stored in the layout before keys carried the team. */
  'old_layout',
  'unknown_model',
  'model_retired',
  'model_not_in_force',
  'bad_jsonl_line',
  /** A request's max_tokens is over its model's output limit (shared/models/limits.ts). */
  'max_tokens_over_limit',
  /** A request's estimated prompt plus max_tokens is over its model's context window. */
  'context_exceeded',
  /**
   * A repair names a job that has no answer to repair (absent, not succeeded, its output gone)
   * or no failure output.
   */
  'not_repairable',
  /**
   * A shadow run was not planned: no endpoint for the batch's sensitivity serves the shadow
   * model (a restricted job is never shadowed to an endpoint not configured for restricted).
   */
  'shadow_not_routable',
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

/** Names of the LLM client's errors (shared/llm/errors.ts); a job failed by one carries its name. */
export const LLM_ERROR_NAMES = [
  'LlmError',
  'NoEndpointError',
  'EndpointsOpenError',
  'DeadlineExceededError',
  'CallCancelledError',
  'BadRequestError',
  'AuthenticationError',
  'InsufficientBalanceError',
  'InvalidParametersError',
  'RateLimitedError',
  'ServerError',
  'ConnectionError',
  'EmptyContentError',
  'IncompleteResponseError',
  'ProviderError',
] as const;
export type LlmErrorName = (typeof LLM_ERROR_NAMES)[number];

/** Codes the pipeline itself gives a job it ends. */
export const PIPELINE_ERROR_CODES = [
  /** The planner could not plan the job (its planning stopped, or the job was not found again). */
  'not_planned',
  /** The team's or the batch's budget had no room for the job. */
  'budget',
  /** No endpoint is configured for the job's sensitivity. */
  'no_endpoint',
  /** The input object does not exist. */
  'missing',
  /** The batch's deadline passed before the job's request could be sent. */
  'deadline',
  /** Every attempt failed or did not finish. */
  'max_attempts',
  /** The request the planner stored for the job is gone. */
  'missing_request',
  /**
   * The stored request's hash, recomputed by the worker from what it would send, is not the one
   * the job was planned with: refused before any call, nothing billed.
   */
  'request_mismatch',
  /** A failure that is none of the above. */
  'error',
] as const;

/** Every code a job's error can carry. */
export const JOB_ERROR_CODES = [
  ...REJECTION_CODES,
  ...LLM_ERROR_NAMES,
  ...PIPELINE_ERROR_CODES,
] as const;
export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];

/**
 * Every code a reported failure can carry: a job's error code, or, for a job that ended without
 * one, its terminal state; `rejected` for an input whose code was not recorded.
 */
export const FAILURE_CODES = [
  ...JOB_ERROR_CODES,
  'failed',
  'skipped_budget',
  'cancelled',
  'expired',
  'rejected',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

/** Whether a string read back (from a table item or errors.jsonl) is a known failure code. */
export function isFailureCode(code: unknown): code is FailureCode {
  return typeof code === 'string' && (FAILURE_CODES as readonly string[]).includes(code);
}

/** Whether a string read back from a table item is a known job error code. */
export function isJobErrorCode(code: unknown): code is JobErrorCode {
  return typeof code === 'string' && (JOB_ERROR_CODES as readonly string[]).includes(code);
}

/**
 * Who acts on a failure, and how: fix the input and drop it again, raise the budget, fix the
 * platform's configuration (endpoint, key, provider balance), run the batch again later (the
 * provider or the pipeline failed transiently), or nothing (the batch was cancelled).
 */
export type FailureAction = 'fix-input' | 'raise-budget' | 'configure' | 'run-again' | 'none';

/** What a person should do about a failure with this code. */
export function failureAction(code: FailureCode): FailureAction {
  switch (code) {
    case 'bad_key':
    case 'bad_name':
    case 'unknown_kind':
    case 'empty_path':
    case 'absolute_path':
    case 'path_traversal':
    case 'backslash':
    case 'control_char':
    case 'empty_segment':
    case 'path_too_long':
    case 'duplicate_path':
    case 'empty':
    case 'binary':
    case 'invalid_utf8':
    case 'too_large':
    case 'bad_manifest':
    case 'batch_id_mismatch':
    case 'team_mismatch':
    case 'old_layout':
    case 'unknown_model':
    case 'model_retired':
    case 'model_not_in_force':
    case 'bad_jsonl_line':
    case 'max_tokens_over_limit':
    case 'context_exceeded':
    case 'not_repairable':
    case 'missing':
    case 'BadRequestError':
    case 'InvalidParametersError':
    case 'rejected':
      return 'fix-input';
    case 'budget':
    case 'skipped_budget':
      return 'raise-budget';
    case 'no_endpoint':
    case 'shadow_not_routable':
    case 'NoEndpointError':
    case 'AuthenticationError':
    case 'InsufficientBalanceError':
      return 'configure';
    case 'LlmError':
    case 'EndpointsOpenError':
    case 'DeadlineExceededError':
    case 'CallCancelledError':
    case 'RateLimitedError':
    case 'ServerError':
    case 'ConnectionError':
    case 'EmptyContentError':
    case 'IncompleteResponseError':
    case 'ProviderError':
    case 'not_planned':
    case 'max_attempts':
    case 'missing_request':
    case 'request_mismatch':
    case 'error':
    case 'failed':
    case 'deadline':
    case 'expired':
      return 'run-again';
    case 'cancelled':
      return 'none';
    default:
      return unreachable(code);
  }
}

function unreachable(code: never): never {
  throw new RangeError(`unknown failure code ${String(code)}`);
}
