/** The jobs table an adapter writes to, and how its conflicting transactions are retried. */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ConflictRetryOptions } from '../dynamo';

export interface JobsTable {
  ddb: DynamoDBDocumentClient;
  /** Physical name of the jobs table. */
  table: string;
  retry?: ConflictRetryOptions;
}
