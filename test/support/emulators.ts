import { type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import {
  createLocalClients,
  destroyLocalClients,
  type LocalAwsClients,
} from '../../local/runtime/clients';
import { type Emulators, startEmulators } from '../../local/runtime/emulators';
import {
  ensureLocalResources,
  type LocalResources,
  recreateTables,
} from '../../local/runtime/resources';
import type { QueueName } from '../../shared/resources';
import { sharedAws } from './shared-aws';

export interface LocalAws {
  readonly emulators: Emulators;
  readonly clients: LocalAwsClients;
  readonly resources: LocalResources;
}

export interface UseLocalAwsOptions {
  /** Visibility timeout of every queue in tests, in seconds; short so redelivery is quick. */
  visibilityTimeoutSeconds?: number;
}

/**
 * Starts S3+SQS once for the calling test file, on a free port, and the pipeline's resources
 * on it and on the run's shared DynamoDB Local (tables under a prefix of this file's own); empties queues, bucket and tables before each test; stops everything after the
 * file. Read the returned object's fields inside tests or hooks (they exist after beforeAll).
 */
export function useLocalAws(options: UseLocalAwsOptions = {}): LocalAws {
  const visibility = options.visibilityTimeoutSeconds ?? 2;
  let state:
    | { emulators: Emulators; clients: LocalAwsClients; resources: LocalResources }
    | undefined;
  const get = () => {
    if (!state) throw new Error('local AWS is not started: use it inside tests or hooks');
    return state;
  };

  beforeAll(async () => {
    const { dynamodbEndpoint, tablePrefix } = sharedAws();
    const emulators = await startEmulators({ ports: { s3Sqs: 0 }, dynamodbEndpoint });
    const clients = createLocalClients(emulators.endpoints, emulators.region);
    const resources = await ensureLocalResources(clients, {
      tablePrefix,
      visibilityTimeoutSeconds: {
        intake: visibility,
        plan: visibility,
        work: visibility,
        finalize: visibility,
      },
    });
    state = { emulators, clients, resources };
  });

  beforeEach(async () => {
    const { emulators, clients, resources } = get();
    emulators.fauxqs.reset();
    await recreateTables(clients, resources.tables);
  });

  afterAll(async () => {
    if (!state) return;
    destroyLocalClients(state.clients);
    await state.emulators.stop();
    state = undefined;
  });

  return {
    get emulators() {
      return get().emulators;
    },
    get clients() {
      return get().clients;
    },
    get resources() {
      return get().resources;
    },
  };
}

/**
 * Messages currently visible on a queue (or its DLQ), read without consuming them: fauxqs's
 * inspection sees ready and in-flight messages alike, so assertions do not disturb the test.
 */
export function queueBodies(
  aws: LocalAws,
  queue: QueueName,
  which: 'main' | 'dlq' = 'main',
): string[] {
  const q = aws.resources.queues[queue];
  const name = which === 'main' ? q.name : q.dlq.name;
  const inspected = aws.emulators.fauxqs.inspectQueue(name);
  if (!inspected) throw new Error(`queue ${name} does not exist`);
  return [
    ...inspected.messages.ready,
    ...inspected.messages.delayed,
    ...inspected.messages.inflight.map((m) => m.message),
  ].map((m) => m.body);
}

/** Receives (and so hides for the visibility timeout) up to ten messages, for tests that consume. */
export async function receiveSome(aws: LocalAws, queueUrl: string): Promise<Message[]> {
  const out = await aws.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return out.Messages ?? [];
}
