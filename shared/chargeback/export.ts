/**
 * The line-item export, driven by the ledger's change stream. A change to a cost record (a new
 * record, or a reprice) names the team and UTC day it belongs to; the export then writes that
 * team's whole day again, from the ledger, to one object whose key is a function of (day,
 * team): `line-items/day=<yyyy-mm-dd>/<team>.parquet`.
 *
 * Exactly once per record follows from the key: a record is in its team-day object and nowhere
 * else, and writing that object again (a redelivered stream batch, a retry after a crash half-way,
 * a reprice) replaces it with the same rows, or with the restated ones. The stream delivers the
 * changes of one record partition in order, so a later write never carries older ledger state.
 * Whole days are also what the amortised warm-up needs: a group's overhead and its job answers
 * are on the same team-day.
 */
import type { LedgerStore } from '../ports/ledger';
import type { Logger } from '../ports/logger';
import type { ObjectStore } from '../ports/objects';
import { PREFIXES } from '../resources';
import { amortise } from './amortise';
import { lineItemOf } from './line-items';
import { lineItemsParquet } from './parquet';

/** Where the line items live in the bucket; `day=` makes the day a Hive-style partition. */
export const LINE_ITEMS_PREFIX = PREFIXES.lineItems;

/** One team's UTC day: the unit the export writes. */
export interface TeamDay {
  team: string;
  /** `yyyy-mm-dd` */
  day: string;
}

/** Key of a team-day's line items. */
export function lineItemsKey({ team, day }: TeamDay): string {
  return `${LINE_ITEMS_PREFIX}day=${day}/${team}.parquet`;
}

const RECORD_PK = /^REC#([^#]+)#\d{4}-\d{2}$/;
const DAY = /^(\d{4}-\d{2}-\d{2})T/;

/**
 * The team-days a batch of changed ledger keys touches, each once, in order. Keys of anything
 * but cost records (roll-ups, budgets, markers, attempts) touch none.
 */
export function touchedTeamDays(keys: readonly { pk?: string; sk?: string }[]): TeamDay[] {
  const seen = new Map<string, TeamDay>();
  for (const { pk, sk } of keys) {
    const team = RECORD_PK.exec(pk ?? '')?.[1];
    const day = DAY.exec(sk ?? '')?.[1];
    if (team === undefined || day === undefined) continue;
    seen.set(`${day}/${team}`, { team, day });
  }
  return [...seen.values()].sort((a, b) =>
    a.day === b.day ? (a.team < b.team ? -1 : 1) : a.day < b.day ? -1 : 1,
  );
}

export interface ExportDeps {
  ledger: Pick<LedgerStore, 'recordsOfDay'>;
  objects: Pick<ObjectStore, 'put'>;
  /** Activated cost-allocation tag keys, each a column of its own. */
  tagKeys: readonly string[];
  logger?: Logger;
}

/** Writes a team-day's line items from the ledger as it is now; returns how many. */
export async function exportTeamDay(target: TeamDay, deps: ExportDeps): Promise<number> {
  const records = await deps.ledger.recordsOfDay(target.team, target.day);
  if (records.length === 0) return 0;
  const items = amortise(records).map((a) => lineItemOf(a, deps.tagKeys));
  await deps.objects.put(
    lineItemsKey(target),
    lineItemsParquet(items, deps.tagKeys),
    'application/vnd.apache.parquet',
  );
  deps.logger?.info('line items exported', { ...target, lineItems: items.length });
  return items.length;
}

/** Exports every team-day the changed keys touch, one after another. */
export async function exportChanges(
  keys: readonly { pk?: string; sk?: string }[],
  deps: ExportDeps,
): Promise<{ teamDays: number; lineItems: number }> {
  let lineItems = 0;
  const days = touchedTeamDays(keys);
  for (const target of days) lineItems += await exportTeamDay(target, deps);
  return { teamDays: days.length, lineItems };
}
