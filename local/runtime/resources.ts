import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import pRetry from 'p-retry';
import {
  ENV,
  QUEUES,
  type QueueName,
  type QueueSpec,
  TABLES,
  type TableName,
  visibilityTimeoutSeconds,
} from '../../shared/resources';
import type { LocalAwsClients } from './clients';

/** Bucket name used locally; in the cloud CloudFormation names it. */
export const DEFAULT_LOCAL_BUCKET = 'warmbatch-local';

export interface LocalQueue {
  name: string;
  url: string;
  arn: string;
  fifo: boolean;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  dlq: { name: string; url: string; arn: string };
}

/** Names, URLs and ARNs of everything created locally from shared/resources.ts. */
export interface LocalResources {
  bucket: string;
  queues: Record<QueueName, LocalQueue>;
  tables: Record<TableName, string>;
}

export interface EnsureResourcesOptions {
  bucket?: string;
  /**
   * Put before every table name, so several test files can share one DynamoDB Local without
   * seeing each other's items. Default none: the names of shared/resources.ts.
   */
  tablePrefix?: string;
  /**
   * Visibility timeout per queue, in seconds. Defaults to the deployed value (six times the
   * consumer's timeout); tests and demos scale it down so redelivery takes seconds.
   */
  visibilityTimeoutSeconds?: Partial<Record<QueueName, number>>;
}

/** Name of a queue's dead-letter queue; a FIFO queue's DLQ must itself be FIFO. */
export function dlqName(spec: QueueSpec): string {
  return spec.fifo ? `${spec.name.replace(/\.fifo$/, '')}-dlq.fifo` : `${spec.name}-dlq`;
}

const QUEUE_NAMES = Object.keys(QUEUES) as QueueName[];
const TABLE_NAMES = Object.keys(TABLES) as TableName[];

/**
 * Creates the queue if missing (only with the attributes fixed at creation), then sets the rest.
 * Setting separately keeps a second run idempotent when values changed, where CreateQueue with
 * different attributes would fail with QueueNameExists.
 */
