/**
 * How a mix is judged once every input has ended: the provider's bill against the ledger, call
 * by call, and every input against its output object or an honest failure.
 */
import type { SimBilledCall } from '../../local/sim/server';
import type { CostRecord } from '../../shared/ports/ledger';
import { WARMUP_JOB_ID } from '../../shared/ports/ledger';
import type { ObjectStore } from '../../shared/ports/objects';
import type { InputStates } from './inspect';
import { honestFailure, type MixResult } from './mixes';

/** The step number of a chaos input named in a request's last message, if any. */
export function inputOf(messages: readonly { content: string }[]): number | undefined {
  const m = /src\/step(\d+)\.ts\b/.exec(messages.at(-1)?.content ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Per call: the exact records by response id; what is left is billed and not recorded, and
 * each such call needs an estimate of the same input (a warm-up's, for a warm-up) at least as
 * large as what the provider billed; an estimate covers one call.
 */
export function judgeLedger(
  calls: readonly SimBilledCall[],
  records: readonly CostRecord[],
  state: InputStates,
): { provider: MixResult['provider']; exactMatch: boolean; estimates: number } {
  const byId = new Map(calls.map((c) => [c.id, c]));
  let exactMatch = true;
  const exactIds = new Set<string>();
  for (const r of records) {
    if (r.estimated) continue;
    exactIds.add(r.responseId);
    const call = byId.get(r.responseId);
    if (!call || call.usage.costNanoUsd !== r.costNanoUsd) exactMatch = false;
  }
  const unrecorded = calls.filter((c) => !exactIds.has(c.id));
  const estimates = records.filter((r) => r.estimated);
  const estimateInput = (jobId: string, batchId: string) =>
    jobId === WARMUP_JOB_ID ? 'warmup' : state.inputOfJob.get(`${batchId}/${jobId}`);
  const pool = new Map<string, number[]>();
  for (const e of estimates) {
    const key = String(estimateInput(e.jobId, e.batchId));
    pool.set(key, [...(pool.get(key) ?? []), e.costNanoUsd]);
  }
  let below = 0;
  let uncovered = 0;
  for (const call of [...unrecorded].sort((a, b) => b.usage.costNanoUsd - a.usage.costNanoUsd)) {
    const n = inputOf(call.messages);
    const key = call.maxTokens === 1 || n === undefined ? 'warmup' : `src/step${n}.ts`;
    const candidates = (pool.get(key) ?? []).sort((a, b) => b - a);
    const best = candidates.shift();
    pool.set(key, candidates);
    if (best === undefined) uncovered++;
    else if (best < call.usage.costNanoUsd) below++;
  }
  const estimatesWithoutBill = [...pool.values()].reduce((n, l) => n + l.length, 0);
  const perInput = new Map<number, number>();
  for (const c of calls) {
    const n = inputOf(c.messages);
    if (n !== undefined && c.maxTokens !== 1) perInput.set(n, (perInput.get(n) ?? 0) + 1);
  }
  return {
    provider: {
      billedRequests: calls.length,
      recordedExactly: exactIds.size,
      recordedAsEstimates: estimates.length,
      billedTwiceForAnInput: [...perInput.values()].reduce((n, c) => n + Math.max(0, c - 1), 0),
      billedNotRecorded: unrecorded.length,
      billedAbandoned: unrecorded.filter((c) => c.abandoned).length,
      estimatesWithoutBill,
      estimatesBelowBill: below,
      uncovered,
    },
    exactMatch,
    estimates: estimates.length,
  };
}

/** Output-based: every input has an output object or an honest failure. */
export async function judgeOutputs(
  inputs: readonly string[],
  state: InputStates,
  calls: readonly SimBilledCall[],
  objects: Pick<ObjectStore, 'size'>,
): Promise<Pick<MixResult, 'outputs' | 'failedHonestly' | 'lost' | 'lostReasons'>> {
  // The campaign's own inputs: a file dropped twice is one input.
  const answered = new Set(
    calls.filter((c) => !c.abandoned && c.maxTokens !== 1).map((c) => inputOf(c.messages)),
  );
  const lostReasons: Record<string, number> = {};
  const lose = (why: string) => {
    lostReasons[why] = (lostReasons[why] ?? 0) + 1;
  };
  let outputs = 0;
  let failedHonestly = 0;
  for (const key of inputs) {
    const jobs = state.jobsByInput.get(key) ?? [];
    const n = Number(/step(\d+)\.ts$/.exec(key)?.[1]);
    const done = jobs.filter((j) => j.state === 'succeeded' || j.state === 'reused');
    let hasOutput = false;
    for (const j of done) if ((await objects.size(j.outputKey)) !== undefined) hasOutput = true;
    if (hasOutput) {
      outputs++;
      continue;
    }
    if (jobs.length === 0) lose('no job');
    else if (done.length > 0) lose('no output object');
    else if (answered.has(n))
      lose(`answered, yet ${jobs[0]?.state} (${jobs[0]?.error?.code ?? 'no code'})`);
    else if (jobs.every((j) => j.state === 'pending' || j.state === 'running')) lose('never ended');
    else if (jobs.some((j) => honestFailure(j))) failedHonestly++;
    else lose(jobs.find((j) => j.error)?.error?.code ?? 'failed without a reason');
  }
  const lost = Object.values(lostReasons).reduce((a, b) => a + b, 0);
  return { outputs, failedHonestly, lost, lostReasons };
}
