/**
 * An in-memory QueueSender that keeps what was sent, per queue URL, as SQS would accept it: a
 * FIFO queue (URL ending `.fifo`) needs a group id and drops a message whose deduplication id it
 * has seen (SQS: within five minutes; here: ever), and visibility changes are recorded.
 */
import type { QueueMessage, QueueSender } from '../../../shared/ports/queue';

export interface FakeQueueSender extends QueueSender {
  /** Messages accepted by each queue, in send order. */
  readonly sent: Map<string, QueueMessage[]>;
  /** Bodies accepted by a queue, in send order. */
  bodies(queueUrl: string): string[];
  /** Takes (and forgets) the messages accepted by a queue so far. */
  drain(queueUrl: string): QueueMessage[];
  /** Visibility changes asked for, in order. */
  readonly visibility: { queueUrl: string; receiptHandle: string; seconds: number }[];
}

export function fakeQueueSender(): FakeQueueSender {
  const sent = new Map<string, QueueMessage[]>();
  const dedup = new Map<string, Set<string>>();
  const visibility: FakeQueueSender['visibility'] = [];
  return {
    sent,
    visibility,
    bodies: (queueUrl) => (sent.get(queueUrl) ?? []).map((m) => m.body),
    drain(queueUrl) {
      const messages = sent.get(queueUrl) ?? [];
      sent.delete(queueUrl);
      return messages;
    },
    async send(queueUrl, messages) {
      const fifo = queueUrl.endsWith('.fifo');
      const seen = dedup.get(queueUrl) ?? new Set<string>();
      dedup.set(queueUrl, seen);
      const accepted = sent.get(queueUrl) ?? [];
      sent.set(queueUrl, accepted);
      for (const message of messages) {
        if (fifo) {
          if (message.groupId === undefined)
            throw new Error(`a message to FIFO queue ${queueUrl} needs a group id`);
          if (message.dedupId !== undefined) {
            if (seen.has(message.dedupId)) continue;
            seen.add(message.dedupId);
          }
        }
        accepted.push({ ...message });
      }
    },
    async changeVisibility(queueUrl, receiptHandle, seconds) {
      visibility.push({ queueUrl, receiptHandle, seconds });
    },
  };
}
