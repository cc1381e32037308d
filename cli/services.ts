/**
 * The stores the CLI's pipeline commands read and write, over AWS SDK clients built from the
 * resolved configuration. Apart from config.ts and loaded only when a command connects, so that
 * `warmbatch --help` and `estimate` do not load the AWS SDK.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createJobsStore } from '../shared/aws/jobs';
import { createLedgerStore } from '../shared/aws/ledger-store';
import { createS3ObjectStore } from '../shared/aws/object-store';
import { createDynamoProfileStore } from '../shared/aws/profiles';
import { LOCAL_CREDENTIALS } from '../shared/local-config';
import type { CliConfig, Services } from './config';
import { UsageError } from './lib/exit';

/** Opens the stores of one deployment; `close()` releases the clients' sockets. */
export function createServices(config: CliConfig): Services {
  if (!config.region)
    throw new UsageError(
      'no AWS region: pass --region, set AWS_REGION, or use a cdk-outputs.json that has Region',
    );
  const common = {
    region: config.region,
    ...(config.local ? { credentials: LOCAL_CREDENTIALS } : {}),
    ...(config.profile && !config.local ? { profile: config.profile } : {}),
  };
  const s3 = new S3Client({
    ...common,
    ...(config.endpoints.s3 ? { endpoint: config.endpoints.s3, forcePathStyle: true } : {}),
  });
  const ddb = new DynamoDBClient({
    ...common,
    ...(config.endpoints.dynamodb ? { endpoint: config.endpoints.dynamodb } : {}),
  });
  const doc = DynamoDBDocumentClient.from(ddb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    objects: createS3ObjectStore(s3, config.bucket),
    bucket: config.bucket,
    jobs: createJobsStore({ ddb: doc, table: config.jobsTable }),
    profiles: createDynamoProfileStore(doc, config.jobsTable),
    ledger: createLedgerStore({
      ddb: doc,
      ledgerTable: config.ledgerTable,
      jobsTable: config.jobsTable,
    }),
    close() {
      doc.destroy();
      ddb.destroy();
      s3.destroy();
    },
  };
}
