import type { CfnElement, IResource } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION, type WarmbatchConfig } from '../../infra/config';
import type { WarmbatchStack } from '../../infra/stack';
import {
  ENV,
  EVENT_SOURCES,
  METRICS,
  QUEUES,
  type QueueName,
  SERVICE_NAMES,
  STACK_OUTPUTS,
  TABLES,
} from '../../shared/resources';
import { aConfig, aStack } from './stack-factory';

type Props = Record<string, unknown>;
interface CfnResourceJson {
  Type: string;
  Properties: Props;
  DeletionPolicy?: string;
}

let config: WarmbatchConfig;
let stack: WarmbatchStack;
let template: Template;

beforeAll(() => {
  config = aConfig({
    teams: { alpha: { monthlyBudgetUsd: 50 }, beta: { monthlyBudgetUsd: 70 } },
    endpoints: { public: 'https://api.deepseek.com', restricted: 'https://llm.corp.example' },
  });
  ({ stack } = aStack(config));
  template = Template.fromStack(stack);
});

function logicalId(resource: IResource): string {
  return stack.getLogicalId(resource.node.defaultChild as CfnElement);
}

function resource(res: IResource): CfnResourceJson {
  const found = template.toJSON().Resources[logicalId(res)] as CfnResourceJson | undefined;
  if (!found) throw new Error(`no resource ${res.node.path}`);
  return found;
}

function functionEnvironments(): Array<Record<string, unknown>> {
  return Object.values(template.findResources('AWS::Lambda::Function'))
    .map((fn) => (fn as CfnResourceJson).Properties.Environment as { Variables?: Props })
    .map((env) => env?.Variables ?? {});
}

describe('queues and event sources', () => {
  it('reports partial batch failures from every event source', () => {
    // Assess
    for (const source of EVENT_SOURCES) {
      const queue = stack.pipeline.queues[source.queue].queue;
      const fn = stack.pipeline.functions[source.function];
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [logicalId(queue), 'Arn'] },
        FunctionName: { Ref: logicalId(fn) },
        BatchSize: source.batchSize,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
    // Queue mappings only: the export's stream mapping has no partial batch response (it
    // rewrites whole team-days, so a retried batch is replayed whole; test/infra/chargeback).
    const mappings = Object.values(
      template.findResources('AWS::Lambda::EventSourceMapping'),
    ).filter((m) => (m as CfnResourceJson).Properties.StartingPosition === undefined);
    expect(mappings).toHaveLength(EVENT_SOURCES.length);
    for (const mapping of mappings) {
      expect((mapping as CfnResourceJson).Properties.FunctionResponseTypes).toEqual([
        'ReportBatchItemFailures',
      ]);
    }
  });

  it('collects intake events for the configured batching window', () => {
    // Assess
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: {
        'Fn::GetAtt': [logicalId(stack.pipeline.queues.intake.queue), 'Arn'],
      },
      MaximumBatchingWindowInSeconds: config.intakeBatchingWindowSeconds,
    });
  });

  it('fans planning out through the plan queue: one message an invocation, sent by the planner only', () => {
    // Prepare
    const plan = stack.pipeline.queues.plan.queue;
    const planner = stack.pipeline.functions.planner;

    // Act
    const senders = Object.values(template.findResources('AWS::IAM::Policy'))
      .map((p) => (p as CfnResourceJson).Properties)
      .filter((p) => {
        const doc = JSON.stringify(p.PolicyDocument);
        return doc.includes('sqs:SendMessage') && doc.includes(`"${logicalId(plan)}"`);
      });

    // Assess
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(plan), 'Arn'] },
      FunctionName: { Ref: logicalId(planner) },
      BatchSize: 1,
    });
    expect(senders.flatMap((p) => p.Roles as unknown[])).toEqual([
      { Ref: logicalId(planner.role as IResource) },
    ]);
    expect(
      (resource(planner).Properties.Environment as { Variables: Props }).Variables[
        ENV.planQueueUrl
      ],
    ).toEqual({ Ref: logicalId(plan) });
  });

  it('moves a message to its dead-letter queue after maxReceiveCount receives', () => {
    // Assess
    for (const name of Object.keys(QUEUES) as QueueName[]) {
      const { queue, deadLetterQueue } = stack.pipeline.queues[name];
      expect(resource(queue).Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(deadLetterQueue), 'Arn'] },
        maxReceiveCount: QUEUES[name].maxReceiveCount,
      });
    }
  });

  it('keeps a received message invisible for at least six times its consumer timeout', () => {
    // Assess
    for (const source of EVENT_SOURCES) {
      const queue = resource(stack.pipeline.queues[source.queue].queue);
      const fn = resource(stack.pipeline.functions[source.function]);
      expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(
        6 * (fn.Properties.Timeout as number),
      );
    }
  });

  it('makes the work queue FIFO with deduplication ids supplied by the sender', () => {
    // Act
    const work = resource(stack.pipeline.queues.work.queue);
    const dlq = resource(stack.pipeline.queues.work.deadLetterQueue);

    // Assess
    expect(work.Properties).toMatchObject({ FifoQueue: true, ContentBasedDeduplication: false });
    expect(dlq.Properties.FifoQueue).toBe(true);
  });

  it('encrypts every queue and refuses requests without TLS', () => {
    // Assess
    const queues = Object.entries(template.findResources('AWS::SQS::Queue'));
    for (const [id, queue] of queues) {
      expect((queue as CfnResourceJson).Properties.SqsManagedSseEnabled).toBe(true);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: Match.arrayWith([{ Ref: id }]),
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });
});

