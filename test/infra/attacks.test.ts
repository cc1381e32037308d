/**
 * The attacks of one team on another, tried against the synthesized template's IAM policies
 * with the evaluator in test/support/iam.ts: team alpha's CI submitter holds alpha's policy and
 * tries to list, read, write and cancel beta's batches, results and outputs. Each attack is
 * paired with the same request on alpha's own objects, which must pass, so a policy that
 * allows nothing cannot pass these tests.
 */
import type { CfnElement, IResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WarmbatchStack } from '../../infra/stack';
import {
  batchKey,
  closedDropKey,
  jobKey,
  openDropKey,
  projectBatchPk,
} from '../../shared/aws/jobs';
import { qualityMarkerKey } from '../../shared/aws/ledger-items';
import { budgetKey, recordKey } from '../../shared/aws/ledger-store';
import {
  batchContextKeyFor,
  batchFailureKeyFor,
  batchFileKeyFor,
  manifestKeyFor,
  outputKeyFor,
  verdictsKeyFor,
} from '../../shared/inputs';
import { requestKeyFor, resultKeys } from '../../shared/pipeline/keys';
import {
  ACCOUNT,
  evaluate,
  managedPolicyStatements,
  physicalName,
  type Request,
  resolveIntrinsics,
  roleStatements,
  type Statement,
  type TemplateJson,
} from '../support/iam';
import { aConfig, aStack } from './stack-factory';

let stack: WarmbatchStack;
let template: TemplateJson;

beforeAll(() => {
  ({ stack } = aStack(
    aConfig({
      teams: {
        alpha: { monthlyBudgetUsd: 50 },
        beta: { monthlyBudgetUsd: 50 },
        pay: { monthlyBudgetUsd: 10 },
        payments: { monthlyBudgetUsd: 10 },
      },
    }),
  ));
  template = Template.fromStack(stack).toJSON() as TemplateJson;
});

const ID = '20261130t120000-0a1b2c3d';

function logicalId(resource: IResource): string {
  return stack.getLogicalId(resource.node.defaultChild as CfnElement);
}

const bucket = () => physicalName(logicalId(stack.intake.bucket));
const objectArn = (key: string) => `arn:aws:s3:::${bucket()}/${key}`;
const tableArn = (table: 'jobsTable' | 'ledgerTable') =>
  `arn:aws:dynamodb:${ACCOUNT.region}:${ACCOUNT.accountId}:table/${physicalName(logicalId(stack.ledger[table]))}`;

/** Deny statements of the bucket's own policy: they apply to every caller. */
function bucketPolicyStatements(): Statement[] {
  const ref = JSON.stringify({ Ref: logicalId(stack.intake.bucket) });
  return Object.values(template.Resources)
    .filter(
      (r) => r.Type === 'AWS::S3::BucketPolicy' && JSON.stringify(r.Properties?.Bucket) === ref,
    )
    .flatMap(
      (r) =>
        (resolveIntrinsics(r.Properties?.PolicyDocument, template) as { Statement: Statement[] })
          .Statement,
    );
}

function policyOf(policy: IResource | undefined): Statement[] {
  if (!policy) throw new Error('no such policy in the stack');
  return [...managedPolicyStatements(template, logicalId(policy)), ...bucketPolicyStatements()];
}

const submitter = (team: string) => policyOf(stack.access.submitterPolicies[team]);

const s3 = (action: string, key: string): Request => ({
  action: `s3:${action}`,
  resource: objectArn(key),
  context: { 'aws:SecureTransport': 'true' },
});
const list = (prefix: string | undefined): Request => ({
  action: 's3:ListBucket',
  resource: `arn:aws:s3:::${bucket()}`,
  context: {
    'aws:SecureTransport': 'true',
    ...(prefix === undefined ? {} : { 's3:prefix': prefix }),
  },
});
const jobs = (action: string, ...leadingKeys: string[]): Request => ({
  action: `dynamodb:${action}`,
  resource: tableArn('jobsTable'),
  context: leadingKeys.length ? { 'dynamodb:LeadingKeys': leadingKeys } : {},
});
const ledger = (action: string, ...leadingKeys: string[]): Request => ({
  action: `dynamodb:${action}`,
  resource: tableArn('ledgerTable'),
  context: leadingKeys.length ? { 'dynamodb:LeadingKeys': leadingKeys } : {},
});

