/**
 * The chargeback query on plain cost records: an in-memory ledger holding the records, with one
 * roll-up per record (the sums are what the roll-ups would hold), so no emulator is needed.
 */
import { describe, expect, it } from 'vitest';
import { costsJson, renderCostsCsv, renderCostsTable } from '../../cli/lib/costs';
import { parseDimensions } from '../../shared/chargeback/dimensions';
import { dayRange, QueryError } from '../../shared/chargeback/period';
import {
  type ChargebackLedger,
  queryChargeback,
  queryRecords,
} from '../../shared/chargeback/query';
import { type CostRecord, dayOf, monthOf, type Rollup } from '../../shared/ports/ledger';
import { zeroQuality } from '../../shared/quality/verdicts';
import { totalsOfResponse } from '../../shared/totals';
import type { Kind, Lane } from '../../shared/types';
import { aCostRecord } from '../aws/factories';
import { parseCsv } from '../cli/support';

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

function ledgerOf(records: readonly CostRecord[]): ChargebackLedger {
  const inMonth = (month: string) => records.filter((r) => monthOf(r.sentAt) === month);
  return {
    rollups: async (month) => inMonth(month).map((r) => rollupOf(r)),
    dailyRollups: async (month) => inMonth(month).map((r) => rollupOf(r, dayOf(r.sentAt))),
    records: async (team, month) => inMonth(month).filter((r) => r.team === team),
    unpricedRecords: async (month) => inMonth(month).filter((r) => r.unpriced !== undefined),
  };
}

const NOVEMBER = dayRange({ month: '2026-11' }, new Date('2026-11-30T00:00:00Z'));

describe('the chargeback query', () => {
  it('shows a run served by two endpoints as one row per model and endpoint, each at its own cost', async () => {
    // Prepare: one batch, two jobs on the primary endpoint and one that fell back.
    const ledger = ledgerOf([
      aCostRecord({ jobId: 'j1', model: 'deepseek-v3.2', endpoint: 'public', costNanoUsd: 300 }),
      aCostRecord({ jobId: 'j2', model: 'deepseek-v3.2', endpoint: 'public', costNanoUsd: 500 }),
      aCostRecord({ jobId: 'j3', model: 'gpt-5.4', endpoint: 'internal', costNanoUsd: 9_000 }),
    ]);

    // Act
    const { report } = await queryChargeback(ledger, {
      range: NOVEMBER,
      by: parseDimensions('model,endpoint'),
      warmup: 'separate',
    });

    // Assess
    expect(report.rows.map((r) => [r.group, r.requests, r.costNanoUsd])).toEqual([
      [{ model: 'deepseek-v3.2', endpoint: 'public' }, 2, 800],
      [{ model: 'gpt-5.4', endpoint: 'internal' }, 1, 9_000],
    ]);
    expect(report.totals.costNanoUsd).toBe(9_800);
    const [header = [], ...lines] = parseCsv(renderCostsCsv(report));
    const column = (name: string) => header.indexOf(name);
    const csv = lines.map((r) => [
      r[column('model')],
      r[column('endpoint')],
      r[column('model_cost_usd')],
    ]);
    expect(csv).toEqual([
      ['deepseek-v3.2', 'public', '0.000000800'],
      ['gpt-5.4', 'internal', '0.000009000'],
      ['TOTAL', '', '0.000009800'],
    ]);
    const json = JSON.parse(costsJson(report));
    expect(json.rows.map((r: Record<string, unknown>) => [r.endpoint, r.costNanoUsd])).toEqual([
      ['public', 800],
      ['internal', 9_000],
    ]);
    expect(renderCostsTable(report)).toMatch(/gpt-5\.4\s*│\s*internal/);
  });

  it('answers a roll-up view and a record view of the same spend with the same totals', async () => {
    // Prepare
    const ledger = ledgerOf([
      aCostRecord({ team: 'payments', costNanoUsd: 1_000, sentAt: '2026-11-02T01:00:00Z' }),
      aCostRecord({ team: 'search', costNanoUsd: 2_500, sentAt: '2026-11-20T01:00:00Z' }),
    ]);

    // Act
    const byTeam = await queryChargeback(ledger, {
      range: NOVEMBER,
      by: ['team'],
      warmup: 'separate',
    });
    const byBatch = await queryChargeback(ledger, {
      range: NOVEMBER,
      by: ['batch'],
      warmup: 'separate',
    });

    // Assess
    expect(byTeam.report.rows.map((r) => r.costNanoUsd)).toEqual([1_000, 2_500]);
    expect(byBatch.report.totals.costNanoUsd).toBe(byTeam.report.totals.costNanoUsd);
    expect(byBatch.report.qualityNote).toMatch(/not split by batch/);
    expect(byTeam.report.qualityNote).toBeUndefined();
  });

  it('keeps unpriced responses out of the money and says why they are unpriced', async () => {
    // Prepare
    const ledger = ledgerOf([
      aCostRecord({ costNanoUsd: 700 }),
      aCostRecord({
        model: 'mystery-1',
        costNanoUsd: 0,
        unpriced: { reason: 'unknown_model', detail: 'no row names mystery-1' },
      }),
    ]);

    // Act
    const { report } = await queryChargeback(ledger, {
      range: NOVEMBER,
      by: ['team'],
      warmup: 'separate',
    });

    // Assess
    expect(report.totals.costNanoUsd).toBe(700);
    expect(report.unpriced).toMatchObject({
      requests: 1,
      models: ['mystery-1'],
      reasons: ['unknown_model'],
    });
  });

  it('draws the charts from the same filtered spend as the table', async () => {
    // Prepare
    const ledger = ledgerOf([
      aCostRecord({ project: 'checkout', costNanoUsd: 400, sentAt: '2026-11-03T01:00:00Z' }),
      aCostRecord({ project: 'refunds', costNanoUsd: 600, sentAt: '2026-11-05T01:00:00Z' }),
    ]);

    // Act
    const { report, series } = await queryChargeback(ledger, {
      range: NOVEMBER,
      by: ['project'],
      project: 'refunds',
      warmup: 'separate',
      series: true,
    });

    // Assess
    expect(report.totals.costNanoUsd).toBe(600);
    expect(series?.totals.costNanoUsd).toBe(600);
    expect(series?.days).toEqual(['2026-11-05']);
  });

  it('lists the records of a period that pass the filters, in time order', async () => {
    // Prepare
    const ledger = ledgerOf([
      aCostRecord({ jobId: 'late', sentAt: '2026-11-09T00:00:00Z' }),
      aCostRecord({ jobId: 'other', lane: 'shadow', sentAt: '2026-11-04T00:00:00Z' }),
      aCostRecord({ jobId: 'early', sentAt: '2026-11-02T00:00:00Z' }),
    ]);

    // Act
    const records = await queryRecords(ledger, NOVEMBER, { lanes: ['primary'] });

    // Assess
    expect(records.map((r) => r.jobId)).toEqual(['early', 'late']);
  });

  it('refuses a period or a dimension the ledger cannot answer', () => {
    expect(() => dayRange({ from: '2026-11-05' }, new Date())).toThrow(QueryError);
    expect(() => parseDimensions('model,colour')).toThrow(/colour is not a dimension/);
  });
});