describe('bucket', () => {
  it('blocks public access and serves only TLS requests', () => {
    // Prepare
    const bucketId = logicalId(stack.intake.bucket);

    // Assess
    expect(resource(stack.intake.bucket).Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('encrypts and versions objects and logs access to a separate bucket', () => {
    // Act
    const props = resource(stack.intake.bucket).Properties;

    // Assess
    expect(props.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ],
    });
    expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(props.LoggingConfiguration).toMatchObject({
      DestinationBucketName: { Ref: logicalId(stack.intake.logBucket) },
    });
  });

  it('expires dropped intake files and old object versions', () => {
    // Act
    const rules = (
      resource(stack.intake.bucket).Properties.LifecycleConfiguration as { Rules: Props[] }
    ).Rules;

    // Assess
    expect(rules).toContainEqual(
      expect.objectContaining({ Prefix: 'intake/', ExpirationInDays: 30, Status: 'Enabled' }),
    );
    expect(rules).toContainEqual(
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } }),
    );
  });

  it('expires stored prompts, outputs and results after the configured days, defaults stated', () => {
    // Prepare
    const rulesOf = (s: WarmbatchStack) =>
      (
        Template.fromStack(s).toJSON().Resources[
          s.getLogicalId(s.intake.bucket.node.defaultChild as CfnElement)
        ].Properties.LifecycleConfiguration as { Rules: Props[] }
      ).Rules;
    const expiry = (rules: Props[], prefix: string) =>
      rules.find((r) => r.Prefix === prefix && r.Status === 'Enabled')?.ExpirationInDays;

    // Act
    const defaults = rulesOf(stack);
    const custom = rulesOf(
      aStack({ ...config, retention: { intakeDays: 3, batchesDays: 7, outputsDays: 400 } }).stack,
    );

    // Assess
    for (const [prefix, days] of [
      ['intake/', DEFAULT_RETENTION.intakeDays],
      ['batches/', DEFAULT_RETENTION.batchesDays],
      ['pipeline/', DEFAULT_RETENTION.batchesDays],
      ['outputs/', DEFAULT_RETENTION.outputsDays],
      ['results/', DEFAULT_RETENTION.outputsDays],
    ] as const)
      expect(expiry(defaults, prefix), prefix).toBe(days);
    expect(
      ['intake/', 'batches/', 'pipeline/', 'outputs/', 'results/'].map((p) => expiry(custom, p)),
    ).toEqual([3, 7, 7, 400, 400]);
    // The ledger's line items are kept.
    expect(defaults.filter((r) => String(r.Prefix ?? '').startsWith('line-items'))).toEqual([]);
  });

  it('notifies the intake queue of intake files, batch manifests and verdicts only', () => {
    // Prepare
    const queueArn = { 'Fn::GetAtt': [logicalId(stack.pipeline.queues.intake.queue), 'Arn'] };
    const filter = (rules: Props[]) => ({ Key: { FilterRules: rules } });

    // Assess
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            QueueArn: queueArn,
            Filter: filter([{ Name: 'prefix', Value: 'intake/' }]),
          },
          {
            Events: ['s3:ObjectCreated:*'],
            QueueArn: queueArn,
            Filter: filter([
              { Name: 'suffix', Value: 'manifest.json' },
              { Name: 'prefix', Value: 'batches/' },
            ]),
          },
          {
            Events: ['s3:ObjectCreated:*'],
            QueueArn: queueArn,
            Filter: filter([
              { Name: 'suffix', Value: 'verdicts.json' },
              { Name: 'prefix', Value: 'batches/' },
            ]),
          },
        ],
      },
    });
  });
});