/** The keys of one team's batch, in the layout the policies are written for. */
function keysOf(team: string) {
  return {
    manifest: `batches/${team}/${ID}/manifest.json`,
    upload: `batches/${team}/${ID}/files/src/a.ts`,
    context: `batches/${team}/${ID}/context/STYLE.md`,
    request: `batches/${team}/${ID}/requests/0123456789abcdef.json`,
    /** Validation's verdicts and a repair's failure output, uploaded by the CLI. */
    verdicts: `batches/${team}/${ID}/verdicts.json`,
    failure: `batches/${team}/${ID}/failures/src/a.ts`,
    results: `results/${team}/${ID}/results.jsonl`,
    errors: `results/${team}/${ID}/errors.jsonl`,
    summary: `results/${team}/${ID}/summary.json`,
    output: `outputs/${team}/shop/${ID}/src/a.ts.md`,
    drop: `intake/${team}/shop/docs/src/a.ts`,
    batchPk: `BATCH#${team}#${ID}`,
    /** `status --latest`: the project's batch index and its open drops. */
    batchIndexPk: `BATCHES#${team}/shop`,
    openDropPk: `DROPS#${team}/shop/docs`,
  };
}

/** Every kind of object a team's batch has. */
const OBJECTS = [
  'manifest',
  'upload',
  'context',
  'request',
  'verdicts',
  'failure',
  'results',
  'errors',
  'summary',
  'output',
  'drop',
] as const;

describe('the keys attacked here', () => {
  it('are the keys the code builds', () => {
    // Prepare
    const ref = { team: 'beta', batchId: ID };
    const beta = keysOf('beta');

    // Assess
    expect(manifestKeyFor(ref)).toBe(beta.manifest);
    expect(batchFileKeyFor(ref, 'src/a.ts')).toBe(beta.upload);
    expect(batchContextKeyFor(ref, 'STYLE.md')).toBe(beta.context);
    expect(requestKeyFor(ref, '0123456789abcdef')).toBe(beta.request);
    expect(verdictsKeyFor(ref)).toBe(beta.verdicts);
    expect(batchFailureKeyFor(ref, 'src/a.ts')).toBe(beta.failure);
    expect(qualityMarkerKey(ref).pk).toBe(`QUALITY#beta#${ID}`);
    expect(resultKeys(ref)).toEqual({
      results: beta.results,
      errors: beta.errors,
      summary: beta.summary,
    });
    expect(outputKeyFor('beta', 'shop', ID, 'docs', 'src/a.ts')).toBe(beta.output);
    expect(batchKey(ref).pk).toBe(beta.batchPk);
    expect(jobKey(ref, 'job-1').pk).toBe(beta.batchPk);
    expect(projectBatchPk('beta', 'shop')).toBe(beta.batchIndexPk);
    expect(openDropKey('beta', 'shop', 'docs').pk).toBe(beta.openDropPk);
    expect(recordKey({ team: 'beta', sentAt: '2026-11-30T12:00:00Z', responseId: 'r' }).pk).toBe(
      'REC#beta#2026-11',
    );
    expect(budgetKey('beta', '2026-11').pk).toBe('BUDGET#beta');
  });
});

