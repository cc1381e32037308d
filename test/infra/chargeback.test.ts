/**
 * The chargeback part of the stack: the ledger's change stream drives the export function, the
 * line items become a Glue table with day partitions by projection, and an Athena workgroup
 * holds the saved queries, the same SQL the local engine runs in test/chargeback/sql.test.ts.
 */
import type { CfnElement, IResource } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ATHENA_WORKGROUP, GLUE_DATABASE } from '../../infra/constructs/chargeback';
import type { WarmbatchStack } from '../../infra/stack';
import { lineItemColumns } from '../../shared/chargeback/parquet';
import { LINE_ITEMS_TABLE, savedQueries } from '../../shared/chargeback/queries';
import { ENV, EXPORT_STREAM } from '../../shared/resources';
import { aConfig, aStack } from './stack-factory';

const TAG_KEYS = ['cost-centre', 'environment', 'repository'];

let stack: WarmbatchStack;
let template: Template;

beforeAll(() => {
  ({ stack } = aStack(
    aConfig({
      teams: {
        alpha: {
          monthlyBudgetUsd: 50,
          projects: { shop: { tags: { 'cost-centre': 'cc-42', environment: 'prod' } } },
        },
      },
      chargeback: { tagColumns: TAG_KEYS },
    }),
  ));
  template = Template.fromStack(stack);
});

function logicalId(resource: IResource): string {
  return stack.getLogicalId(resource.node.defaultChild as CfnElement);
}

describe('the export path', () => {
  it('streams the ledger keys only to the export function, cost records alone', () => {
    // Assess
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: Match.arrayWith([{ AttributeName: 'pk', KeyType: 'HASH' }]),
      StreamSpecification: { StreamViewType: 'KEYS_ONLY' },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stack.ledger.ledgerTable), 'StreamArn'] },
      FunctionName: { Ref: logicalId(stack.chargeback.exportFunction) },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: EXPORT_STREAM.batchSize,
      MaximumBatchingWindowInSeconds: EXPORT_STREAM.maxBatchingWindowSeconds,
      FilterCriteria: {
        Filters: [
          { Pattern: JSON.stringify({ dynamodb: { Keys: { pk: { S: [{ prefix: 'REC#' }] } } } }) },
        ],
      },
    });
  });

  it('retries a failed batch, split in halves, then parks it on a dead-letter queue with an alarm', () => {
    // Assess
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(stack.chargeback.exportFunction) },
      MaximumRetryAttempts: EXPORT_STREAM.retryAttempts,
      BisectBatchOnFunctionError: true,
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [logicalId(stack.chargeback.deadLetterQueue), 'Arn'] },
        },
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalId(stack.chargeback.deadLetterQueue), 'QueueName'] },
        },
      ],
    });
  });

  it('tells the export its bucket, ledger and the activated tag keys', () => {
    // Act
    const fn = template.toJSON().Resources[logicalId(stack.chargeback.exportFunction)];
    const variables = fn.Properties.Environment.Variables as Record<string, unknown>;

    // Assess
    expect(variables[ENV.bucket]).toEqual({ Ref: logicalId(stack.intake.bucket) });
    expect(variables[ENV.ledgerTable]).toEqual({ Ref: logicalId(stack.ledger.ledgerTable) });
    const settings = JSON.parse(String(variables[ENV.settings]));
    expect(settings.chargeback).toEqual({ tagColumns: TAG_KEYS });
    expect(settings.projectTags).toEqual({
      alpha: { shop: { 'cost-centre': 'cc-42', environment: 'prod' } },
    });
  });
});

describe('the Glue table', () => {
  it('reads the Parquet line items with one column per field and activated tag, partitioned by day', () => {
    // Assess
    template.hasResourceProperties('AWS::Glue::Database', {
      DatabaseInput: { Name: GLUE_DATABASE },
    });
    template.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: GLUE_DATABASE,
      TableInput: {
        Name: LINE_ITEMS_TABLE,
        PartitionKeys: [{ Name: 'day', Type: 'string', Comment: Match.anyValue() }],
        StorageDescriptor: {
          Columns: lineItemColumns(TAG_KEYS).map(([name, type]) => ({ Name: name, Type: type })),
          SerdeInfo: {
            SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
          },
        },
      },
    });
  });

  it('finds each day by partition projection, so no crawler or repair is needed', () => {
    // Act
    const table = Object.values(template.findResources('AWS::Glue::Table'))[0] as {
      Properties: { TableInput: { Parameters: Record<string, unknown> } };
    };
    const parameters = table.Properties.TableInput.Parameters;

    // Assess
    expect(parameters['projection.enabled']).toBe('true');
    expect(parameters['projection.day.type']).toBe('date');
    expect(parameters['projection.day.format']).toBe('yyyy-MM-dd');
    expect(JSON.stringify(parameters['storage.location.template'])).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena's template placeholder, literally
      'line-items/day=${day}/',
    );
    expect(template.findResources('AWS::Glue::Crawler')).toEqual({});
  });
});

describe('the Athena workgroup', () => {
  it('encrypts results, enforces its settings and cuts off runaway scans', () => {
    // Assess
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: ATHENA_WORKGROUP,
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: Match.anyValue(),
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
          OutputLocation: Match.anyValue(),
        },
      },
    });
  });

  it('saves each chargeback query, the SQL the local engine proves', () => {
    // Prepare
    const expected = savedQueries(TAG_KEYS);

    // Assess
    expect(expected.map((q) => q.id)).toEqual([
      'spend-by-team-per-day',
      'spend-by-tag',
      'savings',
      'spend-by-model-endpoint',
      'cache-hit-ratio',
      'focus-1.2',
      'top-projects',
    ]);
    for (const q of expected)
      template.hasResourceProperties('AWS::Athena::NamedQuery', {
        Name: `warmbatch ${q.id}`,
        Database: GLUE_DATABASE,
        WorkGroup: ATHENA_WORKGROUP,
        QueryString: q.sql,
      });
    expect(Object.keys(template.findResources('AWS::Athena::NamedQuery'))).toHaveLength(
      expected.length,
    );
  });
});
