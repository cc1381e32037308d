/**
 * The CI re-run: the whole local pipeline takes a workload, then the same workload again with a
 * seeded 5% of its files changed, as a CI job that regenerates docs on every push would send
 * it. Result reuse serves every file whose request is unchanged (its earlier output copied, no
 * call); the changed ones are called. The second run's provider bill over the first's is the
 * ratio (goal: at most 6%), under each cache rule, with the cache still warm from the first run
 * (a re-run within the cache's life, hours) and cold (after it expired).
 *
 *   npm run bench -- --ci-rerun
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createAwsMeter, usageOfMeter } from '../../local/meter';
import { startLocalPipeline } from '../../local/pipeline';
import type { CacheModel } from '../../local/sim/cache';
import type { SimHandle } from '../../local/sim/server';
import { runningClock } from '../../shared/clock';
import { awsCost } from '../../shared/pricing/aws';
import { seededRandom, shuffled } from '../cache/workload';
import { dropAndWait, E2E_DEFAULTS, sharedDynamodb, TEAM, waitIdle } from './run';
import { type E2eProject, e2eWorkload } from './workload';

export interface RerunOptions {
  files: number;
  filesPerProject: number;
  contextTokens: number;
  /** Share of files changed before the second run. */
  changed: number;
  seed: number;
  at: Date;
  cacheModels: readonly CacheModel[];
  onProgress?: (line: string) => void;
  /** A running DynamoDB Local to use (see E2eOptions); each pipeline's tables get a prefix of their own. */
  dynamodb?: { endpoint: string; tablePrefix: string };
}

export interface RerunResult {
  cacheModel: CacheModel;
  /** warm: the second run right after the first; cold: the provider's cache emptied between. */
  cache: 'warm' | 'cold';
  files: number;
  changedFiles: number;
  first: {
    requests: number;
    providerNanoUsd: number;
    awsRequestsNanoUsd: number;
    /** From the first file put to the last batch finished, ms (this machine, not AWS). */
    wallMs: number;
  };
  second: {
    requests: number;
    wallMs: number;
    providerNanoUsd: number;
    awsRequestsNanoUsd: number;
    reused: number;
    called: number;
  };
  /** Second run's provider bill / first run's. */
  ratio: number;
  /** Second run's wall time / first run's (the local pipeline's, so a noisy figure). */
  wallRatio: number;
  /** At most 6% (the bar). */
  met: boolean;
}

export const RERUN_BAR = 0.06;

/** The workload with `share` of its files changed (seeded): one function appended to each. */
export function withChangedFiles(
  projects: readonly E2eProject[],
  share: number,
  seed: number,
): { projects: E2eProject[]; changed: number } {
  const all = projects.flatMap((p, pi) => p.sources.map((_, fi) => [pi, fi] as const));
  const pick = shuffled(all, seededRandom(seed + 303)).slice(0, Math.round(all.length * share));
  const chosen = new Set(pick.map(([pi, fi]) => `${pi}/${fi}`));
  return {
    changed: chosen.size,
    projects: projects.map((p, pi) => ({
      ...p,
      sources: p.sources.map((f, fi) =>
        chosen.has(`${pi}/${fi}`)
          ? {
              ...f,
              body: `${f.body}\n// changed in the re-run\nexport const rerun${fi} = ${fi};\n`,
            }
          : f,
      ),
    })),
  };
}

