import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { MANIFEST_SUFFIX, PREFIXES, VERDICTS_SUFFIX } from '../../shared/resources';
import { SecureQueue } from './secure-queue';

/** Days before non-current object versions and access logs are deleted. */
const NONCURRENT_EXPIRY_DAYS = 30;
const ACCESS_LOG_EXPIRY_DAYS = 90;

/**
 * The one bucket (intake/, batches/, outputs/, results/, config/), its access-log bucket and
 * the intake queue that S3 notifies when a file is dropped under intake/ or a batch manifest
 * (written last by `submit`) lands under batches/.
 */
export class Intake extends Construct {
  readonly bucket: s3.Bucket;
  readonly logBucket: s3.Bucket;
  readonly intakeQueue: SecureQueue;

  constructor(
    scope: Construct,
    id: string,
    props: { retention: { intakeDays: number; batchesDays: number; outputsDays: number } },
  ) {
    super(scope, id);
    const { retention } = props;
    const expire = (prefix: string, days: number): s3.LifecycleRule => ({
      id: `expire-${prefix.replace(/\/$/, '')}`,
      prefix,
      expiration: Duration.days(days),
    });
    this.logBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ expiration: Duration.days(ACCESS_LOG_EXPIRY_DAYS) }],
    });
    NagSuppressions.addResourceSuppressions(this.logBucket, [
      {
        id: 'AwsSolutions-S1',
        reason: 'This bucket is the access-log destination; logging it into itself would loop.',
      },
    ]);

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'bucket/',
      lifecycleRules: [
        expire(PREFIXES.intake, retention.intakeDays),
        // Submitted files and the prompts built from them; the ledger keeps what they cost.
        expire(PREFIXES.batches, retention.batchesDays),
        expire(PREFIXES.pipeline, retention.batchesDays),
        expire(PREFIXES.outputs, retention.outputsDays),
        expire(PREFIXES.results, retention.outputsDays),
        {
          id: 'expire-noncurrent',
          noncurrentVersionExpiration: Duration.days(NONCURRENT_EXPIRY_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });

    this.intakeQueue = new SecureQueue(this, 'IntakeQueue', 'intake');
    const toIntake = new s3n.SqsDestination(this.intakeQueue.queue);
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, toIntake, {
      prefix: PREFIXES.intake,
    });
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, toIntake, {
      prefix: PREFIXES.batches,
      suffix: MANIFEST_SUFFIX,
    });
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, toIntake, {
      prefix: PREFIXES.batches,
      suffix: VERDICTS_SUFFIX,
    });
  }
}
