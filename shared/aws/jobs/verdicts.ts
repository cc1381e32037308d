/**
 * Verdicts of a batch's validated tests on its job items, and the batch's quality on its item
 * (see JobsStore.recordVerdicts).
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LimitFunction } from 'p-limit';
import type { BatchQuality, JobVerdict } from '../../ports/jobs';
import type { BatchRef } from '../../types';
import { assertCount } from '../dynamo';
import { batchKey, jobKey } from './keys';
import type { JobsTable } from './table';

/** See JobsStore.recordVerdicts. */
export async function recordVerdicts(
  { ddb, table }: JobsTable,
  limit: LimitFunction,
  batch: BatchRef,
  verdicts: readonly { jobId: string; verdict: JobVerdict }[],
  quality?: BatchQuality,
): Promise<void> {
  await limit.map(verdicts, ({ jobId, verdict }) =>
    ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: jobKey(batch, jobId),
        UpdateExpression: 'SET verdict = :verdict',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':verdict': verdict },
      }),
    ),
  );
  if (!quality) return;
  for (const [field, value] of Object.entries(quality))
    if (typeof value === 'number') assertCount(value, `quality.${field}`);
  await ddb.send(
    new UpdateCommand({
      TableName: table,
      Key: batchKey(batch),
      UpdateExpression: 'SET quality = :quality',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':quality': quality },
    }),
  );
}
