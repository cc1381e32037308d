/**
 * The chargeback query on plain cost records, over an in-memory ledger: no emulator needed.
 */
import { describe, expect, it } from 'vitest';
import type { Services } from '../../cli/config';
import { costsJson, renderCostsCsv, renderCostsTable } from '../../cli/lib/costs';
import { runCli } from '../../cli/lib/run';
import { parseDimensions } from '../../shared/chargeback/dimensions';
import { dayRange, QueryError } from '../../shared/chargeback/period';
import {
  type ChargebackLedger,
  queryChargeback,
  queryRecords,
} from '../../shared/chargeback/query';
import { fixedClock } from '../../shared/clock';
import { aCostRecord } from '../aws/factories';
import { bufferIo, parseCsv } from '../cli/support';
import { ledgerOf } from './memory-ledger';

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

describe('warmbatch costs over the query', () => {
  async function costs(ledger: ChargebackLedger, ...args: string[]) {
    const io = bufferIo(import.meta.dirname);
    const code = await runCli(['costs', ...args], {
      io,
      clock: fixedClock('2026-11-30T12:00:00Z'),
      // The command reads the ledger only.
      connect: async () => ({ ledger, close() {} }) as unknown as Services,
      sleep: async () => {},
      pollMs: 1,
    });
    return { code, out: io.out(), err: io.err() };
  }

  it('prints a row per model and endpoint when asked --by model,endpoint', async () => {
    // Prepare
    const ledger = ledgerOf([
      aCostRecord({ model: 'deepseek-v3.2', endpoint: 'public', costNanoUsd: 1_200 }),
      aCostRecord({ model: 'gpt-5.4', endpoint: 'internal', costNanoUsd: 20_000 }),
    ]);

    // Act
    const run = await costs(
      ledger,
      '--month',
      '2026-11',
      '--by',
      'model,endpoint',
      '--format',
      'json',
    );

    // Assess
    expect(run.code).toBe(0);
    const rows = JSON.parse(run.out).rows as Record<string, unknown>[];
    expect(rows.map((r) => [r.model, r.endpoint, r.costNanoUsd])).toEqual([
      ['deepseek-v3.2', 'public', 1_200],
      ['gpt-5.4', 'internal', 20_000],
    ]);
  });

  it('refuses an unknown dimension with exit 2 and the reason', async () => {
    // Act
    const run = await costs(ledgerOf([]), '--by', 'model,colour');

    // Assess
    expect(run.code).toBe(2);
    expect(run.err).toContain('--by colour is not a dimension');
  });
});
