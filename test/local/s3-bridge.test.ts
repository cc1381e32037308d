import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeS3EventKey,
  type S3EventBridge,
  type S3TestEvent,
  startS3EventBridge,
} from '../../local/runtime/s3-bridge';
import { queueBodies, useLocalAws } from '../support/emulators';

const aws = useLocalAws();

let bridge: S3EventBridge;

const startBridge = (sendTestEvent = false) =>
  startS3EventBridge({
    fauxqs: aws.emulators.fauxqs,
    clients: aws.clients,
    bucket: aws.resources.bucket,
    queueUrl: aws.resources.queues.intake.url,
    region: aws.emulators.region,
    sendTestEvent,
  });

const put = (key: string, body = 'export const x = 1;\n') =>
  aws.clients.s3.send(new PutObjectCommand({ Bucket: aws.resources.bucket, Key: key, Body: body }));

/** Bridged notifications on the intake queue, parsed. */
const intakeEvents = async (): Promise<S3Event[]> => {
  await bridge.flush();
  return queueBodies(aws, 'intake')
    .map((body) => JSON.parse(body) as S3Event | S3TestEvent)
    .filter((m): m is S3Event => 'Records' in m);
};

describe('S3 event bridge', () => {
  beforeEach(async () => {
    bridge = await startBridge();
  });
  afterEach(async () => {
    await bridge.stop();
  });

  it('sends one AWS-shaped event for an intake object whose key has spaces and unicode', async () => {
    // Prepare
    const key = 'intake/team a/proj/docs/src/Ünïcødé file 名前.ts';
    const body = 'export const greeting = "hi";\n';

    // Act
    await put(key, body);

    // Assess
    await expect.poll(async () => (await intakeEvents()).length).toBe(1);
    const [event] = await intakeEvents();
    const record = event?.Records[0];
    expect(event?.Records).toHaveLength(1);
    expect(record).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventName: 'ObjectCreated:Put',
      s3: {
        s3SchemaVersion: '1.0',
        bucket: {
          name: aws.resources.bucket,
          arn: `arn:aws:s3:::${aws.resources.bucket}`,
        },
        object: { size: Buffer.byteLength(body) },
      },
    });
    expect(record?.s3.object.key).toContain('team+a/proj/docs/src/');
    expect(record?.s3.object.key).not.toMatch(/[ ÜÏ名]/);
    expect(decodeS3EventKey(record?.s3.object.key ?? '')).toBe(key);
    expect(record?.s3.object.eTag).toMatch(/^[0-9a-f]{32}$/);
    expect(record?.s3.object.sequencer).toMatch(/^[0-9A-F]{18}$/);
    expect(Number.isNaN(Date.parse(record?.eventTime ?? ''))).toBe(false);
  });

  it('sends one event for a batch manifest', async () => {
    // Act
    await put('batches/team/b 1/manifest.json', '{"inputs":[]}');

    // Assess
    await expect.poll(async () => (await intakeEvents()).length).toBe(1);
    const [event] = await intakeEvents();
    expect(event?.Records[0]?.s3.object.key).toBe('batches/team/b+1/manifest.json');
  });

  it('sends nothing for outputs, results or other batch files', async () => {
    // Act
    await put('outputs/t/p/b/a.md');
    await put('results/t/b/summary.json');
    await put('batches/t/b/inputs.json');
    await put('intake/t/p/docs/a.ts');

    // Assess: only the intake object, which was written last, came through
    await expect.poll(async () => (await intakeEvents()).length).toBe(1);
    const keys = (await intakeEvents()).map((e) => e.Records[0]?.s3.object.key);
    expect(keys).toEqual(['intake/t/p/docs/a.ts']);
  });

  it('sends a new event, with the new ETag, when an object is overwritten', async () => {
    // Act
    await put('intake/t/p/docs/a.ts', 'one');
    await put('intake/t/p/docs/a.ts', 'two');

    // Assess
    await expect.poll(async () => (await intakeEvents()).length).toBe(2);
    const [first, second] = (await intakeEvents()).map((e) => e.Records[0]?.s3.object);
    expect((first?.sequencer ?? '') < (second?.sequencer ?? '')).toBe(true);
    expect(second?.eTag).not.toBe(first?.eTag);
  });

  it('keeps delivering after the emulator state is reset', async () => {
    // Prepare
    aws.emulators.fauxqs.reset();

    // Act
    await put('intake/t/p/docs/after-reset.ts');

    // Assess
    await expect.poll(async () => (await intakeEvents()).length).toBe(1);
  });
});

describe('S3 test event', () => {
  it('is sent once when the bridge starts, as S3 does when notifications are configured', async () => {
    // Act
    bridge = await startBridge(true);
    await bridge.stop();

    // Assess
    const messages = queueBodies(aws, 'intake').map((b) => JSON.parse(b) as S3TestEvent);
    expect(messages).toEqual([
      expect.objectContaining({
        Service: 'Amazon S3',
        Event: 's3:TestEvent',
        Bucket: aws.resources.bucket,
      }),
    ]);
  });
});
