/** Planner: intake queue records (S3 notifications, deferred batches) -> batches and work. */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSRecord } from 'aws-lambda';
import { planIntake } from '../../shared/pipeline/plan';
import type { PipelineDeps } from '../../shared/pipeline/types';
import { lazyHandler, type SqsHandler } from '../wiring';

/**
 * The planner for given dependencies. The records of one invocation are planned together
 * (dropped files of the batching window form batches); records whose batch failed are
 * reported as batch item failures, so SQS redelivers exactly those.
 */
export function createPlannerHandler(deps: PipelineDeps): SqsHandler {
  return async (event, context) => {
    const failures = await planIntake(
      event.Records.map((r) => ({ messageId: r.messageId, body: r.body })),
      deps,
    );
    const processor = new BatchProcessor(EventType.SQS);
    const response = await processPartialResponse(
      event,
      async (record: SQSRecord) => {
        const failure = failures.get(record.messageId);
        if (failure) throw failure;
      },
      processor,
      { context, throwOnFullBatchFailure: false },
    );
    deps.metrics?.publishStoredMetrics();
    return response;
  };
}

export const handler = lazyHandler('planner', createPlannerHandler);
