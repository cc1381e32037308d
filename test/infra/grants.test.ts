import type { CfnElement, IResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WarmbatchStack } from '../../infra/stack';
import { apiKeysFromEnvironment, configFromEnvironment } from '../../lambdas/deps';
import {
  batchKey,
  CANCEL_ATTRIBUTES,
  jobKey,
  openDropKey,
  projectBatchPk,
  reuseKey,
} from '../../shared/aws/jobs';
import { ConfigurationError } from '../../shared/configuration-error';
import { batchFileKeyFor, manifestKeyFor, outputKeyFor } from '../../shared/inputs';
import { rejectionsKeyFor, requestKeyFor, resultKeys } from '../../shared/pipeline/keys';
import { PRICES_KEY } from '../../shared/pipeline/prices';
import { ENV, type FunctionName } from '../../shared/resources';
import { aConfig, aStack } from './stack-factory';

type Props = Record<string, unknown>;
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, string | string[]>>;
}

let stack: WarmbatchStack;
let template: Template;

beforeAll(() => {
  ({ stack } = aStack());
  template = Template.fromStack(stack);
});

function logicalId(resource: IResource): string {
  return stack.getLogicalId(resource.node.defaultChild as CfnElement);
}

/** A CloudFormation value as text: `Ref` -> `<id>`, `GetAtt` -> `<id>.<attr>`, joins concatenated. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Props;
  if ('Ref' in v) return `<${String(v.Ref)}>`;
  if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(sep);
  }
  return JSON.stringify(value);
}

/** A function of the stack by name; the export is the chargeback construct's. */
const functionOf = (fn: FunctionName) =>
  fn === 'export' ? stack.chargeback.exportFunction : stack.pipeline.functions[fn];

/** Every Allow statement in the policies attached to a function's role. */
function statementsOf(fn: FunctionName): Statement[] {
  const roleRef = { Ref: logicalId(functionOf(fn).role as IResource) };
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .map((p) => (p as { Properties: Props }).Properties)
    .filter((p) => JSON.stringify(p.Roles).includes(JSON.stringify(roleRef)))
    .flatMap((p) => (p.PolicyDocument as { Statement: Statement[] }).Statement)
    .filter((s) => s.Effect === 'Allow');
}

/** IAM's wildcard match: `*` any run of characters, `?` one character. */
function globMatches(pattern: string, text: string): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(text);
}

/** Whether `fn` may perform `action` on the resource whose rendered ARN is `arn`. */
function allows(fn: FunctionName, action: string, arn: string): boolean {
  return statementsOf(fn).some(
    (s) =>
      [s.Action].flat().some((a) => globMatches(a, action)) &&
      [s.Resource].flat().some((r) => globMatches(render(r), arn)),
  );
}

function bucketArn(): string {
  return `<${logicalId(stack.intake.bucket)}.Arn>`;
}

function objectArn(key: string): string {
  return `${bucketArn()}/${key}`;
}

function tableArn(table: 'jobsTable' | 'ledgerTable'): string {
  return `<${logicalId(stack.ledger[table])}.Arn>`;
}

function queueArn(queue: 'intake' | 'work' | 'finalize'): string {
  return `<${logicalId(stack.pipeline.queues[queue].queue)}.Arn>`;
}

/** Prefixes `fn` may list in the bucket, from its ListBucket conditions. */
function listablePrefixes(fn: FunctionName): string[] {
  return statementsOf(fn)
    .filter((s) => [s.Action].flat().includes('s3:ListBucket'))
    .filter((s) => [s.Resource].flat().some((r) => render(r) === bucketArn()))
    .flatMap((s) => [s.Condition?.StringLike?.['s3:prefix'] ?? []].flat());
}

/** A function's environment with deploy-time references replaced by placeholder text. */
function deployedEnvironment(fn: FunctionName): Record<string, string> {
  const props = template.toJSON().Resources[logicalId(functionOf(fn))].Properties;
  const variables = (props.Environment?.Variables ?? {}) as Props;
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [
      name,
      typeof value === 'string' ? value : `deployed:${render(value)}`,
    ]),
  );
}

