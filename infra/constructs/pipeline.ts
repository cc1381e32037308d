import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { CONTEXT_SEGMENT } from '../../shared/inputs/dropped-keys';
import { PRICES_KEY } from '../../shared/pipeline/prices';
import {
  ENV,
  EVENT_SOURCES,
  type FunctionName,
  PREFIXES,
  type QueueFunctionName,
  type QueueName,
} from '../../shared/resources';
import { toSettings, type WarmbatchConfig } from '../config';
import { SecureQueue } from './secure-queue';
import { WarmbatchFunction } from './warmbatch-function';

export interface PipelineProps {
  config: WarmbatchConfig;
  bucket: s3.IBucket;
  intakeQueue: SecureQueue;
  jobsTable: dynamodb.ITable;
  ledgerTable: dynamodb.ITable;
  /** Absolute path of each handler module. */
  entryFor: (fn: FunctionName) => string;
  /** Directory holding package-lock.json. */
  projectRoot: string;
}

type Prefix = (typeof PREFIXES)[keyof typeof PREFIXES];

/**
 * Item actions the planner and worker use. Transactions need no action of their own: each
 * Put, Update and ConditionCheck inside TransactWriteItems is authorized as PutItem,
 * UpdateItem and ConditionCheckItem. Nothing scans, deletes or batch-writes, so those are
 * not granted.
 */
const ITEM_READ_WRITE = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:ConditionCheckItem',
];

/** The planner lists `intake/<team>/<project>/context/` for a project's shared context. */
const PLANNER_LIST_PREFIX = `${PREFIXES.intake}*/${CONTEXT_SEGMENT}/`;

function items(table: dynamodb.ITable, fn: WarmbatchFunction, actions: string[]): void {
  table.grant(fn, ...actions);
}

/**
 * The work and finalize queues, the three functions with their event sources, and the secret
 * holding provider API keys. Each function gets only the object prefixes, tables, queues and
 * secret it uses. The worker's reserved concurrency (also the event source's maximum
 * concurrency, so SQS never gets throttled deliveries) bounds the load on the provider.
 */
export class Pipeline extends Construct {
  readonly queues: Record<QueueName, SecureQueue>;
  readonly functions: Record<QueueFunctionName, WarmbatchFunction>;
  readonly apiKeySecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    const { config, bucket, jobsTable, ledgerTable } = props;

    const plan = new SecureQueue(this, 'PlanQueue', 'plan');
    const work = new SecureQueue(this, 'WorkQueue', 'work');
    const finalize = new SecureQueue(this, 'FinalizeQueue', 'finalize');
    this.queues = { intake: props.intakeQueue, plan, work, finalize };

    this.apiKeySecret = new secretsmanager.Secret(this, 'ApiKeys', {
      description:
        'warmbatch provider API keys as JSON {"<endpoint name>": "<key>"}; set after deploy',
    });
    NagSuppressions.addResourceSuppressions(this.apiKeySecret, [
      {
        id: 'AwsSolutions-SMG4',
        reason:
          'Provider API keys are issued and rotated in the provider console; no rotation Lambda can mint them.',
      },
    ]);

    // Every function resolves its configuration at cold start (configFromEnvironment in
    // lambdas/deps.ts); only the worker calls the provider, so only it gets the secret's id.
    const environment = {
      [ENV.bucket]: bucket.bucketName,
      [ENV.jobsTable]: jobsTable.tableName,
      [ENV.ledgerTable]: ledgerTable.tableName,
      [ENV.workQueueUrl]: work.queue.queueUrl,
      [ENV.finalizeQueueUrl]: finalize.queue.queueUrl,
      [ENV.settings]: JSON.stringify(toSettings(config)),
    };
    const make = (name: QueueFunctionName, id: string, extra: Record<string, string> = {}) =>
      new WarmbatchFunction(this, id, {
        name,
        entry: props.entryFor(name),
        projectRoot: props.projectRoot,
        environment: { ...environment, ...extra },
        ...(name === 'worker'
          ? { reservedConcurrentExecutions: config.workerReservedConcurrency }
          : {}),
      });
    // The planner re-sends batches deferred to off-peak hours to its own intake queue, and fans
    // large batches and drops out to its planning queue.
    const planner = make('planner', 'Planner', {
      [ENV.intakeQueueUrl]: props.intakeQueue.queue.queueUrl,
      [ENV.planQueueUrl]: plan.queue.queueUrl,
    });
    const worker = make('worker', 'Worker', {
      [ENV.apiKeySecretId]: this.apiKeySecret.secretArn,
    });
    const finalizer = make('finalize', 'Finalize');
    this.functions = { planner, worker, finalize: finalizer };

