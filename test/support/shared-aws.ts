import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/**
 * Options that put a test file's local AWS on the run's shared DynamoDB Local, under table
 * names no other file uses (S3 and SQS are in-process per file already).
 */
export function sharedAws(): { dynamodbEndpoint: string; tablePrefix: string } {
  return {
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `t${randomBytes(4).toString('hex')}-`,
  };
}

/** The run's shared DynamoDB Local, as the benchmarks take it, under a table prefix of its own. */
export function sharedDynamodb(): { endpoint: string; tablePrefix: string } {
  const { dynamodbEndpoint, tablePrefix } = sharedAws();
  return { endpoint: dynamodbEndpoint, tablePrefix };
}
