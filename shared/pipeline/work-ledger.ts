/**
 * What a work message writes to the ledger for its calls: each billed response once (keyed by
 * the provider's response id), settled against what its call reserved, with the call's attempt
 * record removed in the same transaction; and the reservations its jobs and probes hold.
 */
import type { BilledResponse } from '../llm/errors';
import type { CallReservation, CostRecord, RecordPurpose } from '../ports/ledger';
import type { Catalog } from '../pricing/catalog';
import type { Usage } from '../types';
import type { Reservation } from './admit';
import { allotFrom } from './call-budget';
import { costRecordFor, type RecordPlace } from './costing';
import type { WorkJob } from './messages';
import type { WorkerDeps } from './types';
import { emitRecord } from './work-metrics';

/** The ledger side of one work message. */
export function workRecorder(
  ctx: {
    team: string;
    batchId: string;
    /** Where a job's (or WARMUP_JOB_ID's) records belong, purpose aside. */
    where: (jobId: string) => Omit<RecordPlace, 'purpose'>;
    owner: string;
    /** The month the planner reserved in, for a job whose reservation this message did not make. */
    reservedMonth?: string;
    catalog: Catalog;
  },
  deps: WorkerDeps,
) {
  const { team, batchId } = ctx;
  const { ledger, settings } = deps;
  /** What each running job holds of the budget. */
  const reservations = new Map<string, Reservation>();
  /** What a warm-up's or probe's call reserved before it was sent, by attempt id. */
  const callHolds = new Map<string, CallReservation>();
  /**
   * Each call's upper-bound estimate, by job id (or WARMUP_JOB_ID): recorded in place of a
   * billed answer whose usage block could not be read.
   */
  const estimates = new Map<string, Usage>();

  /** Records one billed response; a job's answer completes its job and settles its reservation. */
  const record = async (
    billed: BilledResponse,
    jobId: string,
    purpose: RecordPurpose,
    opts: {
      job?: WorkJob;
      attemptId?: string;
      latencyMs?: number;
      /** The answer's own finish reason, kept on the job for results.jsonl. */
      finishReason?: string;
      /** Without a job: what of its call's reservation this response settles. */
      allot?: (rec: CostRecord) => CallReservation | undefined;
    } = {},
  ) => {
    const { job, attemptId, latencyMs, finishReason, allot } = opts;
    const place = { ...ctx.where(jobId), purpose };
    const rec = costRecordFor(billed, place, settings, ctx.catalog, estimates.get(jobId));
    const reserved = job ? undefined : allot?.(rec);
    const out = await ledger.recordBilledResponse({
      record: rec,
      ...(reserved && reserved.nanoUsd > 0 ? { reserved } : {}),
      ...(attemptId ? { attempt: { team, batchId, jobId, attemptId } } : {}),
      ...(job
        ? {
            job: {
              owner: ctx.owner,
              outputKey: job.outputKey,
              reservedNanoUsd: reservations.get(jobId)?.nanoUsd ?? 0,
              reservedMonth: reservations.get(jobId)?.month ?? ctx.reservedMonth,
              ...(latencyMs !== undefined ? { latencyMs } : {}),
              ...(finishReason !== undefined ? { finishReason } : {}),
            },
          }
        : {}),
    });
    if (!out.duplicate) emitRecord(deps, rec);
    return out;
  };

  return {
    reservations,
    callHolds,
    estimates,
    record,
    /**
     * Records a call's billed responses; the last one settles the call's attempt record in the
     * same transaction, and a call with nothing billed just closes it. Each response settles
     * against what the call reserved (`hold`, reduced in place).
     */
    async recordCall(
      billed: readonly BilledResponse[],
      jobId: string,
      purpose: RecordPurpose,
      attemptId: string | undefined,
      hold?: CallReservation,
    ) {
      const allot = allotFrom(hold);
      for (const [i, b] of billed.entries()) {
        const last = i === billed.length - 1 && attemptId !== undefined;
        await record(b, jobId, purpose, { allot, ...(last ? { attemptId } : {}) });
      }
      if (billed.length === 0 && attemptId)
        await ledger.closeAttempt({ team, batchId, jobId, attemptId });
    },
    /** Gives back what a warm-up's or probe's call reserved and its responses did not use. */
    async returnHold(hold: CallReservation | undefined) {
      if (hold && hold.nanoUsd > 0) await ledger.release(team, hold.month, hold.nanoUsd);
    },
    /** Gives a job's reservation back to the budget (it ended or was released without a bill). */
    async giveBack(job: WorkJob) {
      const held = reservations.get(job.jobId);
      reservations.delete(job.jobId);
      if (held && held.nanoUsd > 0) await ledger.release(team, held.month, held.nanoUsd);
    },
  };
}
