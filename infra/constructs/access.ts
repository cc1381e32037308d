import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { PREFIXES } from '../../shared/resources';

export interface AccessProps {
  bucket: s3.IBucket;
  ledgerTable: dynamodb.ITable;
  teams: readonly string[];
}

/**
 * Managed policies for people and CI outside the pipeline. A team's submitter may write its
 * own intake/<team>/ files and batch uploads under batches/, and read its own outputs and the
 * batch results `--wait` reports on; nothing else in the bucket. Chargeback readers may Query
 * the ledger (roll-ups are keyed for it) but not Scan it.
 */
export class Access extends Construct {
  readonly submitterPolicies: Record<string, iam.ManagedPolicy>;
  readonly chargebackReaderPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: AccessProps) {
    super(scope, id);
    const { bucket } = props;
    this.submitterPolicies = {};
    for (const team of props.teams) {
      const writable = [`${PREFIXES.intake}${team}/`, PREFIXES.batches];
      const readable = [`${PREFIXES.outputs}${team}/`, PREFIXES.results];
      const policy = new iam.ManagedPolicy(this, `Submitter-${team}`, {
        description: `Submit warmbatch jobs and fetch outputs for team ${team}`,
        statements: [
          new iam.PolicyStatement({
            sid: 'WriteInputs',
            actions: ['s3:PutObject'],
            resources: writable.map((p) => bucket.arnForObjects(`${p}*`)),
          }),
          new iam.PolicyStatement({
            sid: 'ReadOutputs',
            actions: ['s3:GetObject'],
            resources: readable.map((p) => bucket.arnForObjects(`${p}*`)),
          }),
          new iam.PolicyStatement({
            sid: 'ListOwnPrefixes',
            actions: ['s3:ListBucket'],
            resources: [bucket.bucketArn],
            conditions: { StringLike: { 's3:prefix': readable.map((p) => `${p}*`) } },
          }),
        ],
      });
      NagSuppressions.addResourceSuppressions(policy, [
        {
          id: 'AwsSolutions-IAM5',
          reason: `Objects are reachable only under team ${team}'s own prefixes and the shared batches/ and results/ prefixes keyed by random batch ids.`,
          appliesTo: [
            {
              regex: `/^Resource::<.*Bucket.*\\.Arn>\\/((intake|outputs)\\/${team}|batches|results)\\/\\*$/g`,
            },
          ],
        },
      ]);
      this.submitterPolicies[team] = policy;
    }

    this.chargebackReaderPolicy = new iam.ManagedPolicy(this, 'ChargebackReader', {
      description: 'Read warmbatch cost roll-ups with Query; Scan is not allowed',
      statements: [
        new iam.PolicyStatement({
          sid: 'QueryLedger',
          actions: ['dynamodb:Query', 'dynamodb:DescribeTable'],
          resources: [props.ledgerTable.tableArn],
        }),
      ],
    });
  }
}
