/** Renders an end-to-end run: the JSON object of `--json`, or tables for a person. */
import Table from 'cli-table3';
import { DEFAULT_MAX_JOBS_PER_MESSAGE } from '../../shared/grouping';
import { DEFAULT_JOBS_PER_SHARD } from '../../shared/pipeline/settings';
import { AWS_REQUEST_UNITS, type AwsUsage, awsCost } from '../../shared/pricing/aws';
import { MEASURED_USAGE_PER_1000_JOBS } from '../../shared/pricing/overhead';

import { type Projection, type ProjectionInput, projections } from './projection';
import { deployedConfig, type E2eReport } from './run';

/**
 * The planner's cost per job against AWS-like latencies (15-30 ms a request), measured by
 * `npx tsx bench/planner.ts --files 1000` and `--sharded --files 100000` (docs/benchmarks.md,
 * "Planning 100,000 jobs", measured 2026-12-01).
 */
export const MEASURED_PLANNING = { planMsPerJob: 8.15, commitMsPerJob: 0.13 } as const;

/** The projection's inputs from a run: its cost per job and the provider's time per job. */
export function projectionInput(report: E2eReport): ProjectionInput {
  const jobs = report.jobs;
  const jobLatencies = report.latency.jobMs;
  return {
    jobSeconds: jobLatencies / 1000,
    warmupSeconds: report.latency.warmupChainMs / 1000,
    ...MEASURED_PLANNING,
    jobsPerShard: DEFAULT_JOBS_PER_SHARD,
    jobsPerMessage: DEFAULT_MAX_JOBS_PER_MESSAGE,
    // A monorepo drop's part of 1,000 files in one language: one prefix group, 20 messages.
    filesPerGroup: DEFAULT_JOBS_PER_SHARD,
    awsNanoUsdPerJob: report.bill.cost.totalNanoUsd / jobs,
    providerNanoUsdPerJob: report.provider.costNanoUsd / jobs,
  };
}

const usd = (nano: number, digits = 4) => `$${(nano / 1e9).toFixed(digits)}`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** The one object `--json` prints. */
export function e2eJson(report: E2eReport): object {
  const input = projectionInput(report);
  // The inputs beside the projection, so a script can check what it was computed from.
  return { ...report, projectionInput: input, projections: projections(input, deployedConfig()) };
}

/** Counted requests per 1,000 jobs, by the pipeline's callers, service and operation. */
function operationsTable(report: E2eReport): string {
  const table = new Table({
    head: [
      'caller',
      'service',
      'operation',
      'calls / 1000 jobs',
      'billed / 1000 jobs',
      'units / 1000 jobs',
    ],
    style: { head: [], border: [] },
  });
  const per1000 = (n: number) => (n * 1000) / report.jobs;
  for (const [caller, services] of Object.entries(report.operations))
    for (const [service, ops] of Object.entries(services ?? {}))
      for (const [op, t] of Object.entries(ops ?? {})) {
        const units =
          service === 'dynamodb'
            ? `${per1000(t.writeUnits).toFixed(0)} W / ${per1000(t.readUnits).toFixed(0)} R`
            : '';
        table.push([
          caller,
          service,
          op,
          per1000(t.calls).toFixed(1),
          per1000(t.billed).toFixed(1),
          units,
        ]);
      }
  return table.toString();
}

function billTable(report: E2eReport): string {
  const table = new Table({
    head: ['AWS line', 'quantity', 'per 1000 jobs', 'price (us-east-1)'],
    style: { head: [], border: [] },
  });
  for (const line of report.bill.cost.lines)
    table.push([
      line.unit,
      int(line.quantity),
      usd((line.nanoUsd * 1000) / report.jobs, 5),
      `${line.row.microUsdPerMillion / 1e6} USD per 1M${line.row.uncertain ? ' (uncertain)' : ''}`,
    ]);
  return table.toString();
}

