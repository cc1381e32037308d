import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { createSqsQueueSender, QueueSendError } from '../../shared/aws/queue';
import { queueSenderContract } from '../contracts/queue.contract';
import { queueBodies, useLocalAws } from '../support/emulators';

const aws = useLocalAws();
const fast = { retries: 3, minTimeoutMs: 1 };

/**
 * The real SQS client, except that entries whose body is in `failing` are reported failed the
 * first `times` times they are sent (Infinity: always), as SQS does under partial failure.
 */
function flakySqs(failing: Set<string>, times: number, senderFault = false) {
  const seen = new Map<string, number>();
  const client: Pick<SQSClient, 'send'> = {
    send: (async (command: SendMessageBatchCommand) => {
      const entries = command.input.Entries ?? [];
      const fail = entries.filter((e) => {
        if (!failing.has(e.MessageBody ?? '')) return false;
        const n = (seen.get(e.MessageBody ?? '') ?? 0) + 1;
        seen.set(e.MessageBody ?? '', n);
        return n <= times;
      });
      const pass = entries.filter((e) => !fail.includes(e));
      const out = pass.length
        ? await aws.clients.sqs.send(
            new SendMessageBatchCommand({ ...command.input, Entries: pass }),
          )
        : { Successful: [], Failed: [] };
      return {
        ...out,
        Failed: [
          ...(out.Failed ?? []),
          ...fail.map((e) => ({ Id: e.Id, Code: 'InternalError', SenderFault: senderFault })),
        ],
      };
    }) as unknown as SQSClient['send'],
  };
  return client;
}

const bodies = (n: number) => Array.from({ length: n }, (_, i) => `m-${i}`);

describe('SQS queue sender', () => {
  queueSenderContract(() => ({
    sender: createSqsQueueSender(aws.clients.sqs, fast),
    standardUrl: aws.resources.queues.finalize.url,
    fifoUrl: aws.resources.queues.work.url,
    bodies: (url) => queueBodies(aws, url === aws.resources.queues.work.url ? 'work' : 'finalize'),
  }));

  it('retries the entries SQS failed until they are accepted, each sent once', async () => {
    const sender = createSqsQueueSender(flakySqs(new Set(['m-3', 'm-14']), 2), fast);
    const url = aws.resources.queues.finalize.url;

    await sender.send(
      url,
      bodies(15).map((body) => ({ body })),
    );

    expect(queueBodies(aws, 'finalize').sort()).toEqual(bodies(15).sort());
  });

  it('throws naming the entries that kept failing, after sending the rest', async () => {
    const sender = createSqsQueueSender(flakySqs(new Set(['m-4', 'm-12']), Infinity), fast);
    const url = aws.resources.queues.finalize.url;

    const sending = sender.send(
      url,
      bodies(15).map((body) => ({ body })),
    );

    await expect(sending).rejects.toThrow(QueueSendError);
    const error = (await sending.catch((e: unknown) => e)) as QueueSendError;
    expect(error.failed.map((f) => f.index)).toEqual([4, 12]);
    expect(error.message).toContain('#4 InternalError');
    expect(queueBodies(aws, 'finalize')).toHaveLength(13);
  });

  it('does not retry entries that SQS blames on the request', async () => {
    const sqs = flakySqs(new Set(['m-1']), 1, true);
    const sender = createSqsQueueSender(sqs, fast);

    const error = await sender
      .send(
        aws.resources.queues.finalize.url,
        bodies(3).map((body) => ({ body })),
      )
      .catch((e: unknown) => e);

    // Failing only on its first send, the entry would have passed had it been retried.
    expect(error).toBeInstanceOf(QueueSendError);
    expect((error as QueueSendError).failed).toEqual([
      { index: 1, code: 'InternalError', message: '', senderFault: true },
    ]);
    expect(queueBodies(aws, 'finalize').sort()).toEqual(['m-0', 'm-2']);
  });
});