describe("team alpha's CI submitter against team beta", () => {
  const alpha = keysOf('alpha');
  const beta = keysOf('beta');

  it.each([
    ['batches/beta/'],
    ['results/beta/'],
    ['outputs/beta/'],
    ['intake/beta/'],
    ['results/'],
    ['batches/'],
    [''],
  ])("cannot list %j, where another team's batch ids are", (prefix) => {
    // Assess
    expect(evaluate(submitter('alpha'), list(prefix))).not.toBe('allow');
  });

  it('cannot list the bucket without a prefix', () => {
    // Assess
    expect(evaluate(submitter('alpha'), list(undefined))).not.toBe('allow');
  });

  it('can list its own batches, results and outputs', () => {
    // Assess
    for (const prefix of [
      'batches/alpha/',
      'results/alpha/',
      'outputs/alpha/',
      `results/alpha/${ID}/`,
    ])
      expect(evaluate(submitter('alpha'), list(prefix)), prefix).toBe('allow');
  });

  it.each(OBJECTS)("cannot read beta's %s", (what) => {
    // Assess
    expect(evaluate(submitter('alpha'), s3('GetObject', beta[what]))).not.toBe('allow');
  });

  it('can read its own manifests, results and outputs', () => {
    // Assess
    for (const key of [alpha.manifest, alpha.results, alpha.errors, alpha.summary, alpha.output])
      expect(evaluate(submitter('alpha'), s3('GetObject', key)), key).toBe('allow');
  });

  it.each(OBJECTS)("cannot write beta's %s (a manifest there would charge beta)", (what) => {
    // Assess
    expect(evaluate(submitter('alpha'), s3('PutObject', beta[what]))).not.toBe('allow');
  });

  it('can submit under its own team: uploads, context, manifest, drops, verdicts and repairs', () => {
    // Assess
    for (const key of [
      alpha.upload,
      alpha.context,
      alpha.manifest,
      alpha.drop,
      alpha.verdicts,
      alpha.failure,
    ])
      expect(evaluate(submitter('alpha'), s3('PutObject', key)), key).toBe('allow');
  });

  it('cannot write results or outputs, even its own: only the pipeline does', () => {
    // Assess
    for (const key of [alpha.results, alpha.summary, alpha.output])
      expect(evaluate(submitter('alpha'), s3('PutObject', key)), key).not.toBe('allow');
  });

  it.each(['GetItem', 'Query', 'UpdateItem'])(
    "cannot %s beta's batch in the jobs table (status, cancel)",
    (action) => {
      // Assess
      expect(evaluate(submitter('alpha'), jobs(action, beta.batchPk))).not.toBe('allow');
      expect(evaluate(submitter('alpha'), jobs(action, alpha.batchPk, beta.batchPk))).not.toBe(
        'allow',
      );
    },
  );

  it.each(['GetItem', 'Query', 'UpdateItem'])('can %s its own batch', (action) => {
    // Assess
    expect(evaluate(submitter('alpha'), jobs(action, alpha.batchPk))).toBe('allow');
  });

  it.each(['GetItem', 'Query', 'UpdateItem'])(
    "cannot %s beta's batch index or open drops (status --latest)",
    (action) => {
      // Assess
      for (const pk of [beta.batchIndexPk, beta.openDropPk])
        expect(evaluate(submitter('alpha'), jobs(action, pk)), pk).not.toBe('allow');
    },
  );

  it.each(['GetItem', 'Query'])(
    "can %s its own projects' batch index and open drops (status --latest)",
    (action) => {
      // Assess
      for (const pk of [alpha.batchIndexPk, alpha.openDropPk])
        expect(evaluate(submitter('alpha'), jobs(action, pk)), pk).toBe('allow');
    },
  );

  it('cannot reach the jobs table without a key: no Scan, no keyless call', () => {
    // Assess
    for (const action of ['Scan', 'GetItem', 'Query', 'UpdateItem', 'DeleteItem'])
      expect(evaluate(submitter('alpha'), jobs(action)), action).not.toBe('allow');
  });

  it("cannot touch result-reuse items, drop markers or drops' file lists, which other teams share", () => {
    // Assess
    for (const pk of ['REUSE#abc', `DROP#${beta.drop}`, closedDropKey('drop-0a1b').pk])
      expect(evaluate(submitter('alpha'), jobs('GetItem', pk)), pk).not.toBe('allow');
  });

  it('cannot read or write the ledger', () => {
    // Assess
    for (const action of ['Query', 'GetItem', 'UpdateItem', 'Scan'])
      expect(evaluate(submitter('alpha'), ledger(action, 'REC#alpha#2026-11')), action).not.toBe(
        'allow',
      );
  });

  it('cannot read the API key secret', () => {
    // Prepare
    const secret = resolveIntrinsics({ Ref: logicalId(stack.pipeline.apiKeySecret) }, template);

    // Assess
    expect(
      evaluate(submitter('alpha'), {
        action: 'secretsmanager:GetSecretValue',
        resource: secret as string,
      }),
    ).not.toBe('allow');
  });
});

