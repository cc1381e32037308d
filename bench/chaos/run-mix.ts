import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { recreateTables } from '../../local/runtime/resources';
import type { SimBilledCall } from '../../local/sim/server';
import { FUNCTIONS } from '../../shared/resources';
import type { MixContext } from './context';
import { duplicateNotifications, inputStates, queuesIdle, TEAM } from './inspect';
import { judgeLedger, judgeOutputs } from './judge';
import type { Mix, MixResult } from './mixes';
import { outageFigures } from './outage';

const FILES_PER_PROJECT = 25;

export type { MixContext };

export function source(i: number): string {
  return `export function step${i}(input: number): number {\n  // step ${i} of the chaos workload\n  return input * ${i + 1} + ${i % 7};\n}\n`;
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0
    ? 0
    : (sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0);

/** The name of the outage mix's restricted project (settings make it restricted). */
export const restrictedProject = (mix: Mix) => `${mix.name}-restricted`;

/**
 * A fresh start: nothing of the last mix runs on, every table and provider empty, the mix's
 * faults set. Returns the list every billed call of every provider is pushed to.
 */
async function prepareMix(
  ctx: MixContext,
  mix: Mix,
): Promise<{ calls: SimBilledCall[]; publicCalls: SimBilledCall[] }> {
  const { runtime, deps } = ctx.pipeline;
  deps.llm = ctx.realLlm;
  await runtime.drain();
  await recreateTables(runtime.clients, runtime.resources.tables);
  const calls: SimBilledCall[] = [];
  const publicCalls: SimBilledCall[] = [];
  for (const sim of [ctx.sim, ctx.restricted]) {
    if (!sim) continue;
    sim.reset();
    sim.configure({
      faults: { rate429: 0, rate500: 0, rate503: 0, resetRate: 0, stallMs: 0 },
      onBilled: (call) => {
        calls.push(call);
        if (sim === ctx.sim) publicCalls.push(call);
      },
      outage: { from: 0, until: 0 },
    });
  }
  ctx.fallback?.reset();
  const now = deps.clock.now().getTime();
  ctx.sim.configure({
    faults: { ...mix.sim?.faults },
    // A killed worker's calls are billed once the provider has done the work, as a real one
    // bills them; answers take time, so that calls are in flight when the worker dies.
    billAbandoned: mix.sigkill !== undefined,
    timeScale: mix.sigkill ? 0.05 : 0,
    // Open-ended: dropInputs lifts it once the first half has ended (event, not clock).
    ...(mix.outage ? { outage: { from: now, until: Number.POSITIVE_INFINITY } } : {}),
  });
  const workVisibility = mix.redeliverWork
    ? 1
    : runtime.resources.queues.work.visibilityTimeoutSeconds;
  // A dead worker's message comes back within seconds. A killed process's comes back after its
  // lease has run out, as on AWS (a message's visibility, six function timeouts, outlasts the
  // lease of one): the worker that receives it takes the jobs over at once.
  const leaseSeconds = Math.ceil(FUNCTIONS.worker.timeoutSeconds * ctx.timeScale + 2);
  const crashVisibility = mix.sigkill ? leaseSeconds : mix.crashEvery ? 2 : workVisibility;
  await runtime.clients.sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: runtime.resources.queues.work.url,
      Attributes: { VisibilityTimeout: String(Math.min(workVisibility, crashVisibility)) },
    }),
  );
  return { calls, publicCalls };
}

/** Every job answer the worker received, by request, and the ones lost with a dying worker. */
function watchAnswers(ctx: MixContext, mix: Mix) {
  const delivered = new Map<string, number>();
  const seen = { crashed: 0, billedAnswers: 0, delivered };
  ctx.pipeline.deps.llm = {
    complete: async (request, callOptions) => {
      const isJob = request.maxTokens !== 1;
      const response = await ctx.realLlm.complete(request, callOptions);
      if (!isJob) return response;
      seen.billedAnswers++;
      if (mix.crashEvery && seen.billedAnswers % mix.crashEvery === 0) {
        seen.crashed++;
        return new Promise(() => {});
      }
      const key = JSON.stringify([request.model, request.messages, request.maxTokens]);
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
      return response;
    },
  };
  return seen;
}

