import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createAwsMeter, itemBytes, meterClient, UNSCOPED, usageOfMeter } from '../../local/meter';
import { createJobsStore } from '../../shared/aws/jobs';
import { aBatch } from '../aws/factories';
import { useLocalAws } from '../support/emulators';

const aws = useLocalAws();

/** A meter on this file's clients; installed once, reset by each test. */
const meter = createAwsMeter();
let latencyCalls = 0;
let installed = false;
function metered() {
  if (!installed) {
    const latency = {
      latencyMs: () => {
        latencyCalls++;
        return 0;
      },
    };
    meterClient(aws.clients.s3, 's3', meter, latency);
    meterClient(aws.clients.sqs, 'sqs', meter, latency);
    meterClient(aws.clients.ddb, 'dynamodb', meter, latency);
    installed = true;
  }
  meter.reset();
  latencyCalls = 0;
  return aws.clients;
}

describe('the AWS meter', () => {
  it("counts a job store's requests under the caller's name, with transactions priced per item", async () => {
    // Prepare
    const clients = metered();
    const store = createJobsStore({ ddb: clients.doc, table: aws.resources.tables.jobs });
    const batch = aBatch();

    // Act
    await meter.scope('planner', () =>
      store.createBatch(batch, [
        { jobId: 'a', path: 'a.ts', inputKey: 'i/a', outputKey: 'o/a' },
        { jobId: 'b', path: 'b.ts', inputKey: 'i/b', outputKey: 'o/b' },
      ]),
    );
    await meter.scope('worker', () => store.claimJob(batch, 'a', 'w-1', 60_000, new Date()));

    // Assess
    const planner = meter.snapshot().planner?.dynamodb ?? {};
    // The two jobs, the batch item and the project index: plain puts, units as reported.
    expect(planner.TransactWriteItems).toBeUndefined();
    expect(planner.PutItem?.calls).toBe(4);
    expect(planner.PutItem?.writeUnits).toBeGreaterThanOrEqual(4);
    // The batch was read first (consistent: one read unit).
    expect(planner.GetItem).toMatchObject({ calls: 1, readUnits: 1 });
    // The claim: one transaction of a condition check on the batch (2 read units) and an update
    // of the job (2 write units, taken at 1 KB: estimated), as AWS bills transactions.
    const worker = meter.snapshot().worker?.dynamodb ?? {};
    expect(worker.TransactWriteItems).toMatchObject({
      calls: 1,
      failed: 0,
      writeUnits: 2,
      estimatedWriteUnits: 2,
      readUnits: 2,
    });
    expect(latencyCalls).toBe(7);
    expect(meter.snapshot()[UNSCOPED]).toBeUndefined();
  });

  it('prices a put in a transaction at 2 write units per KB of its item', async () => {
    // Prepare: an item of about 1.5 KB and one of a few bytes
    const clients = metered();
    const table = aws.resources.tables.jobs;

    // Act
    await clients.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { pk: 'big', sk: 'x', body: 'x'.repeat(1_500) } } },
          { Put: { TableName: table, Item: { pk: 'small', sk: 'x' } } },
        ],
      }),
    );

    // Assess: 2 x 2 for the big item, 2 for the small one, none of it estimated
    expect(meter.snapshot()[UNSCOPED]?.dynamodb?.TransactWriteItems).toMatchObject({
      calls: 1,
      writeUnits: 6,
      estimatedWriteUnits: 0,
    });
  });

  it('counts a write whose condition failed as failed, billed one estimated write unit', async () => {
    // Prepare
    const clients = metered();
    const put = () =>
      clients.doc.send(
        new PutCommand({
          TableName: aws.resources.tables.jobs,
          Item: { pk: 'x', sk: 'y' },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await put();

    // Act
    await expect(put()).rejects.toThrow();

    // Assess
    expect(meter.snapshot()[UNSCOPED]?.dynamodb?.PutItem).toMatchObject({
      calls: 2,
      failed: 1,
      writeUnits: 2,
      estimatedWriteUnits: 1,
    });
  });

  it('bills SQS by 64 KB of payload and tells FIFO queues from standard ones', async () => {
    // Prepare
    const clients = metered();
    const big = 'x'.repeat(100_000);

    // Act
    await clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: aws.resources.queues.finalize.url,
        Entries: [
          { Id: '1', MessageBody: big },
          { Id: '2', MessageBody: 'small' },
        ],
      }),
    );
    await clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: aws.resources.queues.work.url,
        Entries: [{ Id: '1', MessageBody: 'w', MessageGroupId: 'g', MessageDeduplicationId: 'd' }],
      }),
    );

    // Assess
    const sqs = meter.snapshot()[UNSCOPED]?.sqs ?? {};
    expect(sqs.SendMessageBatch).toMatchObject({ calls: 1, billed: 2 });
    expect(sqs['SendMessageBatch.fifo']).toMatchObject({ calls: 1, billed: 1 });
    expect(usageOfMeter(meter.snapshot())).toEqual({
      'sqs.standardRequests': 2,
      'sqs.fifoRequests': 1,
    });
  });

  it('maps S3 requests to their price classes, leaving out callers not asked for', async () => {
    // Prepare
    const clients = metered();
    const put = (key: string) =>
      clients.s3.send(new PutObjectCommand({ Bucket: aws.resources.bucket, Key: key, Body: 'b' }));

    // Act
    await meter.scope('worker', () => put('outputs/a'));
    await meter.scope('uploads', () => put('intake/a'));
    await meter.scope('worker', () =>
      clients.s3.send(
        new PutObjectCommand({ Bucket: aws.resources.bucket, Key: 'outputs/b', Body: 'c' }),
      ),
    );

    // Assess
    expect(usageOfMeter(meter.snapshot(), ['worker'])).toEqual({ 's3.putRequests': 2 });
    expect(usageOfMeter(meter.snapshot())).toEqual({ 's3.putRequests': 3 });
  });
});

describe('itemBytes', () => {
  it('counts names and values, marshalled or plain, as DynamoDB sizes items', () => {
    expect(itemBytes({ pk: 'abc', n: 12345 })).toBe(2 + 3 + 1 + 4);
    expect(itemBytes({ pk: { S: 'abc' }, n: { N: '12345' } })).toBe(2 + 3 + 1 + 4);
    expect(itemBytes({ a: 'x'.repeat(2000) })).toBe(2001);
  });
});
