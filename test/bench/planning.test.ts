/**
 * The planning figures `bench --all --json` carries: bench/planner.ts run whole at one shard's
 * size and sharded at the full size, put side by side.
 */
import { describe, expect, it } from 'vitest';
import {
  planningFigures,
  runPlanning,
  type ShardedPlannerJson,
  type WholePlannerJson,
} from '../../bench/e2e/planning';
import { sharedDynamodb } from '../support/shared-aws';

const measured = (wallMs: number, peakRssMb: number) => ({
  wallMs,
  cpuMs: wallMs / 2,
  awsCalls: 10,
  rssBeforeMb: 100,
  peakRssMb,
});

const whole = (files: number, wallMs: number, peakRssMb = 150): WholePlannerJson => ({
  files,
  latencyMs: { min: 15, max: 30 },
  whole: { ...measured(wallMs, peakRssMb), msPerJob: wallMs / files, workMessages: 20 },
  projection100k: {
    wallSeconds: 0,
    peakRssMb: 0,
    plannerTimeoutSeconds: 120,
    plannerMemoryMb: 1024,
  },
});

const sharded = (files: number, jobsPerShard: number, finishMs: number): ShardedPlannerJson => ({
  files,
  latencyMs: { min: 15, max: 30 },
  coordinator: { ...measured(4_000, 300), shards: Math.ceil(files / jobsPerShard), jobsPerShard },
  finish: {
    ...measured(finishMs, 600),
    listJobsMs: finishMs / 2,
    sendMs: finishMs / 4,
    workMessages: 2_000,
  },
});

describe('planningFigures', () => {
  it('adds the cut, one shard and the commit, and projects one invocation from the shard', () => {
    const p = planningFigures(whole(1_000, 14_000), sharded(100_000, 1_000, 20_000));

    expect(p.shards).toBe(100);
    expect(p.jobsPerShard).toBe(1_000);
    expect(p.shard.wallMs).toBe(14_000);
    expect(p.parallelWallMs).toBe(4_000 + 14_000 + 20_000);
    expect(p.finish.msPerJob).toBe(0.2);
    // 14 ms a job: 1,400 s for 100,000 jobs, past the planner's 120 s and Lambda's 900 s.
    expect(p.oneInvocation.projectedSeconds).toBe(1_400);
    expect(p.oneInvocation.projectedPeakRssMb).toBe(100 + 50 * 100);
    expect(p.oneInvocation.fits).toBe(false);
    expect(p.fitsPlannerLimits).toBe(true);
  });

  it('says when a step outlasts the planner timeout', () => {
    const p = planningFigures(whole(1_000, 14_000), sharded(100_000, 1_000, 130_000));

    expect(p.fitsPlannerLimits).toBe(false);
  });

  it('says when a step outgrows the planner memory', () => {
    const p = planningFigures(whole(1_000, 14_000, 1_100), sharded(100_000, 1_000, 20_000));

    expect(p.fitsPlannerLimits).toBe(false);
  });

  it('refuses a whole run that is not one shard', () => {
    expect(() => planningFigures(whole(500, 7_000), sharded(100_000, 1_000, 20_000))).toThrow(
      /--files 1000/,
    );
  });
});

describe('runPlanning', () => {
  it('runs bench/planner.ts whole and sharded in child processes and reads their JSON', async () => {
    // On the run's shared DynamoDB Local: a JVM of its own per child is the same code, started twice more.
    const p = await runPlanning(60, 20, sharedDynamodb());

    expect(p.jobs).toBe(60);
    expect(p.shards).toBe(3);
    expect(p.jobsPerShard).toBe(20);
    expect(p.shard.wallMs).toBeGreaterThan(0);
    expect(p.coordinator.wallMs).toBeGreaterThan(0);
    expect(p.finish.workMessages).toBeGreaterThan(0);
    expect(p.parallelWallMs).toBe(p.shard.wallMs + p.coordinator.wallMs + p.finish.wallMs);
  }, 240_000);
});