describe("a team whose name begins another team's name", () => {
  const payments = keysOf('payments');

  it("cannot reach that team's objects or batches (pay vs payments)", () => {
    // Assess
    const pay = submitter('pay');
    expect(evaluate(pay, list('results/payments/'))).not.toBe('allow');
    expect(evaluate(pay, s3('GetObject', payments.results))).not.toBe('allow');
    expect(evaluate(pay, s3('GetObject', payments.output))).not.toBe('allow');
    expect(evaluate(pay, s3('PutObject', payments.manifest))).not.toBe('allow');
    expect(evaluate(pay, s3('PutObject', payments.drop))).not.toBe('allow');
    expect(evaluate(pay, jobs('UpdateItem', payments.batchPk))).not.toBe('allow');
    expect(evaluate(pay, jobs('GetItem', payments.batchIndexPk))).not.toBe('allow');
    expect(evaluate(pay, jobs('GetItem', payments.openDropPk))).not.toBe('allow');
  });
});

describe('ledger readers', () => {
  const month = '2026-11';

  it("lets the chargeback reader read every team's ledger rows and nothing else", () => {
    // Prepare
    const reader = policyOf(stack.access.chargebackReaderPolicy);

    // Assess
    for (const pk of [`ROLLUP#${month}`, `REC#alpha#${month}`, `REC#beta#${month}`])
      expect(evaluate(reader, ledger('Query', pk)), pk).toBe('allow');
    expect(evaluate(reader, ledger('GetItem', 'BUDGET#beta'))).toBe('allow');
    for (const action of ['PutItem', 'UpdateItem', 'DeleteItem', 'Scan'])
      expect(evaluate(reader, ledger(action, `REC#alpha#${month}`)), action).not.toBe('allow');
    expect(evaluate(reader, jobs('GetItem', keysOf('alpha').batchPk))).not.toBe('allow');
    expect(evaluate(reader, s3('GetObject', keysOf('alpha').results))).not.toBe('allow');
    expect(evaluate(reader, list('results/'))).not.toBe('allow');
  });

  it("lets a team admin read its own team's cost records and budget, not another's", () => {
    // Prepare
    const admin = policyOf(stack.access.teamAdminPolicies?.alpha);

    // Assess
    expect(evaluate(admin, ledger('Query', `REC#alpha#${month}`))).toBe('allow');
    expect(evaluate(admin, ledger('GetItem', 'BUDGET#alpha'))).toBe('allow');
    expect(evaluate(admin, ledger('Query', `REC#beta#${month}`))).not.toBe('allow');
    expect(evaluate(admin, ledger('GetItem', 'BUDGET#beta'))).not.toBe('allow');
    // Roll-ups hold every team in one partition per month: IAM cannot split it.
    expect(evaluate(admin, ledger('Query', `ROLLUP#${month}`))).not.toBe('allow');
    expect(evaluate(admin, ledger('Scan'))).not.toBe('allow');
    expect(evaluate(admin, ledger('UpdateItem', 'BUDGET#alpha'))).not.toBe('allow');
  });

  it("gives no team's submitter or admin the quality markers that verdicts write", () => {
    // Assess: only the pipeline writes them; a team's verdicts are counted from its own key.
    for (const policy of [submitter('alpha'), policyOf(stack.access.teamAdminPolicies?.alpha)])
      for (const action of ['GetItem', 'PutItem', 'UpdateItem'])
        for (const pk of [`QUALITY#alpha#${ID}`, `QUALITY#beta#${ID}`])
          expect(evaluate(policy, ledger(action, pk)), `${action} ${pk}`).not.toBe('allow');
  });
});

