import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { CANCEL_ATTRIBUTES, teamBatchesPkPrefix } from '../../shared/aws/jobs/keys';
import { PREFIXES } from '../../shared/resources';

export interface AccessProps {
  bucket: s3.IBucket;
  jobsTable: dynamodb.ITable;
  ledgerTable: dynamodb.ITable;
  teams: readonly string[];
}

/**
 * Jobs-table reads of the CLI's `submit --wait`, `status`, `results` and `cancel`: read a batch
 * item and Query its jobs.
 */
export const SUBMITTER_JOBS_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'];

/**
 * The one jobs-table write of a submitter: `cancel` updates its batch item and ends each pending
 * job in a transaction, whose items are authorized as UpdateItem (TransactWriteItems is not an
 * IAM action of its own), on the attributes in CANCEL_ATTRIBUTES only.
 */
export const SUBMITTER_CANCEL_ACTIONS = ['dynamodb:UpdateItem'];

/**
 * Partition keys a team's submitter may touch: its own batches and their jobs
 * (`BATCH#<team>#<batchId>`) and, for `status --latest`, its own projects' batch index
 * (`BATCHES#<team>/<project>`) and open drops (`DROPS#<team>/<project>/<kind>`); not other
 * teams' items, result-reuse items or drop markers.
 */
export function submitterLeadingKeys(team: string): string[] {
  return [`${teamBatchesPkPrefix(team)}*`, `BATCHES#${team}/*`, `DROPS#${team}/*`];
}

/**
 * Ledger partitions that hold one team's rows only: its cost records (`REC#<team>#<month>`) and
 * its budget (`BUDGET#<team>`), keyed as in shared/aws/ledger-store.ts. Monthly roll-ups keep
 * every team in one partition (`ROLLUP#<month>`, the team in the sort key), which IAM cannot
 * split: a team admin does not get them.
 */
export function teamLedgerLeadingKeys(team: string): string[] {
  return [`REC#${team}#*`, `BUDGET#${team}`];
}

/** Read-only ledger actions; Scan is left out so that every read names its partition. */
const LEDGER_READ = ['dynamodb:GetItem', 'dynamodb:Query'];

/**
 * Allows `actions` on `table` only for requests whose every partition key matches `patterns`.
 * `ForAllValues` holds for a request with no partition key at all (a Scan), so the key must
 * also be present.
 */
function leadingKeysStatement(
  sid: string,
  table: dynamodb.ITable,
  actions: string[],
  patterns: string[],
  more: Record<string, Record<string, string[]>> = {},
): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    actions,
    resources: [table.tableArn],
    conditions: {
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': patterns },
      Null: { 'dynamodb:LeadingKeys': 'false' },
      ...more,
    },
  });
}

/**
 * Managed policies for people and CI outside the pipeline, one set per team, each scoped by the
 * team in every key:
 * - submitter: write its own `intake/<team>/` drops and `batches/<team>/` uploads and manifests,
 *   read its own manifests, `results/<team>/` and `outputs/<team>/`, list those four prefixes,
 *   read its own batches in the jobs table and cancel them (nothing else in their items); never
 *   `pipeline/`, where the pipeline keeps what it obeys;
 * - team admin: read its own team's cost records and budget in the ledger;
 * - chargeback reader (one for all teams): read the whole ledger, and nothing else.
 */
export class Access extends Construct {
  readonly submitterPolicies: Record<string, iam.ManagedPolicy>;
  readonly teamAdminPolicies: Record<string, iam.ManagedPolicy>;
  readonly chargebackReaderPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: AccessProps) {
    super(scope, id);
    const { bucket } = props;
    this.submitterPolicies = {};
    this.teamAdminPolicies = {};
    for (const team of props.teams) {
      const own = (prefix: string) => `${prefix}${team}/`;
      const writable = [own(PREFIXES.intake), own(PREFIXES.batches)];
      const readable = [own(PREFIXES.outputs), own(PREFIXES.results)];
      const policy = new iam.ManagedPolicy(this, `Submitter-${team}`, {
        description: `Submit warmbatch jobs and fetch outputs for team ${team} only`,
        statements: [
          new iam.PolicyStatement({
            sid: 'WriteOwnInputs',
            actions: ['s3:PutObject'],
            resources: writable.map((p) => bucket.arnForObjects(`${p}*`)),
          }),
          new iam.PolicyStatement({
            sid: 'ReadOwnResults',
            actions: ['s3:GetObject'],
            resources: [
              ...readable.map((p) => bucket.arnForObjects(`${p}*`)),
              bucket.arnForObjects(`${own(PREFIXES.batches)}*/manifest.json`),
            ],
          }),
          new iam.PolicyStatement({
            sid: 'ListOwnPrefixes',
            actions: ['s3:ListBucket'],
            resources: [bucket.bucketArn],
            conditions: {
              StringLike: { 's3:prefix': [...writable, ...readable].map((p) => `${p}*`) },
            },
          }),
          leadingKeysStatement(
            'FollowOwnBatches',
            props.jobsTable,
            SUBMITTER_JOBS_ACTIONS,
            submitterLeadingKeys(team),
          ),
          // Cancel: its own batches only, and only the attributes cancel writes, so a team
          // cannot rewrite the model, sensitivity, requests or plan the pipeline obeys.
          leadingKeysStatement(
            'CancelOwnBatches',
            props.jobsTable,
            SUBMITTER_CANCEL_ACTIONS,
            [`${teamBatchesPkPrefix(team)}*`],
            { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...CANCEL_ATTRIBUTES] } },
          ),
        ],
      });
      NagSuppressions.addResourceSuppressions(policy, [
        {
          id: 'AwsSolutions-IAM5',
          reason: `Objects are reachable only under team ${team}'s own prefixes (intake, batches, outputs, results), the narrowest scope S3 keys allow.`,
          appliesTo: [
            {
              regex: `/^Resource::<.*Bucket.*\\.Arn>\\/(intake|batches|outputs|results)\\/${team}\\/\\*(\\/manifest\\.json)?$/g`,
            },
          ],
        },
      ]);
      this.submitterPolicies[team] = policy;

      this.teamAdminPolicies[team] = new iam.ManagedPolicy(this, `TeamAdmin-${team}`, {
        description: `Read team ${team}'s own cost records and budget in the warmbatch ledger`,
        statements: [
          leadingKeysStatement(
            'ReadOwnLedgerRows',
            props.ledgerTable,
            LEDGER_READ,
            teamLedgerLeadingKeys(team),
          ),
        ],
      });
    }

    this.chargebackReaderPolicy = new iam.ManagedPolicy(this, 'ChargebackReader', {
      description:
        'Read the whole warmbatch cost ledger with Query and GetItem; no Scan, no writes',
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadLedger',
          actions: [...LEDGER_READ, 'dynamodb:DescribeTable'],
          resources: [props.ledgerTable.tableArn],
        }),
      ],
    });
  }
}