/** A Secrets Manager stand-in returning a key for every endpoint the settings name. */
function aSecretStore(): { send: () => Promise<{ SecretString: string }> } {
  return { send: async () => ({ SecretString: JSON.stringify({ public: 'placeholder' }) }) };
}

const FUNCTIONS: FunctionName[] = ['planner', 'worker', 'finalize'];
const BATCH = { team: 'alpha', batchId: '01JBATCHID0000000000000000' };
const OUTPUT = outputKeyFor('alpha', 'api', BATCH.batchId, 'tests', 'src/a.ts');

describe('cold-start configuration', () => {
  it.each(FUNCTIONS)('gives the %s every variable its cold start requires', async (fn) => {
    // Act
    const config = await configFromEnvironment(deployedEnvironment(fn));

    // Assess
    expect(config.bucket).toBe(`deployed:<${logicalId(stack.intake.bucket)}>`);
    expect(config.settings.defaultModel).toBe(aConfig().model);
    expect(config.settings.budgets.platform).toBe(
      (aConfig().teams.platform?.monthlyBudgetUsd ?? 0) * 1_000_000_000,
    );
  });

  it('would catch a function whose stack leaves out a required variable', async () => {
    // Prepare
    const { [ENV.ledgerTable]: _dropped, ...env } = deployedEnvironment('worker');

    // Act
    const result = (async () => configFromEnvironment(env))();

    // Assess
    await expect(result).rejects.toThrow(ConfigurationError);
    await expect(result).rejects.toThrow(ENV.ledgerTable);
  });

  it('tells the planner where to re-send deferred batches, and only the planner', async () => {
    // Act
    const configs = Object.fromEntries(
      await Promise.all(
        FUNCTIONS.map(
          async (fn) => [fn, await configFromEnvironment(deployedEnvironment(fn))] as const,
        ),
      ),
    );

    // Assess
    expect(configs.planner?.intakeQueueUrl).toBe(
      `deployed:<${logicalId(stack.pipeline.queues.intake.queue)}>`,
    );
    expect(configs.worker?.intakeQueueUrl).toBeUndefined();
    expect(configs.finalize?.intakeQueueUrl).toBeUndefined();
  });
});

