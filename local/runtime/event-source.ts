import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
} from 'aws-lambda';
import type { Logger } from '../../shared/ports/logger';
import { LOCAL_ACCOUNT_ID } from './clients';

/** A Lambda handler for an SQS event source, returning a partial batch response or nothing. */
export type SqsLambdaHandler = (
  event: SQSEvent,
  context: Context,
  // biome-ignore lint/suspicious/noConfusingVoidType: handlers that report no failures return nothing, as aws-lambda's SQSHandler allows
) => Promise<SQSBatchResponse | undefined | void>;

export interface EventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  functionName: string;
  handler: SqsLambdaHandler;
  /** Records per invocation at most. */
  batchSize: number;
  /** How long to gather records after the first arrives before invoking (Lambda's batching window). */
  maxBatchingWindowMs: number;
  /** The function's timeout: `getRemainingTimeInMillis()` counts down from it. */
  timeoutMs: number;
  memoryMb?: number;
  /** Concurrent pollers, each invoking one batch at a time (Lambda scales these). Default 2. */
  concurrency?: number;
  /**
   * Long-poll wait per ReceiveMessage; short so `stop()` returns quickly. Default 1 s. A poll is
   * not aborted on stop: the emulator would still hand a message arriving in the rest of its wait
   * to the closed request, hiding it for the visibility timeout from the pollers started next.
   */
  pollWaitSeconds?: number;
  logger?: Logger;
  /**
   * Runs an invocation's handler (`caller` = the function's name) and the poller's own calls
   * (`caller` = `lambda-poller:<function>`) under a caller's name: what the AWS meter counts by.
   */
  scope?: <T>(caller: string, fn: () => T) => T;
  /** Told of every invocation once it has ended: what Lambda would bill for it. */
  onInvocation?: (invocation: InvocationRecord) => void;
}

/** One invocation as Lambda bills it: one request, its duration at its memory size. */
export interface InvocationRecord {
  functionName: string;
  records: number;
  /** Epoch ms (the system clock) the handler was called at. */
  startedAt: number;
  durationMs: number;
  memoryMb: number;
  ok: boolean;
}

export interface EventSource {
  /** Stops polling and resolves once every in-flight invocation has finished. */
  stop(): Promise<void>;
}

/** Thrown into the log when an invocation outlives the function's timeout, as Lambda reports it. */
export class InvocationTimeoutError extends Error {
  override name = 'InvocationTimeoutError';
}

const toRecordAttributes = (msg: Message): SQSMessageAttributes => {
  const out: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(msg.MessageAttributes ?? {})) {
    out[name] = {
      stringValue: value.StringValue,
      binaryValue: value.BinaryValue
        ? Buffer.from(value.BinaryValue).toString('base64')
        : undefined,
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((b) =>
        Buffer.from(b).toString('base64'),
      ),
      dataType: value.DataType ?? 'String',
    };
  }
  return out;
};

/** Converts a received SQS message into the record Lambda hands to a function. */
export function toSqsRecord(msg: Message, queueArn: string, region: string): SQSRecord {
  const a = msg.Attributes ?? {};
  const attributes: SQSRecord['attributes'] = {
    ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
    SentTimestamp: a.SentTimestamp ?? String(Date.now()),
    SenderId: a.SenderId ?? LOCAL_ACCOUNT_ID,
    ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  };
  if (a.SequenceNumber) attributes.SequenceNumber = a.SequenceNumber;
  if (a.MessageGroupId) attributes.MessageGroupId = a.MessageGroupId;
  if (a.MessageDeduplicationId) attributes.MessageDeduplicationId = a.MessageDeduplicationId;
  const record: SQSRecord = {
    messageId: msg.MessageId ?? '',
    receiptHandle: msg.ReceiptHandle ?? '',
    body: msg.Body ?? '',
    attributes,
    messageAttributes: toRecordAttributes(msg),
    md5OfBody: msg.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
  if (msg.MD5OfMessageAttributes) record.md5OfMessageAttributes = msg.MD5OfMessageAttributes;
  return record;
}

/** A Lambda context whose remaining time counts down from the function's timeout. */
export function lambdaContext(
  functionName: string,
  region: string,
  timeoutMs: number,
  memoryMb = 1024,
  now: () => number = Date.now,
): Context {
  const deadline = now() + timeoutMs;
  const unsupported = () => {
    throw new Error('callback-style completion is not supported; return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

/**
 * Which records to delete after an invocation, following Lambda's partial batch response rules:
 * a thrown error or timeout keeps every record; an identifier that names no record of the batch
 * makes the whole response invalid, so every record is kept; otherwise all but the listed.
 */
export function recordsToDelete(
  records: readonly SQSRecord[],
  outcome: { ok: true; response: unknown } | { ok: false },
): SQSRecord[] {
  if (!outcome.ok) return [];
  const response = outcome.response as Partial<SQSBatchResponse> | null | undefined;
  const failures = response?.batchItemFailures;
  if (!Array.isArray(failures) || failures.length === 0) return [...records];
  const ids = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const f of failures) {
    const id = (f as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) return [];
    failed.add(id);
  }
  return records.filter((r) => !failed.has(r.messageId));
}

/**
 * Invokes the handler with one batch under the function's timeout, as Lambda does, and reports
 * the invocation; a throw or a timeout is an outcome (the batch comes back), not an error.
 */
async function runHandler(
  options: EventSourceOptions,
  scope: <T>(caller: string, fn: () => T) => T,
  records: SQSRecord[],
): Promise<{ ok: true; response: unknown } | { ok: false }> {
  const context = lambdaContext(
    options.functionName,
    options.region,
    options.timeoutMs,
    options.memoryMb,
  );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new InvocationTimeoutError(
            `${options.functionName} timed out after ${options.timeoutMs} ms`,
          ),
        ),
      options.timeoutMs,
    );
  });
  let outcome: { ok: true; response: unknown } | { ok: false };
  const started = performance.now();
  const startedAt = Date.now();
  try {
    const response = await Promise.race([
      scope(options.functionName, () => options.handler({ Records: records }, context)),
      timedOut,
    ]);
    outcome = { ok: true, response };
  } catch (err) {
    options.logger?.error('invocation failed; the batch will be redelivered', {
      function: options.functionName,
      records: records.length,
      error: err as Error,
    });
    outcome = { ok: false };
  } finally {
    clearTimeout(timer);
  }
  options.onInvocation?.({
    functionName: options.functionName,
    records: records.length,
    startedAt,
    durationMs: performance.now() - started,
    memoryMb: options.memoryMb ?? 1024,
    ok: outcome.ok,
  });
  return outcome;
}

