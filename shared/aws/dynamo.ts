/**
 * Small DynamoDB helpers shared by the stores: transactions that retry on conflicts and report
 * condition failures as data, paginated queries, and checks on the integers stored as money.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  paginateQuery,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import pRetry, { AbortError } from 'p-retry';
import { TOTAL_FIELDS, type Totals } from '../totals';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** How a store retries transactions that collide with other writers on a hot item. */
export interface ConflictRetryOptions {
  /** Retries after the first attempt. Default 10. */
  retries?: number;
  /** First backoff in ms, randomized and doubled each retry. Default 20. */
  minTimeoutMs?: number;
}

/**
 * A write kept colliding with concurrent writers (roll-up and budget items are shared by every
 * worker of a team) and was given up. Nothing was written; the caller should fail the message
 * so that SQS redelivers it, which is safe because every store write is idempotent.
 */
export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
}

/** The per-item outcome of a cancelled transaction, in the order the items were given. */
export interface CancelledItem {
  /** `None`, `ConditionalCheckFailed`, `TransactionConflict`, ... */
  code: string;
  /** Raw attribute values of the item that failed its condition, when it exists. */
  item?: Record<string, { S?: string; N?: string; BOOL?: boolean }>;
}

export type TransactOutcome = { ok: true } | { ok: false; reasons: CancelledItem[] };

const RETRYABLE_CODES = new Set([
  'TransactionConflict',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'RequestLimitExceeded',
]);

class RetryableCancellation extends Error {
  override name = 'RetryableCancellation';
}

/**
 * Runs one TransactWriteItems. Conflicts and throttling are retried with jittered backoff; a
 * failed condition is returned as `{ ok: false, reasons }` so the caller can tell "already done"
 * from "not allowed". Every item should set ReturnValuesOnConditionCheckFailure where the caller
 * needs to know why.
 */
export async function transact(
  ddb: DynamoDBDocumentClient,
  items: TransactItem[],
  retry: ConflictRetryOptions = {},
): Promise<TransactOutcome> {
  const attempt = async (): Promise<TransactOutcome> => {
    try {
      await ddb.send(new TransactWriteCommand({ TransactItems: items }));
      return { ok: true };
    } catch (err) {
      if (!(err instanceof TransactionCanceledException)) {
        if ((err as Error | null)?.name === 'TransactionConflictException') {
          throw new RetryableCancellation('transaction conflict', { cause: err });
        }
        throw new AbortError(err as Error);
      }
      const reasons: CancelledItem[] = (err.CancellationReasons ?? []).map((r) => ({
        code: r.Code ?? 'None',
        ...(r.Item ? { item: r.Item as CancelledItem['item'] } : {}),
      }));
      if (reasons.some((r) => r.code === 'ConditionalCheckFailed')) return { ok: false, reasons };
      if (reasons.some((r) => RETRYABLE_CODES.has(r.code))) {
        throw new RetryableCancellation(reasons.map((r) => r.code).join(','), { cause: err });
      }
      throw new AbortError(err);
    }
  };
  try {
    return await pRetry(attempt, {
      retries: retry.retries ?? 10,
      minTimeout: retry.minTimeoutMs ?? 20,
      maxTimeout: 2_000,
      factor: 2,
      randomize: true,
    });
  } catch (err) {
    if (err instanceof RetryableCancellation) {
      throw new StoreConflictError(`transaction kept conflicting: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** True when the item at `index` of a cancelled transaction failed its condition. */
export function conditionFailed(reasons: readonly CancelledItem[], index: number): boolean {
  return reasons[index]?.code === 'ConditionalCheckFailed';
}

/**
 * Awaits one conditional write (Put or Update): true when it was written, false when its
 * condition failed. Any other error is thrown.
 */
export async function conditionalWrite(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if ((err as Error | null)?.name === 'ConditionalCheckFailedException') return false;
    throw err;
  }
}

/** Every item of a Query, across pages. */
export async function queryAll(
  ddb: DynamoDBDocumentClient,
  input: QueryCommandInput,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of paginateQuery({ client: ddb }, input)) items.push(...(page.Items ?? []));
  return items;
}

/** `#name` placeholders for attribute names, which avoids clashes with reserved words. */
export function names(...attributes: string[]): Record<string, string> {
  return Object.fromEntries(attributes.map((a) => [`#${a}`, a]));
}

/** Throws unless `value` is a non-negative safe integer: money and token counts are never fractional. */
export function assertCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  }
}

/** Reads an item's numeric attribute, 0 when absent (ADD counters appear on first use). */
export function num(item: Record<string, unknown>, key: string): number {
  const v = item[key];
  return typeof v === 'number' ? v : 0;
}

/** Reads the totals of a batch or roll-up item. */
export function readTotals(item: Record<string, unknown>): Totals {
  return Object.fromEntries(TOTAL_FIELDS.map((f) => [f, num(item, f)])) as Totals;
}