function projectionTable(rows: readonly Projection[]): string {
  const table = new Table({
    head: [
      'files',
      'deployment',
      'in flight',
      'plan drop s',
      'plan manifest s',
      'work s',
      'longest chain s',
      'total',
      'jobs/s',
      'AWS $',
      'provider $',
    ],
    style: { head: [], border: [] },
  });
  for (const p of rows)
    table.push([
      int(p.files),
      p.deployment,
      int(p.inFlight),
      int(p.planningSeconds),
      int(p.manifestPlanningSeconds),
      int(p.workSeconds),
      int(p.chainSeconds),
      `${(p.totalSeconds / 60).toFixed(1)} min`,
      String(p.jobsPerSecond),
      p.awsUsd.toFixed(2),
      p.providerUsd.toFixed(2),
    ]);
  return table.toString();
}

/** The requests of a usage only, per 1,000 jobs when `jobs` ran them. */
function requestsPer1000(usage: AwsUsage, jobs: number): AwsUsage {
  return Object.fromEntries(
    AWS_REQUEST_UNITS.map((unit) => [unit, ((usage[unit] ?? 0) * 1000) / Math.max(1, jobs)]),
  );
}

/**
 * This run's counted requests beside the profile that `estimate` and batch summaries price the
 * AWS overhead with (shared/pricing/overhead.ts): how close a profile comes to a run depends on
 * timing (polls, batching windows), so it is a figure measured here, not a bound a test holds.
 */
export function profileLine(report: E2eReport): string {
  const at = new Date(report.workload.at);
  const counted = awsCost(requestsPer1000(report.bill.requests, report.jobs), at).totalNanoUsd;
  const profile = awsCost(requestsPer1000(MEASURED_USAGE_PER_1000_JOBS, 1000), at).totalNanoUsd;
  return `S3, DynamoDB and SQS requests: ${usd(counted, 5)} per 1,000 jobs counted, ${usd(profile, 5)} in the profile estimates use (shared/pricing/overhead.ts): ${((counted / profile) * 100).toFixed(1)}% of it`;
}

/** Tables and a verdict for a person. */
export function e2eText(report: E2eReport): string {
  const o = report.overhead;
  const b = report.bill;
  const lines = [
    `${int(report.jobs)} files in ${report.workload.projects} projects of ${report.workload.filesPerProject} (context ${report.workload.contextTokens} tokens, seed ${report.workload.seed}, digest ${report.workload.digest}), priced at ${report.workload.at}`,
    `drop to last output: ${(report.wallMs / 1000).toFixed(1)} s, ${report.jobsPerSecond} jobs/s, ${report.batches} batches; peak RSS ${report.peakRssMb.node} MB (this process: emulators for S3/SQS, simulator, handlers) + ${report.peakRssMb.dynamodbLocal ?? '?'} MB (DynamoDB Local)`,
    `invocations: ${Object.entries(report.invocations)
      .map(([f, i]) => `${f} ${i.count} (${(i.totalMs / 1000).toFixed(1)} s)`)
      .join(', ')}`,
    operationsTable(report),
    billTable(report),
    `Lambda duration priced (modelled): planner ${(b.lambda.modelledMs.planner / 1000).toFixed(1)} s, worker ${(b.lambda.modelledMs.worker / 1000).toFixed(0)} s (of it ${(b.lambda.providerWaitMs / 1000).toFixed(0)} s waiting for the provider: ${(report.latency.jobMs / 1000).toFixed(1)} s a job answer, ${(report.latency.warmupChainMs / 1000).toFixed(1)} s a warm-up chain), finalize ${(b.lambda.modelledMs.finalize / 1000).toFixed(1)} s; measured here against the emulators ${(b.lambda.measuredMs / 1000).toFixed(0)} s in all (an upper bound)`,
    `AWS overhead: ${usd(o.awsPer1000JobsNanoUsd)} per 1,000 jobs beside ${usd(o.providerPer1000JobsNanoUsd)} of provider spend: ${(o.share * 100).toFixed(1)}% (goal < 5%); by service per 1,000 jobs: ${Object.entries(
      b.cost.byService,
    )
      .map(([s, n]) => `${s} ${usd((n * 1000) / report.jobs, 5)}`)
      .join(', ')}; the files' own uploads ${usd(o.uploadsPer1000JobsNanoUsd, 5)} per 1,000 more`,
    profileLine(report),
    'projection to AWS (a model over these figures and bench/planner.ts; see docs/benchmarks.md):',
    projectionTable(projections(projectionInput(report), deployedConfig())),
  ];
  return `${lines.join('\n')}\n`;
}
