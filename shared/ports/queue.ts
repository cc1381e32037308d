/**
 * Sending messages the pipeline sends itself (work chunks, finalize requests, deferred batches).
 * shared/aws/queue.ts implements it over SQS.
 */

/** One message to send. FIFO queues need `groupId`; `dedupId` unless content-based dedup is on. */
export interface QueueMessage {
  body: string;
  groupId?: string;
  dedupId?: string;
  delaySeconds?: number;
}

/** Sends messages to queues, all or nothing from the caller's point of view. */
export interface QueueSender {
  /** Resolves once every message was accepted; throws naming the ones that were not. */
  send(queueUrl: string, messages: readonly QueueMessage[]): Promise<void>;
  /**
   * Sets when a received message comes back (seconds from now): a worker giving a message back
   * chooses its own backoff instead of waiting out the queue's whole visibility timeout.
   */
  changeVisibility(queueUrl: string, receiptHandle: string, seconds: number): Promise<void>;
}
