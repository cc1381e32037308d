import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  freePort,
  JavaNotFoundError,
  PortInUseError,
  startEmulators,
} from '../../local/runtime/emulators';

let blocker: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
});

const occupy = async (): Promise<number> => {
  const port = await freePort();
  blocker = createServer();
  const server = blocker;
  await new Promise<void>((resolve) => server.listen(port, resolve));
  return port;
};

describe('emulators', () => {
  it('fails clearly when the S3/SQS port is taken', async () => {
    // Prepare
    const port = await occupy();

    // Act
    const starting = startEmulators({ ports: { s3Sqs: port, dynamodb: 0 } });

    // Assess
    await expect(starting).rejects.toBeInstanceOf(PortInUseError);
    await expect(starting).rejects.toThrow(String(port));
  });

  it('fails clearly when the DynamoDB port is taken', async () => {
    // Prepare
    const port = await occupy();

    // Act
    const starting = startEmulators({ ports: { s3Sqs: 0, dynamodb: port } });

    // Assess
    await expect(starting).rejects.toThrow(PortInUseError);
    await expect(starting).rejects.toThrow(/DynamoDB Local/);
  });

  it('fails clearly when java is missing', async () => {
    // Act
    const starting = startEmulators({
      ports: { s3Sqs: 0, dynamodb: 0 },
      javaCommand: '/nonexistent/bin/java',
    });

    // Assess
    await expect(starting).rejects.toBeInstanceOf(JavaNotFoundError);
    await expect(starting).rejects.toThrow(/Java 17/);
  });
});
