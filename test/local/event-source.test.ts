import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type EventSource,
  type EventSourceOptions,
  type SqsLambdaHandler,
  startEventSource,
} from '../../local/runtime/event-source';
import { QUEUES, type QueueName } from '../../shared/resources';
import { queueBodies, useLocalAws } from '../support/emulators';

const VISIBILITY_SECONDS = 1;
const aws = useLocalAws({ visibilityTimeoutSeconds: VISIBILITY_SECONDS });

const running: EventSource[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

const startSource = (
  queue: QueueName,
  handler: SqsLambdaHandler,
  overrides: Partial<EventSourceOptions> = {},
): EventSource => {
  const q = aws.resources.queues[queue];
  const source = startEventSource({
    sqs: aws.clients.sqs,
    queueUrl: q.url,
    queueArn: q.arn,
    region: aws.emulators.region,
    functionName: `test-${queue}`,
    handler,
    batchSize: 10,
    maxBatchingWindowMs: 0,
    timeoutMs: 5_000,
    concurrency: 1,
    ...overrides,
  });
  running.push(source);
  return source;
};

const send = (queue: QueueName, body: string, group?: string) =>
  aws.clients.sqs.send(
    new SendMessageCommand({
      QueueUrl: aws.resources.queues[queue].url,
      MessageBody: body,
      MessageGroupId: group,
      MessageDeduplicationId: group ? body : undefined,
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'docs' } },
    }),
  );

/** A handler that records every batch and answers with what `respond` returns. */
const recordingHandler = (
  respond: (records: SQSRecord[], call: number) => ReturnType<SqsLambdaHandler> = async () =>
    undefined,
) => {
  const batches: SQSRecord[][] = [];
  const handler: SqsLambdaHandler = async (event) => {
    batches.push(event.Records);
    return respond(event.Records, batches.length);
  };
  const bodies = () => batches.map((b) => b.map((r) => r.body));
  const seen = (body: string) => batches.flat().filter((r) => r.body === body);
  return { handler, batches, bodies, seen };
};

const failing = (records: SQSRecord[], bodies: string[]) => ({
  batchItemFailures: records
    .filter((r) => bodies.includes(r.body))
    .map((r) => ({ itemIdentifier: r.messageId })),
});