describe('tables', () => {
  it('bills on demand, encrypts and keeps point-in-time recovery on both tables', () => {
    // Assess
    for (const table of [stack.ledger.jobsTable, stack.ledger.ledgerTable]) {
      expect(resource(table).Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
    }
  });

  it('keeps the ledger when the stack is deleted', () => {
    // Act
    const ledger = resource(stack.ledger.ledgerTable);

    // Assess
    expect(ledger.DeletionPolicy).toBe('Retain');
    expect(ledger.Properties.DeletionProtectionEnabled).toBe(true);
  });

  it('expires jobs-table items by the TTL attribute in resources.ts', () => {
    // Assess
    expect(resource(stack.ledger.jobsTable).Properties.TimeToLiveSpecification).toEqual({
      AttributeName: TABLES.jobs.ttlAttribute,
      Enabled: true,
    });
  });
});

describe('functions', () => {
  it('run on ARM64 with Node 22', () => {
    // Assess
    for (const fn of Object.values(stack.pipeline.functions)) {
      expect(resource(fn).Properties).toMatchObject({
        Architectures: ['arm64'],
        Runtime: 'nodejs22.x',
      });
    }
  });

  it('caps the worker at the configured concurrency, on the function and its event source', () => {
    // Prepare
    const worker = stack.pipeline.functions.worker;

    // Assess
    expect(resource(worker).Properties.ReservedConcurrentExecutions).toBe(
      config.workerReservedConcurrency,
    );
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(worker) },
      ScalingConfig: { MaximumConcurrency: config.workerReservedConcurrency },
    });
  });

  it('reads the API keys from Secrets Manager at runtime instead of the environment', () => {
    // Prepare
    const secretId = logicalId(stack.pipeline.apiKeySecret);
    const worker = resource(stack.pipeline.functions.worker);
    const workerEnv = (worker.Properties.Environment as { Variables: Props }).Variables;

    // Assess
    expect(workerEnv[ENV.apiKeySecretId]).toEqual({ Ref: secretId });
    for (const env of functionEnvironments()) {
      for (const [name, value] of Object.entries(env)) {
        if (name === ENV.apiKeySecretId) continue;
        expect(name).not.toMatch(/KEY|TOKEN|PASSWORD|SECRET/i);
        expect(JSON.stringify(value)).not.toMatch(/sk-[A-Za-z0-9]{8,}/);
      }
    }
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(stack.pipeline.functions.worker.role as IResource) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['secretsmanager:GetSecretValue']),
            Resource: { Ref: secretId },
          }),
        ]),
      },
    });
  });

  it('gives the secret to the worker only, the one function that calls the provider', () => {
    // Act
    const grantsSecret = Object.values(template.findResources('AWS::IAM::Policy'))
      .map((p) => (p as CfnResourceJson).Properties)
      .filter((p) => JSON.stringify(p.PolicyDocument).includes('secretsmanager:'));

    // Assess
    expect(grantsSecret.flatMap((p) => p.Roles as unknown[])).toEqual([
      { Ref: logicalId(stack.pipeline.functions.worker.role as IResource) },
    ]);
  });

  it('passes the settings with budgets in nano-USD and no endpoint for unset sensitivities', () => {
    // Prepare
    const env = (
      resource(stack.pipeline.functions.planner).Properties.Environment as {
        Variables: Props;
      }
    ).Variables;

    // Act
    const settings = JSON.parse(env[ENV.settings] as string);

    // Assess
    expect(settings.budgets.alpha).toBe(50_000_000_000);
    expect(settings.endpoints.restricted.baseURL).toBe('https://llm.corp.example');
    expect(settings.endpoints.internal).toBeUndefined();
  });
});

