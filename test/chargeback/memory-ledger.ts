/**
 * A ledger in memory for chargeback queries: it holds plain cost records and answers with one
 * roll-up per record (their sums are what the ledger's roll-ups would hold).
 */
import type { ChargebackLedger } from '../../shared/chargeback/query';
import { type CostRecord, dayOf, monthOf, type Rollup } from '../../shared/ports/ledger';
import { zeroQuality } from '../../shared/quality/verdicts';
import { totalsOfResponse } from '../../shared/totals';
import type { Kind, Lane } from '../../shared/types';

function rollupOf(r: CostRecord, day?: string): Rollup {
  return {
    ...totalsOfResponse(r.usage, r.costNanoUsd, r.counterfactualNanoUsd, {
      overhead: r.purpose !== 'job',
      estimated: false,
    }),
    ...zeroQuality(),
    month: monthOf(r.sentAt),
    ...(day ? { day } : {}),
    team: r.team,
    project: r.project,
    model: r.model,
    kind: r.kind as Kind,
    lane: (r.lane ?? 'primary') as Lane,
    ...(r.unpriced ? { unpriced: true } : {}),
  };
}

export function ledgerOf(records: readonly CostRecord[]): ChargebackLedger {
  const inMonth = (month: string) => records.filter((r) => monthOf(r.sentAt) === month);
  return {
    rollups: async (month) => inMonth(month).map((r) => rollupOf(r)),
    dailyRollups: async (month) => inMonth(month).map((r) => rollupOf(r, dayOf(r.sentAt))),
    records: async (team, month) => inMonth(month).filter((r) => r.team === team),
    unpricedRecords: async (month) => inMonth(month).filter((r) => r.unpriced !== undefined),
  };
}
