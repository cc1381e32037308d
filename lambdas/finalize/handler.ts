/** Finalize: a batch whose jobs all ended -> results.jsonl, errors.jsonl, summary.json. */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSRecord } from 'aws-lambda';
import { processFinalizeMessage } from '../../shared/pipeline/finalize';
import type { PipelineDeps } from '../../shared/pipeline/types';
import { lazyHandler, type SqsHandler } from '../wiring';

/** The finalizer for given dependencies; each record is one batch, finalized idempotently. */
export function createFinalizeHandler(deps: PipelineDeps): SqsHandler {
  return async (event, context) => {
    const processor = new BatchProcessor(EventType.SQS);
    const response = await processPartialResponse(
      event,
      async (record: SQSRecord) => {
        await processFinalizeMessage(record.body, deps);
      },
      processor,
      { context },
    );
    deps.metrics?.publishStoredMetrics();
    return response;
  };
}

export const handler = lazyHandler('finalize', createFinalizeHandler);
