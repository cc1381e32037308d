/**
 * The export's composition root, apart from lambdas/deps.ts so that its bundle carries no LLM
 * client: an S3 object store for the line items and the ledger's record reader.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createLedgerStore } from '../../shared/aws/ledger-store';
import { createS3ObjectStore } from '../../shared/aws/object-store';
import type { ExportDeps } from '../../shared/chargeback/export';
import { ConfigurationError } from '../../shared/configuration-error';
import { parseSettings } from '../../shared/pipeline/settings';
import type { Logger } from '../../shared/ports/logger';
import { ENV } from '../../shared/resources';

/** What the export function needs: the bucket, the ledger and the activated tag keys. */
export interface ExportConfig {
  bucket: string;
  ledgerTable: string;
  tagKeys: string[];
}

/** Reads the export's configuration; throws naming every missing variable. */
export function exportConfigFromEnvironment(env: Record<string, string | undefined>): ExportConfig {
  const required: string[] = [ENV.bucket, ENV.ledgerTable, ENV.settings];
  const missing = required.filter((name) => !env[name]);
  if (missing.length > 0)
    throw new ConfigurationError(`missing environment variable(s): ${missing.join(', ')}`);
  return {
    bucket: env[ENV.bucket] as string,
    ledgerTable: env[ENV.ledgerTable] as string,
    tagKeys: parseSettings(env[ENV.settings] as string).chargeback.tagColumns,
  };
}

/** Builds the export's ledger reader and object store once. */
export function buildExportDeps(
  config: ExportConfig,
  options: { logger?: Logger } & {
    clients?: { s3: S3Client; doc: DynamoDBDocumentClient };
  } = {},
): ExportDeps {
  const s3 = options.clients?.s3 ?? new S3Client({});
  const doc = options.clients?.doc ?? DynamoDBDocumentClient.from(new DynamoDBClient({}));
  return {
    // The export only reads records; the jobs table is never touched.
    ledger: createLedgerStore({ ddb: doc, ledgerTable: config.ledgerTable, jobsTable: '' }),
    objects: createS3ObjectStore(s3, config.bucket),
    tagKeys: config.tagKeys,
    ...(options.logger ? { logger: options.logger } : {}),
  };
}
