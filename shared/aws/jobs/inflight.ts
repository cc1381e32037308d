/**
 * In-flight marks in the jobs table: while one job sends a request, identical requests of other
 * jobs (another batch, the same file dropped again) wait for its answer instead of paying for it
 * a second time. A mark ends by time (its holder's lease) or when its holder lets go; it is never
 * deleted, as no pipeline function deletes items.
 */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { InFlightStore, RequestHolder } from '../../ports/jobs';
import { conditionalWrite } from '../dynamo';
import { inflightKey } from './keys';
import type { JobsTable } from './table';

/** The table the marks live in. */
export type InflightTable = Pick<JobsTable, 'ddb' | 'table'>;

/** In-flight marks over the jobs table. */
export function createInFlightStore(t: InflightTable): InFlightStore {
  return {
    holdRequest: (requestHash, holder, untilMs, now) =>
      holdRequest(t, requestHash, holder, untilMs, now),
    letGoRequest: (requestHash, holder) => letGoRequest(t, requestHash, holder),
  };
}

/** Marks `requestHash` as sent by `holder` until `untilMs`, unless another holder's mark holds. */
export async function holdRequest(
  { ddb, table }: InflightTable,
  requestHash: string,
  holder: RequestHolder,
  untilMs: number,
  now: Date,
): Promise<{ held: true } | { held: false; by: RequestHolder; untilMs: number }> {
  try {
    await ddb.send(
      new PutCommand({
        TableName: table,
        Item: { ...inflightKey(requestHash), type: 'inflight', ...holder, untilMs },
        ConditionExpression:
          'attribute_not_exists(pk) OR untilMs <= :now OR (team = :team AND batchId = :batchId AND jobId = :jobId)',
        ExpressionAttributeValues: {
          ':now': now.getTime(),
          ':team': holder.team,
          ':batchId': holder.batchId,
          ':jobId': holder.jobId,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { held: true };
  } catch (err) {
    if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
    const old = (err as { Item?: Record<string, { S?: string; N?: string }> }).Item ?? {};
    return {
      held: false,
      by: {
        team: old.team?.S ?? '',
        batchId: old.batchId?.S ?? '',
        jobId: old.jobId?.S ?? '',
      },
      untilMs: Number(old.untilMs?.N ?? 0),
    };
  }
}

/** Ends `holder`'s mark (nothing when another holder has it now). */
export async function letGoRequest(
  { ddb, table }: InflightTable,
  requestHash: string,
  holder: RequestHolder,
): Promise<void> {
  // Ended by time rather than deleted: no pipeline function deletes items.
  await conditionalWrite(
    ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: inflightKey(requestHash),
        UpdateExpression: 'SET untilMs = :zero',
        ConditionExpression: 'team = :team AND batchId = :batchId AND jobId = :jobId',
        ExpressionAttributeValues: {
          ':zero': 0,
          ':team': holder.team,
          ':batchId': holder.batchId,
          ':jobId': holder.jobId,
        },
      }),
    ),
  );
}
