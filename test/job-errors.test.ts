import { describe, expect, it } from 'vitest';
import {
  FAILURE_CODES,
  failureAction,
  isFailureCode,
  isJobErrorCode,
  LLM_ERROR_NAMES,
} from '../shared/job-errors';
import * as errors from '../shared/llm/errors';

describe('job error codes', () => {
  it('names every error class the LLM client throws', () => {
    // Prepare
    const classes = Object.values(errors).filter(
      (value) =>
        typeof value === 'function' &&
        (value === errors.LlmError || value.prototype instanceof errors.LlmError),
    );

    // Act: NoEndpointError takes a sensitivity, the others a message; either gives the name.
    const names = classes.map(
      (make) => new (make as unknown as new (arg: string) => errors.LlmError)('public').name,
    );

    // Assess
    expect(names.length).toBeGreaterThan(5);
    expect([...names].sort()).toEqual([...LLM_ERROR_NAMES].sort());
  });

  it('tells what to do about every failure code', () => {
    const actions = new Set(FAILURE_CODES.map((code) => failureAction(code)));
    expect([...actions].sort()).toEqual([
      'configure',
      'fix-input',
      'none',
      'raise-budget',
      'run-again',
    ]);
  });

  it('sends input problems back to the person who dropped the file and budget stops to the budget', () => {
    expect(failureAction('path_traversal')).toBe('fix-input');
    expect(failureAction('skipped_budget')).toBe('raise-budget');
    expect(failureAction('AuthenticationError')).toBe('configure');
    expect(failureAction('max_attempts')).toBe('run-again');
    expect(failureAction('cancelled')).toBe('none');
  });

  it('recognizes only known codes read back from storage', () => {
    expect(isFailureCode('budget')).toBe(true);
    expect(isFailureCode('provider_400')).toBe(false);
    expect(isJobErrorCode('rejected')).toBe(false);
    expect(isJobErrorCode('ServerError')).toBe(true);
  });
});
