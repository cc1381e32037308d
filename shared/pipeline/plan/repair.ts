/**
 * Repair manifests become repair batches. Each file names a job of the repaired batch (the
 * original, or the previous round's repair batch) whose test failed validation; its repair job's
 * request is that job's stored request, its answer as an assistant message, and the failure
 * output as a user message (shared/quality/repair.ts). The repair batch is planned like any
 * batch (grouped, budgeted, ledgered, reused and de-duplicated in flight), in lane `repair`.
 *
 * The team, the repaired batch and every key come from the manifest's key and the batch ids,
 * never from item attributes (which the team's own credentials may update): a repair reads
 * only its own team's requests and outputs.
 */
import {
  batchFailureKeyFor,
  checkContent,
  type Job,
  jobIdFor,
  outputKeyFor,
  type ParsedManifest,
  type Rejection,
  validatePath,
} from '../../inputs';
import { outputPathFor } from '../../prompts';
import { repairMessages } from '../../quality/repair';
import { outputPrefixFor, requestKeyFor } from '../keys';
import { storedRequestReader } from '../request';
import { effectiveSensitivity } from '../sensitivity';
import type { PipelineDeps } from '../types';
import type { BatchSpec } from './spec';

/** Largest failure output read for a repair; the request carries a trimmed part of it. */
const MAX_FAILURE_BYTES = 256 * 1024;

/** The batch spec of a repair manifest (its jobs carry their whole request). */
export async function repairSpec(
  key: string,
  m: ParsedManifest & { repairOf: { batchId: string; round: number } },
  messageId: string,
  deps: PipelineDeps,
): Promise<BatchSpec> {
  const repaired = { team: m.team, batchId: m.repairOf.batchId };
  const batch = { team: m.team, batchId: m.batchId };
  const previous = await deps.jobs.getBatch(repaired);
  const rejections: Rejection[] = [];
  const jobs: Job[] = [];
  const base = {
    batchId: m.batchId,
    team: m.team,
    project: previous?.project ?? m.project,
    kind: previous?.kind ?? m.kind,
    model: previous?.model ?? m.model,
    // Never less sensitive than what it repairs (the repair carries that batch's code), nor
    // than the settings' floor of the team and of either project named.
    sensitivity: effectiveSensitivity(
      deps.settings,
      { team: m.team, projects: [m.project, ...(previous ? [previous.project] : [])] },
      m.sensitivity,
      previous?.sensitivity,
    ),
    createdAt: m.createdAt,
    lane: 'repair' as const,
    repairOf: {
      batchId: repaired.batchId,
      origin: previous?.repairOf?.origin ?? repaired.batchId,
      round: m.repairOf.round,
    },
    ...(m.deadline ? { deadline: m.deadline } : {}),
    ...(m.budgetNanoUsd !== undefined ? { budgetNanoUsd: m.budgetNanoUsd } : {}),
    messageIds: [messageId],
  };
  const refuse = (path: string, reason: string) =>
    rejections.push({ source: key, where: path, code: 'not_repairable', reason });
  if (previous?.kind !== 'tests' || previous.lane === 'shadow') {
    for (const path of m.files)
      refuse(
        path,
        `batch ${repaired.batchId} of team ${m.team} ${previous ? 'has no tests to repair' : 'does not exist'}`,
      );
    return { ...base, jobs, rejections };
  }
  const prefix = outputPrefixFor(previous);
  for (const [i, path] of m.files.entries()) {
    const checked = validatePath(key, path, `files[${i}]`);
    if (!checked.ok) {
      rejections.push(checked.rejection);
      continue;
    }
    const jobId = jobIdFor(repaired.batchId, path);
    const job = await deps.jobs.getJob(repaired, jobId);
    // The output key is read back from an item the team may update: only its own batch's.
    if (
      !job ||
      (job.state !== 'succeeded' && job.state !== 'reused') ||
      !job.outputKey.startsWith(prefix)
    ) {
      refuse(path, `${path} has no answer in batch ${repaired.batchId} to repair`);
      continue;
    }
    const [stored, answer, failureBytes] = await Promise.all([
      storedRequestReader(deps.objects, repaired)(
        job.requestKey ?? requestKeyFor(repaired, jobId),
        jobId,
      ),
      deps.objects.getText(job.outputKey),
      deps.objects.get(batchFailureKeyFor(batch, path)),
    ]);
    const failure = checkContent(
      batchFailureKeyFor(batch, path),
      failureBytes ?? new Uint8Array(),
      {
        maxBytes: MAX_FAILURE_BYTES,
      },
    );
    if (stored === undefined || answer === undefined) {
      refuse(path, `the request or the answer of ${path} in batch ${repaired.batchId} is gone`);
      continue;
    }
    if (!failure.ok) {
      refuse(path, `its failure output could not be read: ${failure.rejection.reason}`);
      continue;
    }
    // The CLI writes `verdict: <verdict>` on the first line, then the run's output.
    const head = /^verdict: ([a-z_]+)\n/.exec(failure.value);
    jobs.push({
      jobId: jobIdFor(m.batchId, path),
      batchId: m.batchId,
      team: m.team,
      project: previous.project,
      kind: 'tests',
      path,
      inputKey: batchFailureKeyFor(batch, path),
      outputKey: outputKeyFor(m.team, previous.project, m.batchId, 'tests', path),
      model: stored.model,
      sensitivity: base.sensitivity,
      contextKeys: [],
      request: {
        messages: repairMessages(stored.messages, answer, {
          testPath: outputPathFor('tests', path),
          verdict: head?.[1] ?? 'failed',
          output: head ? failure.value.slice(head[0].length) : failure.value,
        }),
        maxTokens: stored.maxTokens,
      },
      repairOf: { batchId: repaired.batchId, jobId },
    });
  }
  return { ...base, jobs, rejections };
}