describe('object grants follow the keys the code reads and writes', () => {
  it('lets the planner read drops, manifests and uploads, and store requests and rejections', () => {
    // Assess
    for (const key of [
      'intake/alpha/api/tests/src/a.ts',
      manifestKeyFor(BATCH),
      batchFileKeyFor(BATCH, 'src/a.ts'),
    ]) {
      expect(allows('planner', 's3:GetObject', objectArn(key)), key).toBe(true);
    }
    for (const key of [requestKeyFor(BATCH, 'job-1'), rejectionsKeyFor(BATCH)]) {
      expect(allows('planner', 's3:PutObject', objectArn(key)), key).toBe(true);
    }
    expect(allows('planner', 's3:PutObject', objectArn('intake/alpha/api/tests/x.ts'))).toBe(false);
  });

  it('lets the planner copy a reused output: read the earlier one, write the new one', () => {
    // Prepare
    const earlier = outputKeyFor('alpha', 'api', '01JEARLIER0000000000000000', 'tests', 'src/a.ts');

    // Assess
    expect(allows('planner', 's3:GetObject', objectArn(earlier))).toBe(true);
    expect(allows('planner', 's3:PutObject', objectArn(OUTPUT))).toBe(true);
  });

  it("lets the planner list a project's shared context and nothing wider", () => {
    // Prepare
    const prefixes = listablePrefixes('planner');

    // Assess
    expect(prefixes.some((p) => globMatches(p, 'intake/alpha/api/context/'))).toBe(true);
    expect(prefixes.some((p) => globMatches(p, 'intake/'))).toBe(false);
    expect(prefixes.some((p) => globMatches(p, 'outputs/alpha/'))).toBe(false);
    // The price file only, so a missing one reads as absent rather than AccessDenied.
    expect(listablePrefixes('worker')).toEqual([PRICES_KEY]);
    expect(listablePrefixes('finalize')).toEqual([]);
  });

  it.each(['planner', 'worker'] as const)(
    'lets the %s read the operators price file and nothing else under config/',
    (fn) => {
      // Assess
      expect(allows(fn, 's3:GetObject', objectArn(PRICES_KEY))).toBe(true);
      expect(allows(fn, 's3:GetObject', objectArn('config/other.json'))).toBe(false);
      expect(allows(fn, 's3:PutObject', objectArn(PRICES_KEY))).toBe(false);
      expect(allows('finalize', 's3:GetObject', objectArn(PRICES_KEY))).toBe(false);
    },
  );

  it('lets the worker read stored requests and write outputs only', () => {
    // Assess
    expect(allows('worker', 's3:GetObject', objectArn(requestKeyFor(BATCH, 'job-1')))).toBe(true);
    expect(allows('worker', 's3:PutObject', objectArn(OUTPUT))).toBe(true);
    expect(allows('worker', 's3:GetObject', objectArn('intake/alpha/api/tests/a.ts'))).toBe(false);
    expect(allows('worker', 's3:PutObject', objectArn(resultKeys(BATCH).summary))).toBe(false);
    expect(allows('worker', 's3:PutObject', objectArn(requestKeyFor(BATCH, 'job-1')))).toBe(false);
  });

  it('lets finalize read rejections and outputs and write the three result files', () => {
    // Assess
    expect(allows('finalize', 's3:GetObject', objectArn(rejectionsKeyFor(BATCH)))).toBe(true);
    expect(allows('finalize', 's3:GetObject', objectArn(OUTPUT))).toBe(true);
    for (const key of Object.values(resultKeys(BATCH))) {
      expect(allows('finalize', 's3:PutObject', objectArn(key)), key).toBe(true);
    }
    expect(allows('finalize', 's3:PutObject', objectArn(OUTPUT))).toBe(false);
  });
});