describe('Lambda-style SQS event source', () => {
  it('hands records to the handler in the exact shape Lambda uses', async () => {
    // Prepare
    const spy = recordingHandler();
    await send('intake', 'hello');

    // Act
    startSource('intake', spy.handler);

    // Assess
    await expect.poll(() => spy.batches.length).toBe(1);
    const record = spy.batches[0]?.[0];
    expect(record).toMatchObject({
      body: 'hello',
      eventSource: 'aws:sqs',
      eventSourceARN: aws.resources.queues.intake.arn,
      awsRegion: 'us-east-1',
      md5OfBody: '5d41402abc4b2a76b9719d911017c592',
      attributes: { ApproximateReceiveCount: '1', SenderId: '000000000000' },
      messageAttributes: {
        kind: {
          stringValue: 'docs',
          dataType: 'String',
          stringListValues: [],
          binaryListValues: [],
        },
      },
    });
    expect(record?.messageId).toMatch(/\S/);
    expect(record?.receiptHandle).toMatch(/\S/);
    expect(Number(record?.attributes.SentTimestamp)).toBeGreaterThan(0);
  });

  it('never invokes with more records than the batch size', async () => {
    // Prepare
    const spy = recordingHandler();
    for (let i = 0; i < 7; i++) await send('intake', `m${i}`);

    // Act
    startSource('intake', spy.handler, { batchSize: 3, maxBatchingWindowMs: 200 });

    // Assess
    await expect.poll(() => spy.batches.flat().length).toBe(7);
    expect(spy.batches.map((b) => b.length)).toEqual([3, 3, 1]);
  });

  it('gathers records that arrive within the batching window into one invocation', async () => {
    // Prepare
    const spy = recordingHandler();
    startSource('intake', spy.handler, { batchSize: 10, maxBatchingWindowMs: 800 });

    // Act
    await send('intake', 'first');
    await sleep(300);
    await send('intake', 'second');
    await send('intake', 'third');

    // Assess: the window closes with the batch not full, and the handler gets all three at once
    await expect.poll(() => spy.batches.length, { timeout: 5_000 }).toBe(1);
    expect(spy.bodies()[0]?.sort()).toEqual(['first', 'second', 'third']);
    await expect.poll(() => queueBodies(aws, 'intake')).toEqual([]);
  });

  it('gathers a message only once when the window outlasts its visibility timeout', async () => {
    // Prepare
    const spy = recordingHandler();
    startSource('intake', spy.handler, {
      batchSize: 10,
      maxBatchingWindowMs: VISIBILITY_SECONDS * 1000 + 600,
    });

    // Act
    await send('intake', 'only');

    // Assess
    await expect.poll(() => spy.batches.length, { timeout: 5_000 }).toBe(1);
    expect(spy.bodies()).toEqual([['only']]);
    await expect.poll(() => queueBodies(aws, 'intake')).toEqual([]);
  });

  it('redelivers only the records listed in batchItemFailures, after the visibility timeout', async () => {
    // Prepare
    const spy = recordingHandler(async (records, call) =>
      call === 1 ? failing(records, ['b']) : undefined,
    );
    for (const body of ['a', 'b', 'c']) await send('intake', body);

    // Act
    startSource('intake', spy.handler, { maxBatchingWindowMs: 200 });

    // Assess
    await expect.poll(() => spy.batches.length, { timeout: 5_000 }).toBe(2);
    expect(spy.bodies()[0]?.sort()).toEqual(['a', 'b', 'c']);
    expect(spy.bodies()[1]).toEqual(['b']);
    expect(spy.batches[1]?.[0]?.attributes.ApproximateReceiveCount).toBe('2');
    await expect.poll(() => queueBodies(aws, 'intake')).toEqual([]);
  });

  it('moves a record that always fails to the DLQ after maxReceiveCount receives', async () => {
    // Prepare
    const spy = recordingHandler(async (records) => failing(records, ['poison']));
    await send('intake', 'poison');
    await send('intake', 'fine');

    // Act
    startSource('intake', spy.handler);

    // Assess
    await expect
      .poll(() => queueBodies(aws, 'intake', 'dlq'), { timeout: 15_000, interval: 200 })
      .toEqual(['poison']);
    const receives = spy.seen('poison').map((r) => r.attributes.ApproximateReceiveCount);
    expect(receives).toEqual(
      Array.from({ length: QUEUES.intake.maxReceiveCount }, (_, i) => String(i + 1)),
    );
    expect(spy.seen('fine')).toHaveLength(1);
    expect(queueBodies(aws, 'intake')).toEqual([]);
  });

  it('redelivers the whole batch when the handler throws', async () => {
    // Prepare
    const spy = recordingHandler(async (_records, call) => {
      if (call === 1) throw new Error('downstream unavailable');
      return undefined;
    });
    await send('intake', 'x');
    await send('intake', 'y');

    // Act
    startSource('intake', spy.handler, { maxBatchingWindowMs: 200 });

    // Assess
    await expect.poll(() => spy.batches.flat().length, { timeout: 5_000 }).toBe(4);
    expect(spy.seen('x')).toHaveLength(2);
    expect(spy.seen('y')).toHaveLength(2);
    await expect.poll(() => queueBodies(aws, 'intake')).toEqual([]);
  });

  it('keeps each FIFO group in order and never runs two messages of a group at once', async () => {
    // Prepare
    const order: Record<string, string[]> = { A: [], B: [] };
    const active = new Set<string>();
    let overlaps = 0;
    const handler: SqsLambdaHandler = async (event) => {
      for (const record of event.Records) {
        const group = record.attributes.MessageGroupId ?? '?';
        if (active.has(group)) overlaps++;
        active.add(group);
        await sleep(40);
        order[group]?.push(record.body);
        active.delete(group);
      }
      return undefined;
    };
    for (const i of [1, 2, 3, 4]) {
      await send('work', `A${i}`, 'A');
      await send('work', `B${i}`, 'B');
    }

    // Act
    startSource('work', handler, { batchSize: 1, concurrency: 3 });

    // Assess
    await expect
      .poll(() => (order.A?.length ?? 0) + (order.B?.length ?? 0), { timeout: 5_000 })
      .toBe(8);
    expect(order.A).toEqual(['A1', 'A2', 'A3', 'A4']);
    expect(order.B).toEqual(['B1', 'B2', 'B3', 'B4']);
    expect(overlaps).toBe(0);
  });

  it("counts getRemainingTimeInMillis down from the function's timeout", async () => {
    // Prepare
    const remaining: number[] = [];
    const handler: SqsLambdaHandler = async (_event, context) => {
      remaining.push(context.getRemainingTimeInMillis());
      await sleep(120);
      remaining.push(context.getRemainingTimeInMillis());
      return undefined;
    };
    await send('intake', 'tick');

    // Act
    startSource('intake', handler, { timeoutMs: 3_000 });

    // Assess
    await expect.poll(() => remaining.length).toBe(2);
    const [start = 0, later = 0] = remaining;
    expect(start).toBeLessThanOrEqual(3_000);
    expect(start).toBeGreaterThan(2_000);
    expect(later).toBeLessThanOrEqual(start - 100);
  });

  it('keeps the batch when the handler outlives the function timeout', async () => {
    // Prepare
    const spy = recordingHandler(async (_records, call) => {
      if (call === 1) await sleep(600);
      return undefined;
    });
    await send('intake', 'slow');

    // Act
    startSource('intake', spy.handler, { timeoutMs: 200 });

    // Assess
    await expect.poll(() => spy.batches.length, { timeout: 5_000 }).toBe(2);
    expect(spy.batches[1]?.[0]?.attributes.ApproximateReceiveCount).toBe('2');
  });

  it('waits for in-flight invocations when stopped', async () => {
    // Prepare
    let finished = false;
    let started = false;
    const handler: SqsLambdaHandler = async () => {
      started = true;
      await sleep(300);
      finished = true;
      return undefined;
    };
    const source = startSource('intake', handler);
    await send('intake', 'job');
    await expect.poll(() => started).toBe(true);

    // Act
    await source.stop();

    // Assess
    expect(finished).toBe(true);
    expect(queueBodies(aws, 'intake')).toEqual([]);
  });
});
