import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { PREFIXES } from '../../shared/resources';

export interface AccessProps {
  bucket: s3.IBucket;
  jobsTable: dynamodb.ITable;
  ledgerTable: dynamodb.ITable;
  teams: readonly string[];
}

/**
 * Jobs-table actions of the CLI's `submit --wait`, `status`, `results` and `cancel`: read a
 * batch item and Query its jobs; `cancel` updates the batch item and ends each pending job in
 * a transaction, whose items are authorized as UpdateItem (TransactWriteItems is not an IAM
 * action of its own).
 */
export const SUBMITTER_JOBS_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'];

/**
 * Partition keys a team's submitter may touch: batch and job items (`BATCH#<batchId>`), and,
 * for `status --latest`, its own projects' batch index and open drops; not the result-reuse
 * items. Batch keys carry no team, so for them this is as narrow as the key design allows.
 */
export function submitterLeadingKeys(team: string): string[] {
  return ['BATCH#*', `BATCHES#${team}/*`, `DROPS#${team}/*`];
}

/** Batch manifests, which `status` and `results` read to name files that never became jobs. */
const MANIFESTS = `${PREFIXES.batches}*/manifest.json`;

/**
 * Managed policies for people and CI outside the pipeline. A team's submitter may write its
 * own intake/<team>/ files and batch uploads under batches/, read its own outputs, batch
 * manifests and the batch results `--wait` reports on, and read and cancel batches in the
 * jobs table; nothing else. Chargeback readers may Query the ledger (roll-ups are keyed for
 * it) but not Scan it.
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
            sid: 'ReadManifests',
            actions: ['s3:GetObject'],
            resources: [bucket.arnForObjects(MANIFESTS)],
          }),
          new iam.PolicyStatement({
            sid: 'FollowAndCancelBatches',
            actions: SUBMITTER_JOBS_ACTIONS,
            resources: [props.jobsTable.tableArn],
            conditions: {
              'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': submitterLeadingKeys(team) },
            },
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
              regex: `/^Resource::<.*Bucket.*\\.Arn>\\/((intake|outputs)\\/${team}|batches|results)\\/\\*(\\/manifest\\.json)?$/g`,
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
