import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { LINE_ITEMS_PREFIX } from '../../shared/chargeback/export';
import { lineItemColumns } from '../../shared/chargeback/parquet';
import { LINE_ITEMS_TABLE, savedQueries } from '../../shared/chargeback/queries';
import { ENV, EXPORT_STREAM } from '../../shared/resources';
import { toSettings, type WarmbatchConfig } from '../config';
import { WarmbatchFunction } from './warmbatch-function';

export interface ChargebackProps {
  config: WarmbatchConfig;
  bucket: s3.IBucket;
  logBucket: s3.IBucket;
  ledgerTable: dynamodb.ITable;
  /** Absolute path of the export handler module. */
  entry: string;
  projectRoot: string;
}

/** Name of the Glue database holding the line-item table. */
export const GLUE_DATABASE = 'warmbatch_chargeback';
/** Name of the Athena workgroup holding the saved chargeback queries. */
export const ATHENA_WORKGROUP = 'warmbatch-chargeback';
/** First day the day partition projection covers. */
const PROJECTION_START = '2025-01-01';
/** Days Athena query results are kept. */
const RESULTS_EXPIRY_DAYS = 30;
/** A query that would scan more than this is cancelled: a runaway query cannot run up a bill. */
const BYTES_SCANNED_CUTOFF = 100 * 1024 ** 3;

/**
 * Line items at org scale: the ledger's change stream drives the export function, which writes
 * one Parquet file per team and UTC day under `line-items/day=<day>/`; a Glue table (day
 * partitions by projection, so no crawler and no MSCK REPAIR) makes them an Athena table, and an
 * Athena workgroup (engine 3, encrypted results, a scan cutoff) holds the saved queries.
 */
export class Chargeback extends Construct {
  readonly exportFunction: WarmbatchFunction;
  readonly deadLetterQueue: sqs.Queue;
  readonly resultsBucket: s3.Bucket;
  readonly database: glue.CfnDatabase;
  readonly table: glue.CfnTable;
  readonly workGroup: athena.CfnWorkGroup;
  readonly namedQueries: athena.CfnNamedQuery[];

