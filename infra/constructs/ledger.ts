import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLES, type TableSpec } from '../../shared/resources';

/**
 * The jobs table (job state, batch counters, result reuse) and the ledger (cost records,
 * roll-ups, budgets): on-demand, encrypted, with point-in-time recovery. The ledger is the
 * chargeback record, so it survives stack deletion and is protected from deletion.
 */
export class Ledger extends Construct {
  readonly jobsTable: dynamodb.Table;
  readonly ledgerTable: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // Jobs hold working state only: a deleted stack takes them along.
    this.jobsTable = table(this, 'JobsTable', TABLES.jobs, RemovalPolicy.DESTROY);
    this.ledgerTable = table(this, 'LedgerTable', TABLES.ledger, RemovalPolicy.RETAIN);
  }
}

function table(
  scope: Construct,
  id: string,
  spec: TableSpec,
  removalPolicy: RemovalPolicy,
): dynamodb.Table {
  return new dynamodb.Table(scope, id, {
    partitionKey: { name: spec.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: spec.sortKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    removalPolicy,
    ...(spec.ttlAttribute ? { timeToLiveAttribute: spec.ttlAttribute } : {}),
    // The ledger's changes drive the line-item export: keys only, it re-reads what it needs.
    ...(spec.stream ? { stream: dynamodb.StreamViewType[spec.stream] } : {}),
  });
}