/** The worker process, killed while calls are in flight and started again. */
async function startKiller(ctx: MixContext, mix: Mix) {
  let worker = mix.sigkill ? await ctx.startWorker() : undefined;
  const kills: number[] = [];
  let killing = true;
  const done = (async () => {
    const plan = mix.sigkill;
    if (!plan) return;
    while (killing && kills.length < plan.kills) {
      await sleep(plan.everyMs);
      // Wait for many calls in flight (a fan-out, not a lone warm-up; a minute at most, then
      // any), then kill without warning.
      const waitUntil = Date.now() + 60_000;
      while (killing && ctx.sim.inFlight() < 8 && Date.now() < waitUntil) await sleep(20);
      while (killing && ctx.sim.inFlight() === 0) await sleep(20);
      if (!killing || !worker) break;
      kills.push(ctx.sim.inFlight());
      worker.kill('SIGKILL');
      worker = await ctx.startWorker();
    }
  })();
  return {
    kills,
    stop: async () => {
      killing = false;
      await done;
      worker?.kill('SIGTERM');
    },
  };
}

/**
 * Drops the workload, one project (one batch) after another. The outage mix drops half before
 * and half after the outage, so the breaker has calls to close on, and a restricted project
 * beside the first half.
 */
async function dropInputs(ctx: MixContext, mix: Mix, jobs: number) {
  const { runtime } = ctx.pipeline;
  const inputs: string[] = [];
  const restricted: string[] = [];
  const dropStarted = new Map<string, number>();
  const put = (key: string, body: string) =>
    runtime.clients.s3.send(
      new PutObjectCommand({ Bucket: runtime.resources.bucket, Key: key, Body: body }),
    );
  const dropProject = async (project: string, first: number, count: number, into: string[]) => {
    dropStarted.set(project, Date.now());
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const n = first + i;
        const key = `intake/${TEAM}/${project}/docs/src/step${n}.ts`;
        into.push(key);
        await put(key, source(n));
        if (mix.dropTwice) {
          await sleep(100);
          await put(key, source(n));
        }
      }),
    );
    if (mix.duplicateEvents) await duplicateNotifications(ctx.pipeline, project);
  };
  const perProject = mix.outage ? Math.ceil(jobs / 2) : FILES_PER_PROJECT;
  const projects = Math.ceil(jobs / perProject);
  const started = Date.now();
  for (let p = 0; p < projects; p++) {
    if (mix.outage && p === 1) {
      await dropProject(restrictedProject(mix), jobs, mix.outage.restrictedFiles, restricted);
      await liftOutage(ctx, inputs, started + mix.outage.ms);
    }
    const count = Math.min(perProject, jobs - p * perProject);
    await dropProject(`${mix.name}-p${p}`, p * perProject, count, inputs);
  }
  return { inputs: [...inputs, ...restricted], restricted, dropStarted };
}

/**
 * Ends the outage once the inputs dropped into it have all ended (served by the fallback, or
 * failed) and it has lasted at least until `notBefore`, then waits out the breaker's open time
 * so the next calls probe and close it. Waiting for the inputs, not for a clock, keeps the
 * outage felt however slowly a loaded machine gets the first calls out.
 */
async function liftOutage(ctx: MixContext, during: readonly string[], notBefore: number) {
  const ceiling = Date.now() + 600_000;
  while (Date.now() < ceiling) {
    const state = await inputStates(ctx.pipeline, during);
    if (state.unended === 0 && Date.now() >= notBefore) break;
    await sleep(500);
  }
  const outage = ctx.sim.options.outage;
  if (outage) outage.until = Date.now();
  await sleep(3_000);
}

