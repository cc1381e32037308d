/**
 * A DynamoDB stream event source on this machine, as Lambda runs one: it reads the table's
 * stream on DynamoDB Local (every shard, from its oldest record), keeps the records the filter
 * accepts, and invokes the handler with Lambda's event shape, one batch at a time per shard. A
 * failed batch is retried from its first record (the iterator is not advanced), up to
 * `retryAttempts` times, then skipped and logged, as Lambda's on-failure destination would
 * receive it.
 */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { Logger } from '../../shared/ports/logger';

export type StreamLambdaHandler = (event: DynamoDBStreamEvent) => Promise<void>;

export interface StreamSourceOptions {
  ddb: DynamoDBClient;
  /** Where DynamoDB Local serves its streams API (its own endpoint). */
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  table: string;
  handler: StreamLambdaHandler;
  /** Keeps a record when true (Lambda's filter criteria); default every record. */
  filter?: (keys: { pk?: string; sk?: string }) => boolean;
  batchSize: number;
  /** Pause between polls of a shard with nothing new. */
  pollMs?: number;
  retryAttempts?: number;
  logger?: Logger;
}

export interface StreamSource {
  /** Resolves once every change made before the call has been handed to the handler. */
  settle(): Promise<void>;
  /** Stops polling and waits for the invocation in flight. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Lambda's event for a batch of stream records (keys only, as the table's stream holds). */
function toEvent(records: StreamRecord[], region: string, streamArn: string): DynamoDBStreamEvent {
  return {
    Records: records.map((r) => ({
      eventID: r.eventID as string,
      eventName: r.eventName as 'INSERT' | 'MODIFY' | 'REMOVE',
      eventSource: 'aws:dynamodb',
      eventVersion: '1.1',
      awsRegion: region,
      eventSourceARN: streamArn,
      dynamodb: {
        Keys: r.dynamodb?.Keys as never,
        SequenceNumber: r.dynamodb?.SequenceNumber as string,
        StreamViewType: 'KEYS_ONLY',
      },
    })),
  };
}

/** Whether the filter criteria keep a record (every record without a filter). */
function keep(r: StreamRecord, filter: StreamSourceOptions['filter']): boolean {
  const keys = r.dynamodb?.Keys;
  const pk = keys?.pk && 'S' in keys.pk ? keys.pk.S : undefined;
  const sk = keys?.sk && 'S' in keys.sk ? keys.sk.S : undefined;
  return filter ? filter({ pk, sk }) : true;
}

/** Invokes the handler with a batch, retrying it whole, then skipping it with an error logged. */
async function invoke(
  options: StreamSourceOptions,
  retryAttempts: number,
  event: DynamoDBStreamEvent,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await options.handler(event);
      return;
    } catch (err) {
      if (attempt > retryAttempts) {
        options.logger?.error('stream batch failed after its retries: skipped', {
          table: options.table,
          records: event.Records.length,
          error: (err as Error).message,
        });
        return;
      }
      options.logger?.warn('stream batch failed: retrying it whole', {
        table: options.table,
        attempt,
        error: (err as Error).message,
      });
    }
  }
}

/** Starts polling a table's stream; the table must have one (see ensureLocalResources). */
export async function startStreamSource(options: StreamSourceOptions): Promise<StreamSource> {
  const streams = new DynamoDBStreamsClient({
    endpoint: options.endpoint,
    region: options.region,
    credentials: options.credentials,
  });
  const described = await options.ddb.send(new DescribeTableCommand({ TableName: options.table }));
  const latestArn = described.Table?.LatestStreamArn;
  if (!latestArn) throw new Error(`table ${options.table} has no stream`);
  const streamArn: string = latestArn;
  // Lambda polls a stream shard four times a second.
  const pollMs = options.pollMs ?? 250;
  const retryAttempts = options.retryAttempts ?? 3;
  /** The last sequence number handed over, per shard. */
  const checkpoints = new Map<string, string>();
  /** Shards read to their end. */
  const closed = new Set<string>();
  let stopped = false;
  /** Completed full passes over every shard, each of which found nothing new. */
  let idlePasses = 0;

  /**
   * One pass over every shard; true when some shard had records. Each pass starts a shard
   * afresh after the last sequence number handed over (Lambda's checkpoint): DynamoDB Local
   * refuses an iterator kept from an empty read once records arrive (TrimmedDataAccess).
   */
  async function pass(): Promise<boolean> {
    const stream = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    let found = false;
    for (const shard of stream.StreamDescription?.Shards ?? []) {
      const id = shard.ShardId as string;
      if (closed.has(id)) continue;
      const after = checkpoints.get(id);
      const it = await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: id,
          ...(after === undefined
            ? { ShardIteratorType: 'TRIM_HORIZON' }
            : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }),
        }),
      );
      let iterator = it.ShardIterator;
      while (iterator && !stopped) {
        const out = await streams.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: options.batchSize }),
        );
        const all = out.Records ?? [];
        const records = all.filter((r) => keep(r, options.filter));
        if (records.length > 0)
          await invoke(options, retryAttempts, toEvent(records, options.region, streamArn));
        const last = all.at(-1)?.dynamodb?.SequenceNumber;
        if (last !== undefined) checkpoints.set(id, last);
        if (all.length > 0) found = true;
        iterator = out.NextShardIterator;
        if (iterator === undefined) closed.add(id);
        if (all.length === 0) break;
      }
    }
    return found;
  }

  const loop = (async () => {
    while (!stopped) {
      try {
        const found = await pass();
        idlePasses = found ? 0 : idlePasses + 1;
        if (!found) await sleep(pollMs);
      } catch (err) {
        options.logger?.warn('stream poll failed', { error: (err as Error).message });
        await sleep(pollMs);
      }
    }
  })();

  return {
    async settle() {
      // Two passes in a row that found nothing, the second begun after this call: every change
      // made before it has been handed to the handler.
      idlePasses = 0;
      while (!stopped && idlePasses < 2) await sleep(pollMs / 2);
    },
    async stop() {
      stopped = true;
      await loop;
      streams.destroy();
    },
  };
}
