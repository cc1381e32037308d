import { describe, expect, it } from 'vitest';
import type { NotStartedCause } from '../../shared/executor/executor';
import {
  AuthenticationError,
  BadRequestError,
  InsufficientBalanceError,
  type LlmError,
  ServerError,
} from '../../shared/llm/errors';
import { BudgetBusyError, BudgetExhaustedError } from '../../shared/pipeline/admit';
import { type SettleFacts, settle, type Unanswered } from '../../shared/pipeline/work-settle';

const NOW = 1_800_000_000_000;
const facts = (over: Partial<SettleFacts> = {}): SettleFacts => ({
  attempts: 1,
  maxAttempts: 3,
  now: NOW,
  ...over,
});
const failed = (error: Error): Unanswered => ({ jobId: 'j', status: 'failed', error });
const notStarted = (cause: NotStartedCause, error?: Error): Unanswered => ({
  jobId: 'j',
  status: 'not_started',
  reason: 'why',
  cause,
  ...(error ? { error } : {}),
});
const serverError = () => new ServerError('upstream broke', { status: 503 });
const stopped: LlmError = new AuthenticationError('bad key', { status: 401 });

describe('settle: a job just claimed', () => {
  it.each([
    ['runs when nothing stands in its way', facts(), { kind: 'run' }],
    ['runs its last allowed attempt', facts({ attempts: 3 }), { kind: 'run' }],
    ['expires once the batch deadline passed', facts({ startBy: NOW }), { kind: 'expire' }],
    ['runs before the batch deadline', facts({ startBy: NOW + 1 }), { kind: 'run' }],
    [
      'fails once its attempts ran out',
      facts({ attempts: 4 }),
      { kind: 'fail', code: 'max_attempts' },
    ],
    [
      'expires rather than fails when both hold',
      facts({ attempts: 4, startBy: NOW - 1 }),
      { kind: 'expire' },
    ],
  ])('%s', (_name, given, expected) => {
    // Act
    const verdict = settle({ status: 'claimed' }, given);

    // Assess
    expect(verdict).toMatchObject(expected);
  });
});

describe('settle: a call that failed', () => {
  it.each([
    ['gives a retryable failure back', serverError(), facts(), { kind: 'release' }],
    [
      'expires a retryable failure past the batch deadline',
      serverError(),
      facts({ startBy: NOW }),
      { kind: 'expire' },
    ],
    [
      'fails a retryable failure on its last attempt, naming the error',
      serverError(),
      facts({ attempts: 3 }),
      {
        kind: 'fail',
        code: 'max_attempts',
        reason: expect.stringMatching(/last one failed with ServerError \(HTTP 503\): upstream/),
      },
    ],
    [
      'fails a refused request at once, naming it',
      new BadRequestError('bad input', { status: 400 }),
      facts(),
      {
        kind: 'fail',
        code: 'BadRequestError',
        reason: expect.stringMatching(/refused the request \(HTTP 400\): bad input$/),
      },
    ],
    [
      'tells a person what to do about an empty balance',
      new InsufficientBalanceError('no balance', { status: 402 }),
      facts(),
      { kind: 'fail', code: 'InsufficientBalanceError', reason: expect.stringMatching(/Top up/) },
    ],
    [
      'fails an error that is not the provider client\'s as "error"',
      new Error('boom'),
      facts(),
      { kind: 'fail', code: 'error' },
    ],
  ])('%s', (_name, error, given, expected) => {
    // Act
    const verdict = settle(failed(error), given);

    // Assess
    expect(verdict).toEqual(
      expected.kind === 'fail' ? expect.objectContaining(expected) : expected,
    );
  });
});

describe('settle: a call that was not started', () => {
  it.each([
    ['expires at the batch deadline', notStarted('batch_deadline'), facts(), { kind: 'expire' }],
    [
      'skips a job the budget has no room for',
      notStarted('before_call', new BudgetExhaustedError('cap reached')),
      facts(),
      { kind: 'skip', reason: 'cap reached' },
    ],
    [
      'gives a job back uncounted while the budget is busy',
      notStarted('before_call', new BudgetBusyError('held')),
      facts({ stopped }),
      { kind: 'release', waited: {} },
    ],
    [
      'fails a job of a stopped batch with the stopping error',
      notStarted('stopped'),
      facts({ stopped }),
      {
        kind: 'fail',
        code: 'AuthenticationError',
        reason: 'batch stopped: bad key. Check the API key stored for this endpoint',
      },
    ],
    [
      'gives back a job the invocation had no time for',
      notStarted('invocation_time'),
      facts(),
      { kind: 'release' },
    ],
    [
      'gives back a job of a cancelled batch (the release cancels it)',
      notStarted('stopped'),
      facts(),
      { kind: 'release' },
    ],
    [
      'gives back a job whose attempt could not be recorded',
      notStarted('before_call', new Error('ledger unavailable')),
      facts(),
      { kind: 'release' },
    ],
  ])('%s', (_name, outcome, given, expected) => {
    // Act
    const verdict = settle(outcome, given);

    // Assess
    expect(verdict).toEqual(expected);
  });
});
