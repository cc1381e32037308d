import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS } from '../../shared/local-config';

/** Region the emulators present; fauxqs builds ARNs and queue URLs with it. */
export const LOCAL_REGION = 'us-east-1';

/** Account id fauxqs puts in ARNs and queue URLs. */
export const LOCAL_ACCOUNT_ID = '000000000000';

/** Emulators accept any credentials; fixed dummies keep the SDK from searching for real ones. */
export { LOCAL_CREDENTIALS };

export interface LocalAwsEndpoints {
  /** fauxqs serves S3 and SQS on one endpoint. */
  s3Sqs: string;
  dynamodb: string;
}

export interface LocalAwsClients {
  s3: S3Client;
  sqs: SQSClient;
  ddb: DynamoDBClient;
  doc: DynamoDBDocumentClient;
}

/**
 * AWS SDK v3 clients pointed at the local emulators. S3 uses path-style URLs (no wildcard DNS
 * needed); SQS ignores the host in queue URLs (`sqs.us-east-1.localhost` does not resolve) and
 * always talks to the configured endpoint.
 */
export function createLocalClients(
  endpoints: LocalAwsEndpoints,
  region: string = LOCAL_REGION,
): LocalAwsClients {
  const common = { region, credentials: LOCAL_CREDENTIALS };
  const s3 = new S3Client({ ...common, endpoint: endpoints.s3Sqs, forcePathStyle: true });
  const sqs = new SQSClient({
    ...common,
    endpoint: endpoints.s3Sqs,
    useQueueUrlAsEndpoint: false,
  });
  const ddb = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb });
  const doc = DynamoDBDocumentClient.from(ddb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { s3, sqs, ddb, doc };
}

/** Closes the clients' sockets so a stopping emulator is not held open by keep-alive. */
export function destroyLocalClients(clients: LocalAwsClients): void {
  clients.doc.destroy();
  clients.ddb.destroy();
  clients.s3.destroy();
  clients.sqs.destroy();
}
