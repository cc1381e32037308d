/**
 * The claim step: a job is leased before any call, so a redelivered message or a second worker
 * makes no call for a job that ended or is leased elsewhere; then it is checked and admitted.
 */
import pLimit from 'p-limit';
import type { JobItem } from '../ports/jobs';
import { admit } from './admit';
import { settleTakenOver } from './call-budget';
import { isRequestKeyOf, outputPrefixFor } from './keys';
import type { WorkJob } from './messages';
import { checkedRequest, type StoredRequest, storedRequestReader } from './request';
import { applyVerdict, settleFacts, type WorkRun } from './work-run';
import { settle } from './work-settle';

/** A job this run holds and will send. */
export interface Runnable {
  job: WorkJob;
  claimed: JobItem;
  attempts: number;
  request: StoredRequest;
}

/**
 * Claims the message's jobs, in parallel; the runnable ones keep the message's order. The jobs
 * share a few request objects, each read once and let go after the claims: a set may hold other
 * messages' jobs, and the runnable ones hold their own requests.
 */
export async function claimAll(run: WorkRun): Promise<Runnable[]> {
  const readRequest = storedRequestReader(run.deps.objects, run.batch);
  const limit = pLimit(run.deps.settings.concurrency.claims);
  const claimed = await limit.map(run.msg.jobs, (job) => claimToRun(run, job, readRequest));
  return claimed.filter((r) => r !== undefined);
}

/** Claims one job; a job another worker holds, or one that ended, costs no call. */
async function claimToRun(
  run: WorkRun,
  job: WorkJob,
  readRequest: ReturnType<typeof storedRequestReader>,
): Promise<Runnable | undefined> {
  const { batch, deps, result, options, msg } = run;
  const { settings } = deps;
  const claim = await deps.jobs.claimJob(
    batch,
    job.jobId,
    options.owner,
    settings.leaseMs,
    run.now(),
  );
  if (!claim.job) {
    result.skipped++;
    // Leased elsewhere: a redelivery while the first delivery still runs. The lease holder
    // may yet give the job back (a retryable failure), and its message is this one, so
    // this copy must not be deleted: it comes back, and then finds the job ended, pending
    // again, or its lease expired.
    if (claim.reason === 'leased') {
      result.leased++;
      result.retry = true;
      if (claim.leaseUntil !== undefined)
        result.notBefore = Math.max(result.notBefore ?? 0, claim.leaseUntil);
    }
    return undefined;
  }
  result.claimed++;
  // Taken over after its lease ran out: the dead owner's calls are accounted for first.
  if (claim.job.attempts > 1)
    await settleTakenOver(batch, claim.job, options.owner, run.now(), deps);
  const { attempts } = claim.job;
  const verdict = settle({ status: 'claimed' }, settleFacts(run, attempts));
  if (verdict.kind !== 'run') {
    await applyVerdict(run, job, verdict);
    return undefined;
  }
  // Keys can come back from job items (a resumed planning), which the team's own credentials
  // may update: the worker reads and writes only its batch's own keys.
  if (
    !isRequestKeyOf(batch, job.requestKey) ||
    !job.outputKey.startsWith(outputPrefixFor({ ...batch, project: msg.project }))
  ) {
    const reason = `the job's keys are not under batch ${batch.team}/${batch.batchId}: refused`;
    await applyVerdict(run, job, { kind: 'fail', code: 'error', reason });
    return undefined;
  }
  // The request is checked before anything depends on it (the reuse entry is keyed by it).
  const checked = await checkedRequest(readRequest, job, msg.model);
  if (!checked.ok) {
    deps.logger?.warn('stored request refused', { jobId: job.jobId, code: checked.code });
    await applyVerdict(run, job, { kind: 'fail', code: checked.code, reason: checked.reason });
    return undefined;
  }
  const admission = await admit(job, { batch, lastChance: options.lastChance ?? false }, deps);
  if (admission.kind === 'reused') {
    const end = { state: 'reused' as const, responseId: admission.responseId };
    if (await deps.jobs.endJob(batch, job.jobId, end, { now: run.now(), owner: options.owner }))
      result.reused++;
    return undefined;
  }
  if (admission.kind === 'wait') {
    deps.logger?.info('job waits', { jobId: job.jobId, why: admission.why });
    const waited = admission.notBefore === undefined ? {} : { notBefore: admission.notBefore };
    await applyVerdict(run, job, { kind: 'release', waited });
    return undefined;
  }
  run.holding.set(job.jobId, job.requestHash);
  return { job, claimed: claim.job, attempts, request: checked.request };
}
