/**
 * Drop markers: one item per S3 object event, naming the batch that plans it, so an event
 * delivered again in a later batching window is recognized and not planned (and billed) twice.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DropClaim, DropClaimResult } from '../../ports/jobs';
import { type ConflictRetryOptions, transact } from '../dynamo';
import { batchKey, dropKey } from './keys';

/** The table a drop marker goes to, and how conflicting transactions are retried. */
export interface DropTable {
  ddb: DynamoDBDocumentClient;
  table: string;
  retry?: ConflictRetryOptions;
}

/**
 * Claims one S3 object event for a batch (see JobsStore.claimDrop): true when the marker was
 * absent, expired, already this batch's, or left by a planning that never created its batch.
 */
export async function claimDrop(
  { ddb, table, retry }: DropTable,
  claim: DropClaim,
  { now, staleAfterMs }: { now: Date; staleAfterMs: number },
): Promise<DropClaimResult> {
  const claimedAt = now.toISOString();
  const item = { ...dropKey(claim.key, claim.eventId), type: 'drop', ...claim, claimedAt };
  const nowS = Math.floor(now.getTime() / 1000);
  let old: Record<string, { S?: string }> | undefined;
  try {
    await ddb.send(
      new PutCommand({
        TableName: table,
        Item: item,
        // TTL deletes lazily, so an expired marker counts as absent.
        ConditionExpression: 'attribute_not_exists(pk) OR batchId = :mine OR expiresAt < :nowS',
        ExpressionAttributeValues: { ':mine': claim.batchId, ':nowS': nowS },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { claimed: true };
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    // The old item comes back raw: the document client does not convert errors.
    old = err.Item as typeof old;
  }
  const owner = old?.batchId?.S ?? '';
  const ownerClaimedAt = old?.claimedAt?.S ?? '';
  if (!owner || !ownerClaimedAt || Date.parse(ownerClaimedAt) > now.getTime() - staleAfterMs)
    return { claimed: false, owner };
  // A planning that claimed the event but never created its batch has ended by now (its
  // invocation timed out or failed): its records come back in another window, which takes
  // the event over so that the file is not lost. The batch check and the marker's unchanged
  // claim make the take-over atomic.
  const outcome = await transact(
    ddb,
    [
      {
        ConditionCheck: {
          TableName: table,
          Key: batchKey({ team: claim.team, batchId: owner }),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: table,
          Item: item,
          ConditionExpression: 'batchId = :owner AND claimedAt = :claimedAt',
          ExpressionAttributeValues: { ':owner': owner, ':claimedAt': ownerClaimedAt },
        },
      },
    ],
    retry,
  );
  return outcome.ok ? { claimed: true } : { claimed: false, owner };
}
