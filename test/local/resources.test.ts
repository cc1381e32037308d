import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { ensureLocalResources } from '../../local/runtime/resources';
import { QUEUES, type QueueName, TABLES, type TableName } from '../../shared/resources';
import { useLocalAws } from '../support/emulators';

const aws = useLocalAws({ visibilityTimeoutSeconds: 3 });

const queueAttributes = async (url: string) =>
  (
    await aws.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
    )
  ).Attributes ?? {};

describe('local resources', () => {
  it.each(Object.keys(QUEUES) as QueueName[])(
    'creates the %s queue with its DLQ and redrive policy from shared/resources.ts',
    async (queue) => {
      // Prepare
      const spec = QUEUES[queue];
      const local = aws.resources.queues[queue];

      // Act
      const main = await queueAttributes(local.url);
      const dlq = await queueAttributes(local.dlq.url);

      // Assess
      expect(local.name).toBe(spec.name);
      expect(main.VisibilityTimeout).toBe('3');
      expect(JSON.parse(main.RedrivePolicy ?? '{}')).toEqual({
        deadLetterTargetArn: dlq.QueueArn,
        maxReceiveCount: spec.maxReceiveCount,
      });
      expect(dlq.MessageRetentionPeriod).toBe(String(spec.dlqRetentionSeconds));
      expect(main.FifoQueue === 'true').toBe(spec.fifo);
      expect(dlq.FifoQueue === 'true').toBe(spec.fifo);
    },
  );

  it.each(Object.keys(TABLES) as TableName[])(
    'creates the %s table with its keys, and TTL off',
    async (table) => {
      // Prepare
      const spec = TABLES[table];

      // Act
      const described = await aws.clients.ddb.send(
        new DescribeTableCommand({ TableName: aws.resources.tables[table] }),
      );
      const ttl = await aws.clients.ddb.send(
        new DescribeTimeToLiveCommand({ TableName: aws.resources.tables[table] }),
      );

      // Assess
      expect(described.Table?.KeySchema).toEqual([
        { AttributeName: spec.partitionKey, KeyType: 'HASH' },
        { AttributeName: spec.sortKey, KeyType: 'RANGE' },
      ]);
      // The emulator would expire items by the machine's clock, not the pipeline's: TTL is off
      // locally even where the stack turns it on (the code checks expiry itself).
      expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('DISABLED');
    },
  );

  it('can be created again, taking new settings, without losing anything', async () => {
    // Act
    const again = await ensureLocalResources(aws.clients, {
      visibilityTimeoutSeconds: { work: 7 },
    });

    // Assess
    expect(again.queues.intake.url).toBe(aws.resources.queues.intake.url);
    expect(again.queues.work.arn).toBe(aws.resources.queues.work.arn);
    expect((await queueAttributes(again.queues.work.url)).VisibilityTimeout).toBe('7');
    await expect(
      aws.clients.s3.send(new HeadBucketCommand({ Bucket: again.bucket })),
    ).resolves.toBeDefined();
  });

  it('uses the deployed visibility timeout (six times the consumer timeout) by default', async () => {
    // Act
    const deployed = await ensureLocalResources(aws.clients);

    // Assess
    expect((await queueAttributes(deployed.queues.work.url)).VisibilityTimeout).toBe('5400');
    expect((await queueAttributes(deployed.queues.intake.url)).VisibilityTimeout).toBe('720');
  });
});