/**
 * Polls a queue the way Lambda's SQS event source mapping does: long-poll, gather up to
 * `batchSize` records or until the batching window closes, invoke the handler, then delete the
 * records not reported in `batchItemFailures`. Records left undeleted reappear after the queue's
 * visibility timeout; the queue's redrive policy moves them to the DLQ. FIFO groups stay in
 * order because the queue hands out a group's next message only once the previous is deleted.
 */
export function startEventSource(options: EventSourceOptions): EventSource {
  const { sqs, queueUrl, logger } = options;
  const concurrency = options.concurrency ?? 2;
  const pollWait = options.pollWaitSeconds ?? 1;
  const scope = options.scope ?? (<T>(_caller: string, fn: () => T) => fn());
  const pollerName = `lambda-poller:${options.functionName}`;
  const stopping = new AbortController();

  const receive = async (max: number, waitSeconds: number): Promise<Message[]> => {
    const out = await scope(pollerName, () =>
      sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, max),
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      ),
    );
    return out.Messages ?? [];
  };

  const gather = async (): Promise<Message[]> => {
    const batch: Message[] = [];
    let windowEnds = Number.POSITIVE_INFINITY;
    while (!stopping.signal.aborted && batch.length < options.batchSize) {
      const remaining = windowEnds - Date.now();
      if (batch.length > 0 && (options.maxBatchingWindowMs === 0 || remaining <= 0)) break;
      // Receive waits are whole seconds; the last part of a window is gathered with short polls.
      const wait = batch.length === 0 ? pollWait : Math.min(20, Math.floor(remaining / 1000));
      const got = await receive(options.batchSize - batch.length, wait);
      if (got.length > 0 && batch.length === 0)
        windowEnds = Date.now() + options.maxBatchingWindowMs;
      for (const msg of got) {
        // A window longer than the visibility timeout sees a message again; the newest receipt
        // handle is the one that can delete it.
        const seen = batch.findIndex((m) => m.MessageId === msg.MessageId);
        if (seen >= 0) batch[seen] = msg;
        else batch.push(msg);
      }
      if (got.length === 0 && batch.length > 0 && wait === 0)
        await sleep(Math.min(50, Math.max(0, windowEnds - Date.now())));
    }
    return batch;
  };

  const invoke = async (records: SQSRecord[]): Promise<void> => {
    const outcome = await runHandler(options, scope, records);
    const done = recordsToDelete(records, outcome);
    for (let i = 0; i < done.length; i += 10) {
      const chunk = done.slice(i, i + 10);
      const result = await scope(pollerName, () =>
        sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle })),
          }),
        ),
      );
      if (result.Failed?.length)
        logger?.warn('some processed records could not be deleted', {
          function: options.functionName,
          failed: result.Failed.length,
        });
    }
  };

  const poller = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      try {
        const messages = await gather();
        // Records gathered while stopping are not handed over: they reappear after their
        // visibility timeout, as with a Lambda that is being disabled.
        if (messages.length === 0 || stopping.signal.aborted) continue;
        await invoke(messages.map((m) => toSqsRecord(m, options.queueArn, options.region)));
      } catch (err) {
        if (stopping.signal.aborted) break;
        logger?.error('event source poll failed', {
          function: options.functionName,
          error: err as Error,
        });
        await sleep(500, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    }
  };

  const pollers = Array.from({ length: concurrency }, () => poller());
  return {
    stop: async () => {
      stopping.abort();
      await Promise.all(pollers);
    },
  };
}
