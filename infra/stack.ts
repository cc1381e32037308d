import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';
import { FUNCTIONS, type FunctionName, STACK_OUTPUTS } from '../shared/resources';
import type { WarmbatchConfig } from './config';
import { Access } from './constructs/access';
import { Chargeback } from './constructs/chargeback';
import { Intake } from './constructs/intake';
import { Ledger } from './constructs/ledger';
import { Observability } from './constructs/observability';
import { Pipeline } from './constructs/pipeline';

/** The repo root: handler entries in shared/resources.ts are relative to it. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface WarmbatchStackProps extends StackProps {
  config: WarmbatchConfig;
  /** Handler module of each function; defaults to the entries in shared/resources.ts. */
  entryFor?: (fn: FunctionName) => string;
}

/**
 * The whole pipeline in one stack: intake (bucket, intake queue, notifications), ledger
 * (tables), pipeline (queues, functions, secret), access (policies for CI submitters and
 * chargeback readers) and observability (alarms, dashboard), with the outputs the CLI reads.
 */
export class WarmbatchStack extends Stack {
  readonly intake: Intake;
  readonly ledger: Ledger;
  readonly pipeline: Pipeline;
  readonly access: Access;
  readonly observability: Observability;
  readonly chargeback: Chargeback;

  constructor(scope: Construct, id: string, props: WarmbatchStackProps) {
    super(scope, id, props);
    const { config } = props;
    const teams = Object.keys(config.teams);
    const entryFor = props.entryFor ?? ((fn) => path.join(REPO_ROOT, FUNCTIONS[fn].entry));
    const missing = (Object.keys(FUNCTIONS) as FunctionName[])
      .map(entryFor)
      .filter((entry) => !existsSync(entry));
    if (missing.length > 0) {
      throw new Error(`handler entry files missing: ${missing.join(', ')}`);
    }

    this.intake = new Intake(this, 'Intake', { retention: config.retention });
    this.ledger = new Ledger(this, 'Ledger');
    this.pipeline = new Pipeline(this, 'Pipeline', {
      config,
      bucket: this.intake.bucket,
      intakeQueue: this.intake.intakeQueue,
      jobsTable: this.ledger.jobsTable,
      ledgerTable: this.ledger.ledgerTable,
      entryFor,
      projectRoot: REPO_ROOT,
    });
    this.access = new Access(this, 'Access', {
      bucket: this.intake.bucket,
      jobsTable: this.ledger.jobsTable,
      ledgerTable: this.ledger.ledgerTable,
      teams,
    });
    this.chargeback = new Chargeback(this, 'Chargeback', {
      config,
      bucket: this.intake.bucket,
      logBucket: this.intake.logBucket,
      ledgerTable: this.ledger.ledgerTable,
      entry: entryFor('export'),
      projectRoot: REPO_ROOT,
    });
    this.chargeback.grantQuery(this.access.chargebackReaderPolicy, this.intake.bucket);
    this.observability = new Observability(this, 'Observability', {
      deadLetterQueues: {
        ...this.pipeline.deadLetterQueues(),
        export: this.chargeback.deadLetterQueue,
      },
      functions: { ...this.pipeline.functions, export: this.chargeback.exportFunction },
      teams,
      ...(config.alarmTopicArn ? { alarmTopicArn: config.alarmTopicArn } : {}),
    });

    const output = (key: string, value: string, description: string) =>
      new CfnOutput(this, key, { value, description });
    output(STACK_OUTPUTS.bucketName, this.intake.bucket.bucketName, 'Intake and output bucket');
    output(STACK_OUTPUTS.jobsTableName, this.ledger.jobsTable.tableName, 'Jobs table');
    output(STACK_OUTPUTS.ledgerTableName, this.ledger.ledgerTable.tableName, 'Cost ledger table');
    const queues = this.pipeline.queues;
    output(STACK_OUTPUTS.intakeQueueUrl, queues.intake.queue.queueUrl, 'Intake queue URL');
    output(STACK_OUTPUTS.workQueueUrl, queues.work.queue.queueUrl, 'Work queue URL');
    output(STACK_OUTPUTS.finalizeQueueUrl, queues.finalize.queue.queueUrl, 'Finalize queue URL');
    output(STACK_OUTPUTS.region, Aws.REGION, 'Region of the stack');
    output(
      STACK_OUTPUTS.apiKeySecretArn,
      this.pipeline.apiKeySecret.secretArn,
      'Secret to fill with provider API keys',
    );
    const arnsByTeam = (policies: Record<string, { managedPolicyArn: string }>) =>
      this.toJsonString(
        Object.fromEntries(Object.entries(policies).map(([team, p]) => [team, p.managedPolicyArn])),
      );
    output(
      STACK_OUTPUTS.submitterPolicyArns,
      arnsByTeam(this.access.submitterPolicies),
      'JSON map of team to its CI submitter managed policy ARN',
    );
    output(
      STACK_OUTPUTS.teamAdminPolicyArns,
      arnsByTeam(this.access.teamAdminPolicies),
      "JSON map of team to the managed policy that reads that team's own ledger rows",
    );
    output(
      STACK_OUTPUTS.chargebackReaderPolicyArn,
      this.access.chargebackReaderPolicy.managedPolicyArn,
      'Managed policy for chargeback readers',
    );
    output(
      STACK_OUTPUTS.dashboardName,
      this.observability.dashboard.dashboardName,
      'CloudWatch dashboard',
    );

    suppressCdkInternals(this);
  }
}

/** Suppressions for resources CDK itself adds (the S3 notification configurator). */
function suppressCdkInternals(stack: Stack): void {
  const handler = stack.node
    .findAll()
    .find((c) => c.node.id.startsWith('BucketNotificationsHandler'));
  if (!handler) return;
  NagSuppressions.addResourceSuppressions(
    handler,
    [
      {
        id: 'AwsSolutions-IAM4',
        reason:
          'CDK-provided handler that configures bucket notifications at deploy time; it only needs basic logging.',
        appliesTo: [
          'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
        ],
      },
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'CDK-provided handler: s3:PutBucketNotification has no resource-level scoping in its generated policy.',
        appliesTo: ['Resource::*'],
      },
    ],
    true,
  );
}
