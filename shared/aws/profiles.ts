/**
 * Cache profiles (shared/executor/profile.ts) in the jobs table, one item per model and
 * endpoint, so every worker invocation starts from what earlier ones measured. Last writer wins:
 * a profile is a running estimate, and two invocations' versions differ by a few observations.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { CacheProfileData, CacheProfileStore } from '../ports/profiles';

const keyOf = (key: string) => ({ pk: `PROFILE#${key}`, sk: 'PROFILE' });

export function createDynamoProfileStore(
  ddb: DynamoDBDocumentClient,
  table: string,
): CacheProfileStore {
  return {
    load: async (key) => {
      const out = await ddb.send(new GetCommand({ TableName: table, Key: keyOf(key) }));
      const profile = out.Item?.profile as CacheProfileData | undefined;
      return profile?.key === key ? profile : undefined;
    },
    save: async (profile) => {
      await ddb.send(
        new PutCommand({
          TableName: table,
          Item: { ...keyOf(profile.key), type: 'profile', profile },
        }),
      );
    },
  };
}
