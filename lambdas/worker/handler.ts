/** Worker: one work message (a chunk of one prefix group) -> LLM calls, outputs, ledger. */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSRecord } from 'aws-lambda';
import type { WorkerDeps } from '../../shared/pipeline/types';
import { assertDone, processWorkMessage, workBatchId } from '../../shared/pipeline/work';
import { lazyWorkerHandler, type SqsHandler } from '../wiring';

/** Time kept back from Lambda's remaining time to release unfinished jobs and report. */
export function safetyMarginMs(remainingMs: number): number {
  return Math.min(10_000, Math.round(remainingMs * 0.1));
}

/**
 * The worker for given dependencies. A message with jobs to run again (retryable failures,
 * jobs not started before the deadline) is reported as a batch item failure, so SQS
 * redelivers it; a full batch failure is such a redelivery, not an error.
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
          const result = await processWorkMessage(
            record.body,
            { deadline, owner: `${context.awsRequestId}:${record.messageId}` },
            deps,
          );
          assertDone(result);
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
