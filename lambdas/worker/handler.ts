/** Worker: one work message (a chunk of one prefix group) -> LLM calls, outputs, ledger. */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSRecord } from 'aws-lambda';
import { assertDone, comebackSeconds, workBatchId } from '../../shared/pipeline/comeback';
import { MalformedMessageError } from '../../shared/pipeline/messages';
import type { WorkerDeps } from '../../shared/pipeline/types';
import { processWorkMessage } from '../../shared/pipeline/work';
import { QUEUES } from '../../shared/resources';
import { lazyWorkerHandler, type SqsHandler } from '../wiring';

/** Time kept back from Lambda's remaining time to release unfinished jobs and report. */
export function safetyMarginMs(remainingMs: number): number {
  return Math.min(10_000, Math.round(remainingMs * 0.1));
}

/**
 * The worker for given dependencies. A message with jobs to run again (retryable failures,
 * jobs not started before the deadline, jobs another delivery holds) is reported as a batch
 * item failure, so SQS redelivers it, after a backoff the worker sets on it; a full batch
 * failure is such a redelivery, not an error.
 */
export function createWorkerHandler(deps: WorkerDeps): SqsHandler {
  return async (event, context) => {
    const remaining = context.getRemainingTimeInMillis();
    const deadline = deps.clock.now().getTime() + remaining - safetyMarginMs(remaining);
    const processor = new BatchProcessor(EventType.SQS);
    const response = await processPartialResponse(
      event,
      async (record: SQSRecord) => {
        deps.logger?.appendKeys({ batchId: workBatchId(record.body) });
        try {
          const receives = Number(record.attributes.ApproximateReceiveCount) || 1;
          const result = await processWorkMessage(
            record.body,
            {
              deadline,
              owner: `${context.awsRequestId}:${record.messageId}`,
              // On its last deliveries a message's jobs stop waiting: nothing is lost to the DLQ.
              lastChance: QUEUES.work.maxReceiveCount - receives <= 2,
            },
            deps,
          );
          if (result.retry) {
            const seconds = comebackSeconds(
              result,
              { receiveCount: receives, receivesLeft: QUEUES.work.maxReceiveCount - receives },
              deps.settings.retryBackoff,
              deps.clock.now().getTime(),
            );
            await deps.queues.changeVisibility(deps.queueUrls.work, record.receiptHandle, seconds);
            deps.logger?.info('work message comes back later', { seconds, receives });
          }
          assertDone(result);
        } catch (err) {
          // No delivery can fix a malformed body: let it reach the DLQ without waiting out the
          // visibility timeout on every receive.
          if (err instanceof MalformedMessageError)
            await deps.queues.changeVisibility(deps.queueUrls.work, record.receiptHandle, 0);
          throw err;
        } finally {
          deps.logger?.removeKeys(['batchId']);
        }
      },
      processor,
      { context, throwOnFullBatchFailure: false },
    );
    deps.metrics?.publishStoredMetrics();
    return response;
  };
}

export const handler = lazyWorkerHandler(createWorkerHandler);