/** Waits until every input has ended in some batch, or the time is up. */
async function waitForEnd(
  ctx: MixContext,
  mix: Mix,
  inputs: readonly string[],
  calls: readonly SimBilledCall[],
  until: { started: number; timeoutMs: number; kills: readonly number[] },
) {
  const inFlight = () => ctx.sim.inFlight() + (ctx.restricted?.inFlight() ?? 0);
  let state = await inputStates(ctx.pipeline, inputs);
  let reported = Date.now();
  while (Date.now() - until.started < until.timeoutMs) {
    state = await inputStates(ctx.pipeline, inputs);
    if (state.unended === 0 && queuesIdle(ctx.pipeline) && inFlight() === 0) break;
    if (Date.now() - reported >= 15_000) {
      reported = Date.now();
      process.stderr.write(
        `  ${mix.name}: ${inputs.length - state.unended}/${inputs.length} inputs ended, ${calls.length} calls billed, ${until.kills.length} kills\n`,
      );
    }
    await sleep(1_000);
  }
  return state;
}

export async function runMix(
  ctx: MixContext,
  mix: Mix,
  options: { jobs: number; timeoutMs?: number },
): Promise<MixResult> {
  const { deps } = ctx.pipeline;
  const { calls, publicCalls } = await prepareMix(ctx, mix);
  const seen = watchAnswers(ctx, mix);
  const killer = await startKiller(ctx, mix);
  const started = Date.now();
  const { inputs, restricted, dropStarted } = await dropInputs(ctx, mix, options.jobs);
  const state = await waitForEnd(ctx, mix, inputs, calls, {
    started,
    timeoutMs: options.timeoutMs ?? 600_000,
    kills: killer.kills,
  });
  await killer.stop();

  // The fallback bills every call it answers, as the simulators do.
  const fallbackCalls = [...(ctx.fallback?.calls ?? [])];
  calls.push(...fallbackCalls);
  const billedRequests =
    ctx.sim.usage().totals.requests +
    (ctx.restricted?.usage().totals.requests ?? 0) +
    fallbackCalls.length;
  const billedCost = calls.reduce((n, c) => n + c.usage.costNanoUsd, 0);
  const month = deps.clock.now().toISOString().slice(0, 7);
  const rollups = (await deps.ledger.rollups(month)).filter((r) => r.team === TEAM);
  const sum = (f: 'requests' | 'costNanoUsd' | 'estimatedRequests' | 'estimatedCostNanoUsd') =>
    rollups.reduce((n, r) => n + r[f], 0);
  const ledger = {
    requests: sum('requests'),
    costNanoUsd: sum('costNanoUsd'),
    estimatedRequests: sum('estimatedRequests'),
    estimatedCostNanoUsd: sum('estimatedCostNanoUsd'),
  };
  // The tables are recreated for every mix: every record of the team is this mix's. The
  // batches' AWS lines are estimates of AWS's bill, not provider responses: left out.
  const records = (await deps.ledger.records(TEAM, month)).filter((r) => r.purpose !== 'aws');
  const judged = judgeLedger(calls, records, state);
  const ledgerMatches =
    judged.exactMatch &&
    judged.provider.estimatesBelowBill === 0 &&
    judged.provider.uncovered === 0 &&
    ledger.requests === records.length &&
    ledger.estimatedRequests === judged.estimates &&
    calls.length === billedRequests;
  const outputs = await judgeOutputs(inputs, state, calls, deps.objects);
  const completions = state.done
    .map((b) => b.doneAt - (dropStarted.get(b.project) ?? started))
    .sort((a, b) => a - b);
  return {
    mix: mix.name,
    description: mix.description,
    inputs: inputs.length,
    ...outputs,
    billedTwice: [...seen.delivered.values()].reduce((n, c) => n + Math.max(0, c - 1), 0),
    provider: judged.provider,
    crashed: seen.crashed,
    kills: { count: killer.kills.length, inFlightAtKill: killer.kills },
    sim: { requests: billedRequests, costNanoUsd: billedCost },
    ledger,
    ledgerMatches,
    completionMs: { p50: percentile(completions, 0.5), p95: percentile(completions, 0.95) },
    elapsedMs: Date.now() - started,
    ...(mix.outage
      ? {
          outage: await outageFigures(ctx, {
            records,
            fallbackCalls,
            publicCalls,
            restricted,
            state,
          }),
        }
      : {}),
  };
}