async function ensureQueue(
  clients: LocalAwsClients,
  name: string,
  fifo: boolean,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  const created = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: fifo ? { FifoQueue: 'true' } : undefined,
    }),
  );
  const url = created.QueueUrl;
  if (!url) throw new Error(`CreateQueue returned no URL for ${name}`);
  if (Object.keys(attributes).length > 0)
    await clients.sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }),
    );
  const got = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = got.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${name} has no ARN`);
  return { url, arn };
}

async function ensureBucket(clients: LocalAwsClients, bucket: string): Promise<void> {
  try {
    await clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

/** DynamoDB Local makes tables active at once; the SDK waiter would still sleep a second. */
async function waitActive(clients: LocalAwsClients, table: string): Promise<void> {
  await pRetry(
    async () => {
      const out = await clients.ddb.send(new DescribeTableCommand({ TableName: table }));
      if (out.Table?.TableStatus !== 'ACTIVE') throw new Error(`table ${table} is not active yet`);
    },
    { retries: 100, factor: 1, minTimeout: 50, maxTimeout: 50 },
  );
}

async function ensureTable(
  clients: LocalAwsClients,
  table: TableName,
  name: string,
): Promise<string> {
  const spec = TABLES[table];
  try {
    await clients.ddb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: spec.partitionKey, AttributeType: 'S' },
          { AttributeName: spec.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: spec.partitionKey, KeyType: 'HASH' },
          { AttributeName: spec.sortKey, KeyType: 'RANGE' },
        ],
        ...(spec.stream
          ? { StreamSpecification: { StreamEnabled: true, StreamViewType: spec.stream } }
          : {}),
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  await waitActive(clients, name);
  if (spec.stream) {
    // A table made before it had a stream gets one, as a stack update would add it.
    const table = await clients.ddb.send(new DescribeTableCommand({ TableName: name }));
    if (!table.Table?.StreamSpecification?.StreamEnabled) {
      await clients.ddb.send(
        new UpdateTableCommand({
          TableName: name,
          StreamSpecification: { StreamEnabled: true, StreamViewType: spec.stream },
        }),
      );
      await waitActive(clients, name);
    }
  }
  // TTL stays off here, unlike the stack's tables. The emulator would delete items by the
  // machine's clock, while the pipeline runs on its own (`--at`, or a test's pinned instant):
  // reuse entries and drop markers written at a pinned instant would vanish whenever the machine's
  // date passed their expiry. The code checks every expiry itself against the pipeline's clock
  // (getReuse, the drop-marker condition); TTL only saves storage, which a local run does not need.
  if (spec.ttlAttribute) {
    const ttl = await clients.ddb.send(new DescribeTimeToLiveCommand({ TableName: name }));
    const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
    if (status === 'ENABLED' || status === 'ENABLING')
      await clients.ddb.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: spec.ttlAttribute, Enabled: false },
        }),
      );
  }
  return name;
}

/**
 * Creates, from shared/resources.ts, the bucket, every queue with its DLQ and redrive policy,
 * and every table with its keys (TTL off: see ensureTable). Safe to run again: existing resources are kept and
 * their settings brought up to date.
 */
export async function ensureLocalResources(
  clients: LocalAwsClients,
  options: EnsureResourcesOptions = {},
): Promise<LocalResources> {
  const bucket = options.bucket ?? DEFAULT_LOCAL_BUCKET;
  await ensureBucket(clients, bucket);

  const queueEntries = await Promise.all(
    QUEUE_NAMES.map(async (queue): Promise<[QueueName, LocalQueue]> => {
      const spec = QUEUES[queue];
      const dlq = dlqName(spec);
      const dead = await ensureQueue(clients, dlq, spec.fifo, {
        MessageRetentionPeriod: String(spec.dlqRetentionSeconds),
      });
      const visibility =
        options.visibilityTimeoutSeconds?.[queue] ?? visibilityTimeoutSeconds(queue);
      const main = await ensureQueue(clients, spec.name, spec.fifo, {
        VisibilityTimeout: String(visibility),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dead.arn,
          maxReceiveCount: spec.maxReceiveCount,
        }),
      });
      return [
        queue,
        {
          name: spec.name,
          ...main,
          fifo: spec.fifo,
          visibilityTimeoutSeconds: visibility,
          maxReceiveCount: spec.maxReceiveCount,
          dlq: { name: dlq, ...dead },
        },
      ];
    }),
  );

  const prefix = options.tablePrefix ?? '';
  const tableEntries = await Promise.all(
    TABLE_NAMES.map(
      async (table) =>
        [table, await ensureTable(clients, table, `${prefix}${TABLES[table].name}`)] as const,
    ),
  );

  return {
    bucket,
    queues: Object.fromEntries(queueEntries) as Record<QueueName, LocalQueue>,
    tables: Object.fromEntries(tableEntries) as Record<TableName, string>,
  };
}

/**
 * Drops and recreates the tables: the fastest way to empty them in DynamoDB Local, and it also
 * discards items a test wrote with a wrong key shape.
 */
export async function recreateTables(
  clients: LocalAwsClients,
  tables: Record<TableName, string>,
): Promise<void> {
  await Promise.all(
    TABLE_NAMES.map(async (table) => {
      try {
        await clients.ddb.send(new DeleteTableCommand({ TableName: tables[table] }));
      } catch (err) {
        if (!(err instanceof ResourceNotFoundException)) throw err;
      }
      await ensureTable(clients, table, tables[table]);
    }),
  );
}

/**
 * The environment a function sees in the cloud (shared/resources.ts `ENV`), filled with the
 * local resources, so handlers that read their configuration at cold start find it locally too.
 */
export function functionEnvironment(resources: LocalResources): Record<string, string> {
  return {
    [ENV.bucket]: resources.bucket,
    [ENV.jobsTable]: resources.tables.jobs,
    [ENV.ledgerTable]: resources.tables.ledger,
    [ENV.workQueueUrl]: resources.queues.work.url,
    [ENV.finalizeQueueUrl]: resources.queues.finalize.url,
  };
}