  constructor(scope: Construct, id: string, props: ChargebackProps) {
    super(scope, id);
    const { bucket, ledgerTable, config } = props;
    const settings = toSettings(config);
    const tagKeys = config.chargeback.tagColumns;

    this.deadLetterQueue = new sqs.Queue(this, 'ExportDlq', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.deadLetterQueue, [
      {
        id: 'AwsSolutions-SQS3',
        reason:
          "This queue is the export's on-failure destination (a dead-letter queue); it needs none of its own.",
      },
    ]);

    this.exportFunction = new WarmbatchFunction(this, 'Export', {
      name: 'export',
      entry: props.entry,
      projectRoot: props.projectRoot,
      environment: {
        [ENV.bucket]: bucket.bucketName,
        [ENV.ledgerTable]: ledgerTable.tableName,
        [ENV.settings]: JSON.stringify(settings),
      },
    });
    const fn = this.exportFunction;
    // Reads the records of a team-day (Query on REC#<team>#<month>) and writes its line items.
    ledgerTable.grant(fn, 'dynamodb:Query');
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects(`${LINE_ITEMS_PREFIX}*`)],
      }),
    );
    fn.addEventSource(
      new DynamoEventSource(ledgerTable, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: EXPORT_STREAM.batchSize,
        maxBatchingWindow: Duration.seconds(EXPORT_STREAM.maxBatchingWindowSeconds),
        retryAttempts: EXPORT_STREAM.retryAttempts,
        bisectBatchOnError: true,
        onFailure: new SqsDlq(this.deadLetterQueue),
        // Only cost records: roll-ups, budgets, markers and attempts change far more often.
        filters: [
          lambda.FilterCriteria.filter({
            dynamodb: { Keys: { pk: { S: lambda.FilterRule.beginsWith('REC#') } } },
          }),
        ],
      }),
    );
    NagSuppressions.addResourceSuppressions(
      fn.role as iam.IRole,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'dynamodb:ListStreams has no resource-level scope (added by the stream event source); line items are written under line-items/ only.',
          appliesTo: [
            'Resource::*',
            { regex: '/^Resource::<.*Bucket.*\\.Arn>\\/line-items\\/\\*$/g' },
          ],
        },
      ],
      true,
    );
    NagSuppressions.addResourceSuppressions(fn, [
      {
        id: 'AwsSolutions-L1',
        reason:
          'Node 22 is the runtime the code and its pinned AWS SDK are tested on; moving to a newer runtime is a tested change.',
      },
    ]);

    this.resultsBucket = new s3.Bucket(this, 'QueryResults', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
      serverAccessLogsBucket: props.logBucket,
      serverAccessLogsPrefix: 'athena-results/',
      lifecycleRules: [{ expiration: Duration.days(RESULTS_EXPIRY_DAYS) }],
    });

    const account = Stack.of(this).account;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: account,
      databaseInput: {
        name: GLUE_DATABASE,
        description: 'warmbatch chargeback: the ledger line items',
      },
    });
    const location = `s3://${bucket.bucketName}/${LINE_ITEMS_PREFIX}`;
    this.table = new glue.CfnTable(this, 'LineItems', {
      catalogId: account,
      databaseName: GLUE_DATABASE,
      tableInput: {
        name: LINE_ITEMS_TABLE,
        description: 'One row per billed provider response (shared/chargeback/line-items.ts)',
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: [{ name: 'day', type: 'string', comment: 'UTC day, yyyy-mm-dd' }],
        parameters: {
          classification: 'parquet',
          EXTERNAL: 'TRUE',
          'projection.enabled': 'true',
          'projection.day.type': 'date',
          'projection.day.format': 'yyyy-MM-dd',
          'projection.day.range': `${PROJECTION_START},NOW`,
          'projection.day.interval': '1',
          'projection.day.interval.unit': 'DAYS',
          'storage.location.template': `${location}day=\${day}/`,
        },
        storageDescriptor: {
          location,
          inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          serdeInfo: {
            serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
          },
          columns: lineItemColumns(tagKeys).map(([name, type]) => ({ name, type })),
        },
      },
    });
    this.table.addResourceDependency(this.database);

    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: ATHENA_WORKGROUP,
      description: 'warmbatch chargeback queries over the line items',
      state: 'ENABLED',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: BYTES_SCANNED_CUTOFF,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/results/`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });

    this.namedQueries = savedQueries(tagKeys).map((q) => {
      const named = new athena.CfnNamedQuery(this, `Query-${q.id}`, {
        name: `warmbatch ${q.id}`,
        description: q.description,
        database: GLUE_DATABASE,
        workGroup: ATHENA_WORKGROUP,
        queryString: q.sql,
      });
      named.addResourceDependency(this.workGroup);
      named.addResourceDependency(this.table);
      return named;
    });
  }

  /**
   * Lets the chargeback readers run the saved queries: the workgroup, the Glue table, the line
   * items (read only) and the workgroup's results.
   */
  grantQuery(policy: iam.ManagedPolicy, bucket: s3.IBucket): void {
    const stack = Stack.of(this);
    const arn = (service: string, resource: string, resourceName?: string) =>
      stack.formatArn({
        service,
        resource,
        ...(resourceName ? { resourceName } : {}),
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      });
    policy.addStatements(
      new iam.PolicyStatement({
        sid: 'RunChargebackQueries',
        actions: [
          'athena:StartQueryExecution',
          'athena:GetQueryExecution',
          'athena:GetQueryResults',
          'athena:StopQueryExecution',
          'athena:GetWorkGroup',
          'athena:ListNamedQueries',
          'athena:GetNamedQuery',
          'athena:BatchGetNamedQuery',
        ],
        resources: [arn('athena', 'workgroup', ATHENA_WORKGROUP)],
      }),
      new iam.PolicyStatement({
        sid: 'ReadLineItemTable',
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
        resources: [
          arn('glue', 'catalog'),
          arn('glue', 'database', GLUE_DATABASE),
          arn('glue', 'table', `${GLUE_DATABASE}/${LINE_ITEMS_TABLE}`),
        ],
      }),
      new iam.PolicyStatement({
        sid: 'ReadLineItems',
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${LINE_ITEMS_PREFIX}*`)],
      }),
      new iam.PolicyStatement({
        sid: 'ListLineItems',
        actions: ['s3:ListBucket', 's3:GetBucketLocation'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${LINE_ITEMS_PREFIX}*`] } },
      }),
      new iam.PolicyStatement({
        sid: 'QueryResults',
        actions: ['s3:GetObject', 's3:PutObject', 's3:ListBucket', 's3:GetBucketLocation'],
        resources: [this.resultsBucket.bucketArn, this.resultsBucket.arnForObjects('results/*')],
      }),
    );
    NagSuppressions.addResourceSuppressions(policy, [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'Chargeback readers read line-items/ and the Athena results/ prefix only, the narrowest scope S3 keys allow.',
        appliesTo: [
          { regex: '/^Resource::<.*Bucket.*\\.Arn>\\/line-items\\/\\*$/g' },
          { regex: '/^Resource::<.*QueryResults.*\\.Arn>\\/results\\/\\*$/g' },
        ],
      },
    ]);
  }
}