/** Runs the workload twice per cache model and cache state, and compares the two bills. */
export async function runRerun(options: RerunOptions): Promise<RerunResult[]> {
  const progress = options.onProgress ?? (() => {});
  const results: RerunResult[] = [];
  const first = e2eWorkload({
    files: options.files,
    filesPerProject: options.filesPerProject,
    contextTokens: options.contextTokens,
    seed: options.seed,
    team: TEAM,
  });
  const second = withChangedFiles(first, options.changed, options.seed);
  for (const cacheModel of options.cacheModels)
    for (const cache of ['warm', 'cold'] as const) {
      progress(`${cacheModel}, ${cache} cache: first run`);
      const meter = createAwsMeter();
      const pipeline = await startLocalPipeline({
        ports: { s3Sqs: 0, dynamodb: 0 },
        ...sharedDynamodb(
          options.dynamodb && {
            endpoint: options.dynamodb.endpoint,
            tablePrefix: `${options.dynamodb.tablePrefix}${cacheModel}-${cache}-`,
          },
        ),
        configPath: false,
        clock: runningClock(options.at),
        timeScale: E2E_DEFAULTS.timeScale,
        concurrency: { ...E2E_DEFAULTS.concurrency },
        sim: { timeScale: 0, constructionDelayMs: 0, seed: options.seed, cacheModel },
        meter,
        settings: {
          executor: {
            concurrency: E2E_DEFAULTS.providerConcurrency,
            settleMs: 5,
            stopMarginMs: 1_000,
          },
        },
      });
      try {
        const sim = pipeline.sim as SimHandle;
        const { runtime } = pipeline;
        const put = (key: string, body: string) =>
          meter.scope('uploads', () =>
            runtime.clients.s3.send(
              new PutObjectCommand({ Bucket: runtime.resources.bucket, Key: key, Body: body }),
            ),
          );
        const pipelineCallers = () =>
          Object.keys(meter.snapshot()).filter(
            (c) =>
              c.startsWith('warmbatch-') ||
              c.startsWith('lambda-poller:') ||
              c === 's3-notifications',
          );
        const awsNow = () =>
          awsCost(usageOfMeter(meter.snapshot(), pipelineCallers()), options.at).totalNanoUsd;
        const firstStarted = performance.now();
        const one = await dropAndWait(first, put, pipeline, meter.scope, 600_000);
        const firstWallMs = Math.round(performance.now() - firstStarted);
        await waitIdle(pipeline);
        const firstBill = sim.usage().totals;
        const firstAws = awsNow();
        if (cache === 'cold') sim.reset();
        const usageBefore = cache === 'cold' ? { requests: 0, costNanoUsd: 0 } : sim.usage().totals;
        progress(`${cacheModel}, ${cache} cache: second run, ${second.changed} files changed`);
        const secondStarted = performance.now();
        const two = await dropAndWait(
          second.projects,
          put,
          pipeline,
          meter.scope,
          600_000,
          () => {},
          one.batchIds,
        );
        const secondWallMs = Math.round(performance.now() - secondStarted);
        await waitIdle(pipeline);
        const after = sim.usage().totals;
        let reused = 0;
        let called = 0;
        for (const batchId of two.batchIds) {
          const batch = await meter.scope('bench', () =>
            pipeline.deps.jobs.getBatch({ team: TEAM, batchId }),
          );
          reused += batch?.counters.reused ?? 0;
          called += batch?.counters.succeeded ?? 0;
        }
        const providerNanoUsd = after.costNanoUsd - usageBefore.costNanoUsd;
        const ratio = providerNanoUsd / firstBill.costNanoUsd;
        results.push({
          cacheModel,
          cache,
          files: options.files,
          changedFiles: second.changed,
          first: {
            requests: firstBill.requests,
            providerNanoUsd: firstBill.costNanoUsd,
            awsRequestsNanoUsd: firstAws,
            wallMs: firstWallMs,
          },
          second: {
            requests: after.requests - usageBefore.requests,
            wallMs: secondWallMs,
            providerNanoUsd,
            awsRequestsNanoUsd: awsNow() - firstAws,
            reused,
            called,
          },
          ratio: Math.round(ratio * 10_000) / 10_000,
          wallRatio: Math.round((secondWallMs / firstWallMs) * 10_000) / 10_000,
          met: ratio <= RERUN_BAR,
        });
      } finally {
        await pipeline.stop();
      }
    }
  return results;
}

const usd = (nano: number) => `$${(nano / 1e9).toFixed(4)}`;

/** One line per cache model and cache state. */
export function rerunText(results: readonly RerunResult[]): string {
  const lines = results.map(
    (r) =>
      `CI re-run, ${r.cacheModel}, ${r.cache} cache: ${r.changedFiles} of ${r.files} files changed; second run ${r.second.called} called, ${r.second.reused} reused, provider ${usd(r.second.providerNanoUsd)} vs ${usd(r.first.providerNanoUsd)} = ${(r.ratio * 100).toFixed(1)}% (goal <= ${RERUN_BAR * 100}%: ${r.met ? 'met' : 'NOT met'}); AWS requests ${usd(r.second.awsRequestsNanoUsd)} vs ${usd(r.first.awsRequestsNanoUsd)}; wall ${(r.second.wallMs / 1000).toFixed(1)} s vs ${(r.first.wallMs / 1000).toFixed(1)} s = ${(r.wallRatio * 100).toFixed(0)}%`,
  );
  return `${lines.join('\n')}\n`;
}
