import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUES, type QueueName, visibilityTimeoutSeconds } from '../../shared/resources';

/**
 * A pipeline queue and its dead-letter queue, both encrypted (SQS-managed keys, which S3
 * notifications can publish to) and TLS-only. Settings come from shared/resources.ts;
 * FIFO queues keep content-based deduplication off because messages carry their own ids.
 */
export class SecureQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, name: QueueName) {
    super(scope, id);
    const spec = QUEUES[name];
    const fifo = spec.fifo ? { fifo: true } : {};
    this.deadLetterQueue = new sqs.Queue(this, 'Dlq', {
      ...fifo,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(spec.dlqRetentionSeconds),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      ...fifo,
      ...(spec.fifo ? { contentBasedDeduplication: false } : {}),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds(name)),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: spec.maxReceiveCount },
    });
  }
}
