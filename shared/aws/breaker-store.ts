/**
 * Circuit breakers (shared/llm/breaker.ts) in the jobs table, one item per endpoint, so that
 * hundreds of concurrent workers agree on whether an endpoint is open. Every write is
 * conditional on the version read: two workers cannot both take a half-open breaker's probe.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { BreakerState, BreakerStore } from '../ports/breakers';

const keyOf = (endpoint: string) => ({ pk: `BREAKER#${endpoint}`, sk: 'BREAKER' });

export function createDynamoBreakerStore(ddb: DynamoDBDocumentClient, table: string): BreakerStore {
  return {
    get: async (endpoint) => {
      const out = await ddb.send(
        new GetCommand({ TableName: table, Key: keyOf(endpoint), ConsistentRead: true }),
      );
      return out.Item?.breaker as BreakerState | undefined;
    },
    put: async (endpoint, next) => {
      const expected = next.version - 1;
      try {
        await ddb.send(
          new PutCommand({
            TableName: table,
            Item: { ...keyOf(endpoint), type: 'breaker', version: next.version, breaker: next },
            ConditionExpression:
              expected === 0 ? 'attribute_not_exists(pk) OR version = :v' : 'version = :v',
            ExpressionAttributeValues: { ':v': expected },
          }),
        );
        return true;
      } catch (err) {
        if ((err as Error).name === 'ConditionalCheckFailedException') return false;
        throw err;
      }
    },
  };
}