describe('access policies', () => {
  /** Object key patterns a policy reaches: its object ARNs' keys and its ListBucket prefixes. */
  function keyPatterns(team: string): string[] {
    const policy = resource(stack.access.submitterPolicies[team] as IResource);
    const statements = (policy.Properties.PolicyDocument as { Statement: Props[] }).Statement;
    const objectKeys = statements
      .flatMap((s) => [s.Resource].flat())
      .map((r) => JSON.stringify(r).match(/"\/([^"]+)"\]\]\}$/)?.[1])
      .filter((key): key is string => key !== undefined);
    const listPrefixes = statements.flatMap((s) =>
      [(s.Condition as { StringLike?: Props } | undefined)?.StringLike?.['s3:prefix'] ?? []].flat(),
    );
    return [...objectKeys, ...(listPrefixes as string[])];
  }

  it("limits a CI submitter to its own team's prefixes", () => {
    // Act
    const patterns = keyPatterns('alpha');

    // Assess
    expect(patterns.sort()).toEqual(
      [
        'intake/alpha/*',
        'batches/alpha/*',
        'batches/alpha/*/manifest.json',
        'outputs/alpha/*',
        'results/alpha/*',
        // ListBucket prefixes
        'intake/alpha/*',
        'batches/alpha/*',
        'outputs/alpha/*',
        'results/alpha/*',
      ].sort(),
    );
    expect(keyPatterns('beta').some((p) => p.includes('alpha'))).toBe(false);
  });

  it('lets chargeback readers Query the ledger but never Scan it', () => {
    // Act
    const policy = resource(stack.access.chargebackReaderPolicy);
    const statements = (policy.Properties.PolicyDocument as { Statement: Props[] }).Statement;
    const actions = statements.flatMap((s) => [s.Action].flat());

    // Assess
    expect(actions).toContain('dynamodb:Query');
    expect(actions.some((a) => /Scan|\*/.test(String(a)))).toBe(false);
    const onTables = statements.filter((s) =>
      [s.Action].flat().some((a) => String(a).startsWith('dynamodb:')),
    );
    expect(onTables.flatMap((s) => [s.Resource].flat())).toEqual([
      { 'Fn::GetAtt': [logicalId(stack.ledger.ledgerTable), 'Arn'] },
    ]);
  });
});

describe('observability', () => {
  it('alarms as soon as any dead-letter queue holds a message', () => {
    // Assess
    for (const dlq of Object.values(stack.pipeline.deadLetterQueues())) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(dlq), 'QueueName'] } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  });

  it('alarms when a team reaches 80% of its monthly budget', () => {
    // Assess
    for (const team of Object.keys(config.teams)) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: METRICS.namespace,
        MetricName: METRICS.budgetUsedPercent,
        Dimensions: [{ Name: 'team', Value: team }],
        Threshold: 80,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });

  it('alarms as soon as a billed response could not be priced', () => {
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS.namespace,
      MetricName: METRICS.unpricedResponses,
      Dimensions: [{ Name: 'service', Value: SERVICE_NAMES.worker }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('alarms on errors of every function', () => {
    // Assess
    for (const fn of Object.values(stack.pipeline.functions)) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(fn) } }],
      });
    }
  });

  it('graphs jobs, cache hits, cost and savings from the metrics the worker publishes', () => {
    // Act
    const body = JSON.stringify(
      Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0],
    );

    // Assess
    for (const name of [
      METRICS.jobsSucceeded,
      METRICS.jobsFailed,
      METRICS.cacheHitTokens,
      METRICS.cacheMissTokens,
      METRICS.costNanoUsd,
      METRICS.counterfactualNanoUsd,
      METRICS.warmupCostNanoUsd,
    ]) {
      expect(body).toContain(`MetricName=\\\\\\"${name}\\\\\\"`);
    }
  });
});

describe('outputs', () => {
  it('exports every value the CLI reads', () => {
    // Act
    const outputs = template.toJSON().Outputs as Record<string, unknown>;

    // Assess
    for (const key of Object.values(STACK_OUTPUTS)) expect(outputs).toHaveProperty(key);
  });
});
