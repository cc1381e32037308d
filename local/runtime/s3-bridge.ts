import { randomBytes } from 'node:crypto';
import { HeadObjectCommand, NotFound } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import type { FauxqsServer, SpyMessage } from 'fauxqs';
import type { Logger } from '../../shared/ports/logger';
import { MANIFEST_SUFFIX, PREFIXES, VERDICTS_SUFFIX } from '../../shared/resources';
import type { LocalAwsClients } from './clients';

/** The message S3 sends to a destination when a notification configuration is saved. */
export interface S3TestEvent {
  Service: 'Amazon S3';
  Event: 's3:TestEvent';
  Time: string;
  Bucket: string;
  RequestId: string;
  HostId: string;
}

/**
 * Encodes an object key the way S3 writes it into event notifications: form encoding
 * (space as '+', everything outside `A-Za-z0-9 . - _ *` percent-encoded as UTF-8) except
 * that '/' is left as is.
 */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%20/g, '+')
    .replace(/%2F/g, '/')
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Inverse of {@link encodeS3EventKey}: the planner's own decoder, so the bridge's round trips are
 * checked against what the pipeline really does with the key.
 */
export { decodeEventKey as decodeS3EventKey } from '../../shared/pipeline/plan';

/**
 * Keys the deployed bucket notifies the intake queue about, by the same prefix and suffix
 * filters: dropped inputs, and under `batches/` every key ending in `manifest.json`, which the
 * planner then reads (`batches/<team>/<batchId>/manifest.json`) or refuses with a reason (the
 * old `batches/<batchId>/manifest.json`).
 */
export function isNotifiedKey(key: string): boolean {
  return (
    key.startsWith(PREFIXES.intake) ||
    (key.startsWith(PREFIXES.batches) &&
      (key.endsWith(MANIFEST_SUFFIX) || key.endsWith(VERDICTS_SUFFIX)))
  );
}

