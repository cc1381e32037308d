/**
 * What every QueueSender must do as its consumers see it: test/aws/queue.test.ts holds the SQS
 * sender to it, test/contracts/fakes.test.ts the in-memory one.
 */
import { expect, it } from 'vitest';
import type { QueueSender } from '../../shared/ports/queue';

export interface QueueUnderTest {
  sender: QueueSender;
  /** A standard queue and a FIFO queue (deduplication by id, not content), both empty. */
  standardUrl: string;
  fifoUrl: string;
  /** Bodies on a queue now, in any order. */
  bodies(queueUrl: string): string[];
}

const bodies = (n: number) => Array.from({ length: n }, (_, i) => `m-${i}`);

/** Registers the QueueSender contract. */
export function queueSenderContract(make: () => QueueUnderTest): void {
  it('sends more than ten messages to a standard queue', async () => {
    const q = make();

    await q.sender.send(
      q.standardUrl,
      bodies(23).map((body) => ({ body })),
    );

    expect(q.bodies(q.standardUrl).sort()).toEqual(bodies(23).sort());
  });

  it('sends FIFO messages with their group, dropping a repeated deduplication id', async () => {
    const q = make();

    await q.sender.send(q.fifoUrl, [
      { body: 'a', groupId: 'prefix-1', dedupId: 'a' },
      { body: 'b', groupId: 'prefix-2', dedupId: 'b' },
      { body: 'a again', groupId: 'prefix-1', dedupId: 'a' },
    ]);

    expect(q.bodies(q.fifoUrl).sort()).toEqual(['a', 'b']);
  });
}
