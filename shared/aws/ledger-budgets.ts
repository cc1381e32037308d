/**
 * Budgets in the ledger table: a team's cap for a month, what is committed (reserved before a
 * call, settled after) and what was spent. A reservation holds only if it fits under the cap the
 * writer read, so concurrency cannot push a team past it.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Budget, LedgerStore } from '../ports/ledger';
import { assertCount, names, num } from './dynamo';
import { budgetKey, budgetUpdate, checkMonth, type LedgerStoreOptions } from './ledger-items';

// Reservations re-read the cap when it changed between the read and the conditional write.
const RESERVE_ATTEMPTS = 5;

// Items returned with a failed condition may come back marshalled ({ N: '5' }) or plain.
function rawNumber(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  if (value && typeof value === 'object' && 'N' in value) return String(value.N);
  return undefined;
}

/** See LedgerStore.budget. */
export async function budget(
  { ddb, ledgerTable }: LedgerStoreOptions,
  team: string,
  month: string,
): Promise<Budget | undefined> {
  const res = await ddb.send(
    new GetCommand({ TableName: ledgerTable, Key: budgetKey(team, month), ConsistentRead: true }),
  );
  const item = res.Item;
  if (!item) return undefined;
  return {
    team,
    month,
    ...(typeof item.capNanoUsd === 'number' ? { capNanoUsd: item.capNanoUsd } : {}),
    committedNanoUsd: num(item, 'committedNanoUsd'),
    spentNanoUsd: num(item, 'spentNanoUsd'),
  };
}

/** See LedgerStore.setBudget. */
async function setBudget(
  { ddb, ledgerTable }: LedgerStoreOptions,
  team: string,
  month: string,
  capNanoUsd: number,
): Promise<void> {
  checkMonth(month);
  assertCount(capNanoUsd, 'capNanoUsd');
  await ddb.send(
    new UpdateCommand({
      TableName: ledgerTable,
      Key: budgetKey(team, month),
      UpdateExpression:
        'SET #team = :team, #month = :month, capNanoUsd = :cap, committedNanoUsd = if_not_exists(committedNanoUsd, :zero), spentNanoUsd = if_not_exists(spentNanoUsd, :zero)',
      ExpressionAttributeNames: names('team', 'month'),
      ExpressionAttributeValues: { ':team': team, ':month': month, ':cap': capNanoUsd, ':zero': 0 },
    }),
  );
}

/** See LedgerStore.reserve. */
async function reserve(
  o: LedgerStoreOptions,
  team: string,
  month: string,
  estimateNanoUsd: number,
): Promise<boolean> {
  checkMonth(month);
  assertCount(estimateNanoUsd, 'estimateNanoUsd');
  const t = { ledgerTable: o.ledgerTable, jobsTable: o.jobsTable };
  for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
    const current = await budget(o, team, month);
    const cap = current?.capNanoUsd;
    if (cap !== undefined && estimateNanoUsd > cap) return false;
    // With a cap, the write holds only if the cap is still the one read and committed is at
    // most cap - estimate: DynamoDB conditions compare but cannot add.
    const condition =
      cap === undefined
        ? 'attribute_not_exists(capNanoUsd)'
        : 'capNanoUsd = :cap AND (attribute_not_exists(committedNanoUsd) OR committedNanoUsd <= :limit)';
    const add = budgetUpdate(t, team, month, { committedNanoUsd: estimateNanoUsd });
    try {
      await o.ddb.send(
        new UpdateCommand({
          ...add,
          ConditionExpression: condition,
          ExpressionAttributeValues: {
            ...add.ExpressionAttributeValues,
            ...(cap === undefined ? {} : { ':cap': cap, ':limit': cap - estimateNanoUsd }),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return true;
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      const capNow = rawNumber((err as { Item?: Record<string, unknown> }).Item?.capNanoUsd);
      // Same cap: the budget is spent. Otherwise the cap changed under us: read again.
      if (cap !== undefined && capNow === String(cap)) return false;
    }
  }
  return false;
}

/** The budget half of a LedgerStore. */
export function budgetMethods(
  o: LedgerStoreOptions,
): Pick<LedgerStore, 'budget' | 'setBudget' | 'reserve' | 'release'> {
  const t = { ledgerTable: o.ledgerTable, jobsTable: o.jobsTable };
  return {
    budget: (team, month) => budget(o, team, month),
    setBudget: (team, month, cap) => setBudget(o, team, month, cap),
    reserve: (team, month, estimate) => reserve(o, team, month, estimate),
    async release(team, month, nanoUsd) {
      checkMonth(month);
      assertCount(nanoUsd, 'nanoUsd');
      await o.ddb.send(
        new UpdateCommand(budgetUpdate(t, team, month, { committedNanoUsd: -nanoUsd })),
      );
    },
  };
}