describe('the API key secret', () => {
  it('is readable by the worker only', () => {
    // Prepare
    const secret = resolveIntrinsics({ Ref: logicalId(stack.pipeline.apiKeySecret) }, template);
    const read = { action: 'secretsmanager:GetSecretValue', resource: secret as string };
    const role = (fn: 'planner' | 'worker' | 'finalize') =>
      roleStatements(template, logicalId(stack.pipeline.functions[fn].role as IResource));

    // Assess
    expect(evaluate(role('worker'), read)).toBe('allow');
    expect(evaluate(role('planner'), read)).not.toBe('allow');
    expect(evaluate(role('finalize'), read)).not.toBe('allow');
  });
});

describe("the line items (every team's spend and tags)", () => {
  const item = 'line-items/day=2026-11-30/beta.parquet';
  const ownItem = 'line-items/day=2026-11-30/alpha.parquet';
  const workgroup = `arn:aws:athena:${ACCOUNT.region}:${ACCOUNT.accountId}:workgroup/warmbatch-chargeback`;

  it("are out of a team's reach, its own team-day included: they are the FinOps view", () => {
    // Prepare
    const teamPolicies = [submitter('alpha'), policyOf(stack.access.teamAdminPolicies?.alpha)];

    // Assess
    for (const policy of teamPolicies) {
      expect(evaluate(policy, s3('GetObject', item))).not.toBe('allow');
      expect(evaluate(policy, s3('GetObject', ownItem))).not.toBe('allow');
      expect(evaluate(policy, s3('PutObject', ownItem))).not.toBe('allow');
      expect(evaluate(policy, list('line-items/'))).not.toBe('allow');
      expect(
        evaluate(policy, { action: 'athena:StartQueryExecution', resource: workgroup }),
      ).not.toBe('allow');
    }
  });

  it('are readable and queryable by the chargeback readers, never writable', () => {
    // Prepare
    const reader = policyOf(stack.access.chargebackReaderPolicy);

    // Assess
    expect(evaluate(reader, s3('GetObject', item))).toBe('allow');
    expect(evaluate(reader, list('line-items/'))).toBe('allow');
    expect(evaluate(reader, { action: 'athena:StartQueryExecution', resource: workgroup })).toBe(
      'allow',
    );
    expect(evaluate(reader, s3('PutObject', item))).not.toBe('allow');
    expect(evaluate(reader, s3('GetObject', keysOf('beta').output))).not.toBe('allow');
  });

  it('are written by the export function alone, under line-items/ only', () => {
    // Prepare
    const exporter = roleStatements(
      template,
      logicalId(stack.chargeback.exportFunction.role as IResource),
    );
    const worker = roleStatements(
      template,
      logicalId(stack.pipeline.functions.worker.role as IResource),
    );

    // Assess
    expect(evaluate(exporter, s3('PutObject', item))).toBe('allow');
    expect(evaluate(exporter, s3('PutObject', keysOf('beta').output))).not.toBe('allow');
    expect(evaluate(exporter, s3('GetObject', keysOf('beta').output))).not.toBe('allow');
    expect(evaluate(exporter, ledger('UpdateItem', `REC#beta#2026-11`))).not.toBe('allow');
    expect(evaluate(worker, s3('PutObject', item))).not.toBe('allow');
  });
});
