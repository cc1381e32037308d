/**
 * Export: the ledger's change stream -> line items in S3 (shared/chargeback/export.ts). Keys
 * only: the export re-reads each touched team-day from the ledger and rewrites its one object,
 * so a redelivered or retried batch writes the same rows again and no record is written twice.
 * A failure fails the whole batch; Lambda retries it from its first record (idempotently).
 */

import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { type ExportDeps, exportChanges } from '../../shared/chargeback/export';
import { SERVICE_NAMES } from '../../shared/resources';
import { buildExportDeps, exportConfigFromEnvironment } from './deps';

export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<void>;

/** The changed keys of a stream batch, as plain strings. */
export function changedKeys(event: DynamoDBStreamEvent): { pk?: string; sk?: string }[] {
  return event.Records.flatMap((r) => {
    const keys = r.dynamodb?.Keys;
    // The ledger's keys are strings: { pk: { S: 'REC#team#2026-11' }, sk: { S: '2026-11-30T...' } }.
    const pk = keys?.pk?.S;
    const sk = keys?.sk?.S;
    return pk === undefined || sk === undefined ? [] : [{ pk, sk }];
  });
}

/** The exporter for given dependencies. */
export function createExportHandler(deps: ExportDeps): StreamHandler {
  return async (event) => {
    const out = await exportChanges(changedKeys(event), deps);
    deps.logger?.info('stream batch exported', { records: event.Records.length, ...out });
  };
}

let built: StreamHandler | undefined;

/**
 * The entry point: dependencies built at the first invocation and kept for the container's life
 * (a failed build throws, and is tried again on the next invocation).
 */
export const handler: StreamHandler = async (event) => {
  built ??= createExportHandler(
    buildExportDeps(exportConfigFromEnvironment(process.env), {
      logger: new Logger({ serviceName: SERVICE_NAMES.export }),
    }),
  );
  return built(event);
};