export interface ObjectCreatedInput {
  bucket: string;
  /** The raw key; encoded here. */
  key: string;
  size: number;
  /** ETag without quotes, as S3 puts it in events. */
  eTag: string;
  sequencer: string;
  eventTime: Date;
  region: string;
  eventName?: 'ObjectCreated:Put' | 'ObjectCreated:Copy' | 'ObjectCreated:CompleteMultipartUpload';
  configurationId?: string;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex').toUpperCase();

/** One S3 ObjectCreated notification, in the exact JSON shape S3 sends to SQS. */
export function objectCreatedEvent(input: ObjectCreatedInput): S3Event {
  const record: S3EventRecord = {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: input.region,
    eventTime: input.eventTime.toISOString(),
    eventName: input.eventName ?? 'ObjectCreated:Put',
    userIdentity: { principalId: 'AWS:LOCALUSER' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: {
      'x-amz-request-id': hex(8),
      'x-amz-id-2': randomBytes(48).toString('base64'),
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: input.configurationId ?? 'warmbatch-intake',
      bucket: {
        name: input.bucket,
        ownerIdentity: { principalId: 'LOCALOWNER' },
        arn: `arn:aws:s3:::${input.bucket}`,
      },
      object: {
        key: encodeS3EventKey(input.key),
        size: input.size,
        eTag: input.eTag,
        sequencer: input.sequencer,
      },
    },
  };
  return { Records: [record] };
}

/** The `s3:TestEvent` message, sent once when notifications are configured. */
export function testEvent(bucket: string, time: Date): S3TestEvent {
  return {
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: time.toISOString(),
    Bucket: bucket,
    RequestId: hex(8),
    HostId: randomBytes(48).toString('base64'),
  };
}

/** Increasing hex sequencers, like S3's, so events for one key can be ordered. */
function sequencerSource(): () => string {
  let last = 0n;
  return () => {
    const candidate = BigInt(Date.now()) * 1_000_000n;
    last = candidate > last ? candidate : last + 1n;
    return last.toString(16).toUpperCase().padStart(18, '0');
  };
}

export interface S3EventBridgeOptions {
  fauxqs: FauxqsServer;
  clients: Pick<LocalAwsClients, 's3' | 'sqs'>;
  bucket: string;
  /** The intake queue. */
  queueUrl: string;
  region: string;
  /** Send `s3:TestEvent` on start, as S3 does when the notification is configured. Default true. */
  sendTestEvent?: boolean;
  logger?: Logger;
  /**
   * Runs the bridge's calls under a caller's name (what the AWS meter counts by): the event's
   * SendMessage as `s3-notifications` (billed on AWS), the HEAD that reads its size as
   * `emulator` (only the emulation makes it).
   */
  scope?: <T>(caller: string, fn: () => T) => T;
}

/** Meter callers of the bridge: S3's notifications, and the HEADs only the emulation makes. */
export const BRIDGE_CALLERS = { notifications: 's3-notifications', emulator: 'emulator' } as const;

export interface S3EventBridge {
  /** Resolves when every event observed so far has been sent. */
  flush(): Promise<void>;
  /** Stops observing and waits for events already observed. */
  stop(): Promise<void>;
}

/**
 * Delivers S3 ObjectCreated notifications for intake objects and batch manifests to the intake
 * queue, which fauxqs accepts as configuration but never sends.
 *
 * Object creation is observed through fauxqs's message spy rather than by polling
 * ListObjectsV2: the spy reports every PutObject, CopyObject and CompleteMultipartUpload as it
 * happens, so an overwrite with identical content is still an event and nothing is missed
 * between polls. The spy has no subscribe call; a pending `waitForMessage` whose predicate
 * never matches sees every event, and is re-armed when `reset()` clears the spy.
 */
export async function startS3EventBridge(options: S3EventBridgeOptions): Promise<S3EventBridge> {
  const { fauxqs, clients, bucket, queueUrl, region, logger } = options;
  const scope = options.scope ?? (<T>(_caller: string, fn: () => T) => fn());
  const nextSequencer = sequencerSource();
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;
  let armed = false;

  const send = (body: unknown) =>
    scope(BRIDGE_CALLERS.notifications, () =>
      clients.sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(body) }),
      ),
    );

  const deliver = async (key: string, timestamp: number, copied: boolean): Promise<void> => {
    // Read size and ETag right away; S3 also notifies only after the write completed.
    let head: { ContentLength?: number; ETag?: string };
    try {
      head = await scope(BRIDGE_CALLERS.emulator, () =>
        clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
      );
    } catch (err) {
      if (err instanceof NotFound) {
        logger?.warn('object gone before its event was sent', { bucket, key });
        return;
      }
      throw err;
    }
    const event = objectCreatedEvent({
      bucket,
      key,
      size: head.ContentLength ?? 0,
      eTag: (head.ETag ?? '').replaceAll('"', ''),
      sequencer: nextSequencer(),
      eventTime: new Date(timestamp),
      region,
      eventName: copied ? 'ObjectCreated:Copy' : 'ObjectCreated:Put',
    });
    await send(event);
    logger?.debug('bridged S3 event', { bucket, key });
  };

  const observe = (msg: SpyMessage): false => {
    if (!armed || stopped || msg.service !== 's3') return false;
    if (msg.status !== 'uploaded' && msg.status !== 'copied') return false;
    if (msg.bucket !== bucket || !isNotifiedKey(msg.key)) return false;
    const { key, timestamp, status } = msg;
    chain = chain
      .then(() => deliver(key, timestamp, status === 'copied'))
      .catch((err: unknown) =>
        logger?.error('failed to bridge S3 event', { key, error: err as Error }),
      );
    return false;
  };

  const arm = () => {
    if (stopped) return;
    // Events already in the spy's buffer predate the bridge, as objects written before a
    // notification is configured do: the predicate ignores them while not armed.
    armed = false;
    fauxqs.spy.waitForMessage(observe).catch(arm);
    armed = true;
  };
  arm();

  if (options.sendTestEvent ?? true) await send(testEvent(bucket, new Date()));

  return {
    flush: async () => {
      let seen: Promise<void>;
      do {
        seen = chain;
        await seen;
      } while (seen !== chain);
    },
    stop: async () => {
      stopped = true;
      await chain;
    },
  };
}
