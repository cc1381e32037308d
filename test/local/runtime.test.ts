import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { S3Event, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { startLocalRuntime } from '../../local/runtime';
import { readLocalConfig } from '../../local/runtime/config-file';
import { decodeS3EventKey } from '../../local/runtime/s3-bridge';
import { ENV } from '../../shared/resources';
import { sharedAws } from '../support/shared-aws';
import { testTempDir } from '../support/temp';

describe('local runtime', () => {
  it('delivers a dropped file to the planner and a finalize message to finalize, then cleans up', async () => {
    // Prepare
    const configPath = join(await testTempDir('warmbatch-rt-'), 'warmbatch.json');
    const plannerKeys: string[] = [];
    const finalized: string[] = [];
    const plannerBodies: string[] = [];
    const runtime = await startLocalRuntime({
      ports: { s3Sqs: 0 },
      ...sharedAws(),
      configPath,
      timeScale: 0.01,
      handlers: ({ env }) => {
        expect(env[ENV.bucket]).toBe('warmbatch-local');
        return {
          planner: async (event: SQSEvent) => {
            for (const record of event.Records) {
              plannerBodies.push(record.body);
              const body = JSON.parse(record.body) as Partial<S3Event>;
              for (const r of body.Records ?? [])
                plannerKeys.push(decodeS3EventKey(r.s3.object.key));
            }
            return { batchItemFailures: [] };
          },
          finalize: async (event: SQSEvent) => {
            finalized.push(...event.Records.map((r) => r.body));
          },
        };
      },
    });

    try {
      // Act
      await runtime.clients.s3.send(
        new PutObjectCommand({
          Bucket: runtime.resources.bucket,
          Key: 'intake/team/proj/docs/a file.ts',
          Body: 'export {};\n',
        }),
      );
      await runtime.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: runtime.resources.queues.finalize.url,
          MessageBody: '{"batchId":"b1"}',
        }),
      );

      // Assess
      expect((await readLocalConfig(configPath))?.queueUrls.intake).toBe(
        runtime.resources.queues.intake.url,
      );
      await expect
        .poll(() => plannerKeys, { timeout: 10_000 })
        .toEqual(['intake/team/proj/docs/a file.ts']);
      expect(plannerBodies.some((b) => b.includes('s3:TestEvent'))).toBe(true);
      await expect.poll(() => finalized, { timeout: 10_000 }).toEqual(['{"batchId":"b1"}']);
    } finally {
      await runtime.stop();
    }
    expect(await readLocalConfig(configPath)).toBeUndefined();
  });
});
