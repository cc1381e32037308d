import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import pRetry, { AbortError } from 'p-retry';
import type { QueueMessage, QueueSender } from '../ports/queue';

/** A failed entry of a send, named by its position in the caller's array. */
export interface FailedMessage {
  index: number;
  code: string;
  message: string;
  /** True when SQS blamed the request (bad body, bad group id): retrying cannot help. */
  senderFault: boolean;
}

/**
 * Some messages could not be sent after retries. The others were sent: callers that resend
 * should rely on consumers being idempotent (they are: jobs are claimed, costs keyed by response).
 */
export class QueueSendError extends Error {
  override name = 'QueueSendError';
  constructor(
    readonly queueUrl: string,
    readonly failed: readonly FailedMessage[],
    options?: { cause?: unknown },
  ) {
    const named = failed.map((f) => `#${f.index} ${f.code}`).join(', ');
    super(`${failed.length} message(s) not sent to ${queueUrl}: ${named}`, options);
  }
}

/** SendMessageBatch accepts at most ten entries. */
const SQS_BATCH_LIMIT = 10;

export interface SqsQueueSenderOptions {
  /** Retries of the entries that failed (not counting the first attempt). Default 4. */
  retries?: number;
  /** First backoff in ms, doubled on each retry. Default 100. */
  minTimeoutMs?: number;
}

class PartialSendFailure extends Error {
  override name = 'PartialSendFailure';
}

/**
 * A QueueSender over SQS: batches of ten, entries that failed retried with backoff (p-retry),
 * then a QueueSendError naming every entry still unsent. Sender-fault entries are not retried.
 */
export function createSqsQueueSender(
  sqs: Pick<SQSClient, 'send'>,
  options: SqsQueueSenderOptions = {},
): QueueSender {
  const retries = options.retries ?? 4;
  const minTimeout = options.minTimeoutMs ?? 100;

  async function sendChunk(queueUrl: string, messages: readonly QueueMessage[], offset: number) {
    // Indices (into the caller's array) still to send, and the last failure of each.
    let pending = messages.map((_, i) => offset + i);
    const failures = new Map<number, FailedMessage>();

    const attempt = async () => {
      const res = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: pending.map((index) => {
            const m = messages[index - offset] as QueueMessage;
            return {
              Id: String(index),
              MessageBody: m.body,
              MessageGroupId: m.groupId,
              MessageDeduplicationId: m.dedupId,
              DelaySeconds: m.delaySeconds,
            };
          }),
        }),
      );
      const failed = res.Failed ?? [];
      for (const f of failed) {
        const index = Number(f.Id);
        failures.set(index, {
          index,
          code: f.Code ?? 'Unknown',
          message: f.Message ?? '',
          senderFault: f.SenderFault === true,
        });
      }
      for (const s of res.Successful ?? []) failures.delete(Number(s.Id));
      if (failed.length === 0) return;
      const error = new PartialSendFailure(`${failed.length} entries failed`);
      // Sender-fault entries will fail again; drop them from the retry but keep them reported.
      pending = failed.filter((f) => f.SenderFault !== true).map((f) => Number(f.Id));
      throw pending.length === 0 ? new AbortError(error) : error;
    };

    try {
      await pRetry(attempt, { retries, minTimeout, factor: 2, randomize: true });
    } catch (err) {
      if (failures.size === 0) throw err;
      throw new QueueSendError(queueUrl, [...failures.values()], { cause: err });
    }
    if (failures.size > 0) throw new QueueSendError(queueUrl, [...failures.values()]);
  }

  return {
    async send(queueUrl, messages) {
      const errors: FailedMessage[] = [];
      let cause: unknown;
      for (let offset = 0; offset < messages.length; offset += SQS_BATCH_LIMIT) {
        try {
          await sendChunk(queueUrl, messages.slice(offset, offset + SQS_BATCH_LIMIT), offset);
        } catch (err) {
          if (!(err instanceof QueueSendError)) throw err;
          errors.push(...err.failed);
          cause = err.cause;
        }
      }
      if (errors.length > 0) throw new QueueSendError(queueUrl, errors, { cause });
    },

    async changeVisibility(queueUrl, receiptHandle, seconds) {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: receiptHandle,
          // SQS takes whole seconds, at most 12 hours.
          VisibilityTimeout: Math.min(43_200, Math.max(0, Math.ceil(seconds))),
        }),
      );
    },
  };
}
