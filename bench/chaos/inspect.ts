/**
 * What the campaign reads of the running pipeline: where every input stands, whether the queues
 * are idle, and the notifications it delivers twice.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { LocalPipeline } from '../../local/pipeline';
import type { JobItem } from '../../shared/ports/jobs';
import { TERMINAL_STATES } from '../../shared/types';

/** The campaign's one team. */
export const TEAM = 'chaos';

/** Sends every S3 notification already delivered for a project's drop once more. */
export async function duplicateNotifications(
  pipeline: LocalPipeline,
  project: string,
): Promise<void> {
  const { runtime } = pipeline;
  await runtime.flushS3Events();
  const seen = runtime.emulators.fauxqs.spy
    .getAllMessages()
    .filter(
      (m) =>
        m.service === 'sqs' &&
        m.status === 'published' &&
        m.queueName === runtime.resources.queues.intake.name &&
        m.body.includes(`intake/${TEAM}/${project}/`),
    );
  for (const m of seen)
    if (m.service === 'sqs')
      await runtime.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: runtime.resources.queues.intake.url,
          MessageBody: m.body,
        }),
      );
}

/** No message waits, is delayed or is in flight on any queue: nothing more will happen. */
export function queuesIdle(pipeline: LocalPipeline): boolean {
  const { runtime } = pipeline;
  return Object.values(runtime.resources.queues).every((q) => {
    const inspected = runtime.emulators.fauxqs.inspectQueue(q.name);
    if (!inspected) return true;
    const m = inspected.messages;
    return m.ready.length + m.delayed.length + m.inflight.length === 0;
  });
}

/**
 * Where every input stands: its jobs (in every batch of the team), the batches that are done,
 * and how many inputs have no job in a terminal state yet.
 */
export async function inputStates(pipeline: LocalPipeline, inputs: readonly string[]) {
  const { deps } = pipeline;
  const summaries = (await deps.objects.list(`results/${TEAM}/`)).filter((k) =>
    k.endsWith('summary.json'),
  );
  const ended = new Set<string>();
  const done: { project: string; doneAt: number }[] = [];
  const jobsByInput = new Map<string, JobItem[]>();
  const inputOfJob = new Map<string, string>();
  const batches = new Set<string>();
  for (const key of summaries) {
    const ref = { team: TEAM, batchId: key.split('/').at(-2) as string };
    const batch = await deps.jobs.getBatch(ref);
    if (batch?.status !== 'done') continue;
    batches.add(ref.batchId);
    done.push({ project: batch.project, doneAt: Date.parse(batch.doneAt ?? batch.createdAt) });
    for (const job of await deps.jobs.listJobs(ref)) {
      if ((TERMINAL_STATES as readonly string[]).includes(job.state)) ended.add(job.inputKey);
      jobsByInput.set(job.inputKey, [...(jobsByInput.get(job.inputKey) ?? []), job]);
      const step = /src\/step\d+\.ts$/.exec(job.inputKey)?.[0];
      if (step) inputOfJob.set(`${ref.batchId}/${job.jobId}`, step);
    }
  }
  return {
    unended: inputs.filter((k) => !ended.has(k)).length,
    done,
    jobsByInput,
    inputOfJob,
    batches,
  };
}

export type InputStates = Awaited<ReturnType<typeof inputStates>>;
