/**
 * Builds the CLI and the tools (build-cli.ts) and starts one DynamoDB Local for the whole run.
 * Starting a JVM per test file cost more CPU than most of those files' tests; each file now isolates itself by a table-name prefix of its own
 * (test/support/shared-aws.ts) instead of a DynamoDB of its own.
 */
import type { TestProject } from 'vitest/node';
import { startDynamoLocal } from '../../local/runtime/emulators';
import { buildBins } from './build-cli';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Endpoint of the DynamoDB Local every test file shares. */
    dynamodbEndpoint: string;
  }
}

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Both at once: the build waits on esbuild, the JVM's start on itself.
  const [dynamo] = await Promise.all([startDynamoLocal({ startTimeoutMs: 60_000 }), buildBins()]);
  project.provide('dynamodbEndpoint', dynamo.endpoint);
  return () => dynamo.stop();
}