describe('table grants', () => {
  const TRANSACTION_ITEMS = [
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:ConditionCheckItem',
    'dynamodb:GetItem',
    'dynamodb:Query',
  ];

  it.each(['planner', 'worker'] as const)(
    'lets the %s run its transactions on both tables',
    (fn) => {
      // Assess
      for (const table of ['jobsTable', 'ledgerTable'] as const) {
        for (const action of TRANSACTION_ITEMS) {
          expect(allows(fn, action, tableArn(table)), `${action} on ${table}`).toBe(true);
        }
      }
    },
  );

  it('lets finalize read and close a batch, but not touch the ledger', () => {
    // Assess
    for (const action of ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem']) {
      expect(allows('finalize', action, tableArn('jobsTable')), action).toBe(true);
    }
    expect(allows('finalize', 'dynamodb:PutItem', tableArn('ledgerTable'))).toBe(false);
    expect(allows('finalize', 'dynamodb:UpdateItem', tableArn('ledgerTable'))).toBe(false);
  });

  it.each(FUNCTIONS)('never lets the %s scan, delete or batch-write', (fn) => {
    // Assess
    for (const table of ['jobsTable', 'ledgerTable'] as const) {
      for (const action of ['dynamodb:Scan', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']) {
        expect(allows(fn, action, tableArn(table)), `${action} on ${table}`).toBe(false);
      }
    }
  });
});

describe('queue and secret grants', () => {
  it('lets the planner send to the intake, work and finalize queues', () => {
    // Assess
    for (const queue of ['intake', 'work', 'finalize'] as const) {
      expect(allows('planner', 'sqs:SendMessage', queueArn(queue)), queue).toBe(true);
    }
  });

  it('lets the worker send to the finalize queue only, and finalize send nowhere', () => {
    // Assess
    expect(allows('worker', 'sqs:SendMessage', queueArn('finalize'))).toBe(true);
    expect(allows('worker', 'sqs:SendMessage', queueArn('work'))).toBe(false);
    expect(allows('worker', 'sqs:SendMessage', queueArn('intake'))).toBe(false);
    for (const queue of ['intake', 'work', 'finalize'] as const) {
      expect(allows('finalize', 'sqs:SendMessage', queueArn(queue)), queue).toBe(false);
    }
  });

  it('gives the API key secret to the worker alone, which can read its keys from it', async () => {
    // Prepare
    const secret = `<${logicalId(stack.pipeline.apiKeySecret)}>`;

    // Act
    const keys = await apiKeysFromEnvironment(deployedEnvironment('worker'), aSecretStore());

    // Assess
    expect(keys).toEqual({ public: 'placeholder' });
    expect(deployedEnvironment('worker')[ENV.apiKeySecretId]).toBe(`deployed:${secret}`);
    expect(allows('worker', 'secretsmanager:GetSecretValue', secret)).toBe(true);
    expect(allows('worker', 'secretsmanager:GetSecretValue', '<SomeOtherSecret>')).toBe(false);
    for (const fn of ['planner', 'finalize'] as const) {
      expect(deployedEnvironment(fn)[ENV.apiKeySecretId], fn).toBeUndefined();
      expect(allows(fn, 'secretsmanager:GetSecretValue', secret), fn).toBe(false);
    }
  });
});

describe('submitter access to the jobs table', () => {
  function submitterStatements(team: string): Statement[] {
    const policy = stack.access.submitterPolicies[team] as IResource;
    const json = template.toJSON().Resources[logicalId(policy)].Properties;
    return (json.PolicyDocument as { Statement: Statement[] }).Statement;
  }

  function jobsStatements(team: string): Statement[] {
    return submitterStatements(team).filter((s) =>
      [s.Resource].flat().some((r) => render(r) === tableArn('jobsTable')),
    );
  }

  function jobsStatement(team: string): Statement {
    const found = jobsStatements(team).find((s) => s.Sid === 'FollowOwnBatches');
    if (!found) throw new Error(`no jobs-table statement for ${team}`);
    return found;
  }

  it('lets CI follow a batch (read, query) and cancel it (update, on the attributes cancel writes only)', () => {
    // Act
    const statements = jobsStatements('platform');
    const cancel = statements.find((s) => s.Sid === 'CancelOwnBatches');

    // Assess
    expect(statements.flatMap((s) => [s.Action].flat()).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    expect([cancel?.Action].flat()).toEqual(['dynamodb:UpdateItem']);
    expect(cancel?.Condition?.['ForAllValues:StringEquals']?.['dynamodb:Attributes']).toEqual([
      ...CANCEL_ATTRIBUTES,
    ]);
  });

  it("keeps CI to batch and job items, away from other teams' result-reuse items", () => {
    // Prepare
    const leading = [
      jobsStatement('platform').Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'] ??
        [],
    ].flat();
    const may = (pk: string) => leading.some((p) => globMatches(p, pk));

    // Assess
    const own = { team: 'platform', batchId: BATCH.batchId };
    expect(may(batchKey(own).pk)).toBe(true);
    expect(may(jobKey(own, 'job-1').pk)).toBe(true);
    expect(may(batchKey({ team: 'payments', batchId: BATCH.batchId }).pk)).toBe(false);
    expect(may(reuseKey('abc123').pk)).toBe(false);
  });

  it("lets CI find its own projects' newest batch and open drops, not another team's", () => {
    // Prepare
    const leading = [
      jobsStatement('platform').Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'] ??
        [],
    ].flat();
    const may = (pk: string) => leading.some((p) => globMatches(p, pk));

    // Assess
    expect(may(projectBatchPk('platform', 'api'))).toBe(true);
    expect(may(openDropKey('platform', 'api', 'docs').pk)).toBe(true);
    expect(may(projectBatchPk('payments', 'api'))).toBe(false);
    expect(may(openDropKey('payments', 'api', 'docs').pk)).toBe(false);
  });

  it('grants no table access to the ledger or with Scan', () => {
    // Act
    const statements = submitterStatements('platform');

    // Assess
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions).not.toContain('dynamodb:Scan');
    const resources = statements.flatMap((s) => [s.Resource].flat().map(render));
    expect(resources).not.toContain(tableArn('ledgerTable'));
  });
});
