import type { NewBatch, NewJob } from '../../shared/ports/jobs';
import { type CostRecord, WARMUP_JOB_ID } from '../../shared/ports/ledger';

let sequence = 0;
/** A short id unique within the test run. */
export function uid(prefix: string): string {
  sequence += 1;
  return `${prefix}-${sequence}`;
}

export function aBatch(overrides: Partial<NewBatch> = {}): NewBatch {
  return {
    batchId: uid('batch'),
    team: 'payments',
    project: 'checkout',
    kind: 'docs',
    model: 'deepseek-v4-flash',
    sensitivity: 'internal',
    createdAt: '2026-11-03T10:00:00.000Z',
    ...overrides,
  };
}

export function someJobs(count: number, overrides: Partial<NewJob> = {}): NewJob[] {
  return Array.from({ length: count }, (_, i) => ({
    jobId: `job-${String(i).padStart(4, '0')}`,
    path: `src/file-${i}.ts`,
    inputKey: `intake/payments/checkout/docs/src/file-${i}.ts`,
    outputKey: `outputs/payments/checkout/b/src/file-${i}.md`,
    requestHash: `hash-${i}`,
    reservedNanoUsd: 1_000,
    ...overrides,
  }));
}

/** A priced job answer sent 2026-11-03 10:05 UTC, unless overridden. */
export function aCostRecord(overrides: Partial<CostRecord> = {}): CostRecord {
  const warmup = overrides.jobId === WARMUP_JOB_ID;
  return {
    responseId: uid('resp'),
    team: 'payments',
    project: 'checkout',
    batchId: 'batch-x',
    jobId: 'job-0000',
    model: 'deepseek-flash',
    kind: 'docs',
    purpose: warmup ? 'warmup' : 'job',
    endpoint: 'deepseek',
    usage: {
      promptHitTokens: 1_800,
      promptMissTokens: 200,
      completionTokens: 900,
      reasoningTokens: 0,
    },
    costNanoUsd: 285_040,
    counterfactualNanoUsd: warmup ? 0 : 18_500_000,
    referenceModel: 'gpt-5.4',
    sentAt: '2026-11-03T10:05:00.000Z',
    created: '2026-11-03T10:05:00.000Z',
    pricedAt: '2026-11-03T10:05:00.000Z',
    price: {
      rowId: 'deepseek-flash@2026-09-09T16:00:00Z',
      origin: 'built-in',
      billedAs: 'deepseek-flash',
      tier: 'off-peak',
    },
    ...overrides,
  };
}

export const at = (iso: string) => new Date(iso);