    const objects = (fn: WarmbatchFunction, action: string, patterns: string[]) => {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [action],
          resources: patterns.map((p) => bucket.arnForObjects(p)),
        }),
      );
    };
    const under = (...prefixes: Prefix[]) => prefixes.map((p) => `${p}*`);

    // Planner: reads dropped files, manifests and batch uploads; lists a project's shared
    // context; writes stored requests, rejections and sharded plans under pipeline/ (which no
    // team can write) and reads them back; result reuse reads an earlier output and copies it
    // (GetObject on the source, PutObject on the target). It writes nothing under batches/.
    objects(
      planner,
      's3:GetObject',
      under(PREFIXES.intake, PREFIXES.batches, PREFIXES.pipeline, PREFIXES.outputs),
    );
    objects(planner, 's3:PutObject', under(PREFIXES.pipeline, PREFIXES.outputs));
    planner.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [PLANNER_LIST_PREFIX] } },
      }),
    );
    items(jobsTable, planner, ITEM_READ_WRITE);
    items(ledgerTable, planner, ITEM_READ_WRITE);
    for (const queue of [props.intakeQueue, plan, work, finalize])
      queue.queue.grantSendMessages(planner);

    // Planner and worker price with the operators' price file. Listing its key lets a missing
    // file read as absent (404) rather than AccessDenied.
    for (const fn of [planner, worker]) {
      objects(fn, 's3:GetObject', [PRICES_KEY]);
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [PRICES_KEY] } },
        }),
      );
    }

    // Worker: reads the stored request, writes the output, records cost and settles budgets.
    objects(worker, 's3:GetObject', under(PREFIXES.pipeline));
    objects(worker, 's3:PutObject', under(PREFIXES.outputs));
    items(jobsTable, worker, ITEM_READ_WRITE);
    items(ledgerTable, worker, ITEM_READ_WRITE);
    finalize.queue.grantSendMessages(worker);

    // Finalize: reads planning rejections and outputs, writes results/, closes the batch.
    objects(finalizer, 's3:GetObject', under(PREFIXES.pipeline, PREFIXES.outputs));
    objects(finalizer, 's3:PutObject', under(PREFIXES.results));
    items(jobsTable, finalizer, ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);

    // Only the worker builds an LLM client, so only it may read the provider keys.
    this.apiKeySecret.grantRead(worker);

    for (const source of EVENT_SOURCES) {
      const windowSeconds =
        source.queue === 'intake'
          ? config.intakeBatchingWindowSeconds
          : source.maxBatchingWindowSeconds;
      this.functions[source.function].addEventSource(
        new SqsEventSource(this.queues[source.queue].queue, {
          batchSize: source.batchSize,
          reportBatchItemFailures: true,
          ...(windowSeconds > 0 ? { maxBatchingWindow: Duration.seconds(windowSeconds) } : {}),
          ...(source.function === 'worker'
            ? { maxConcurrency: config.workerReservedConcurrency }
            : {}),
        }),
      );
    }

    for (const fn of Object.values(this.functions)) {
      if (fn.role) {
        NagSuppressions.addResourceSuppressions(
          fn.role,
          [
            {
              id: 'AwsSolutions-IAM5',
              reason:
                'Object access is granted per key prefix (intake/, batches/, pipeline/, outputs/, results/), the narrowest scope S3 keys allow.',
              appliesTo: [
                {
                  regex:
                    '/^Resource::<.*Bucket.*\\.Arn>\\/(intake|batches|pipeline|outputs|results)\\/\\*$/g',
                },
              ],
            },
          ],
          true,
        );
      }
      NagSuppressions.addResourceSuppressions(
        fn,
        [
          {
            id: 'AwsSolutions-L1',
            reason:
              'Node 22 is the runtime the code and its pinned AWS SDK are tested on; moving to a newer runtime is a tested change.',
          },
        ],
        true,
      );
    }
  }

  /** Every dead-letter queue, by the queue it serves. */
  deadLetterQueues(): Record<QueueName, sqs.IQueue> {
    return {
      intake: this.queues.intake.deadLetterQueue,
      plan: this.queues.plan.deadLetterQueue,
      work: this.queues.work.deadLetterQueue,
      finalize: this.queues.finalize.deadLetterQueue,
    };
  }
}
