/**
 * The attacks of one team on another, tried against the synthesized template's IAM policies
 * with the evaluator in test/support/iam.ts: team alpha's CI submitter holds alpha's policy and
 * tries to list, read, write and cancel beta's batches, results and outputs. Each attack is
 * paired with the same request on alpha's own objects, which must pass, so a policy that
 * allows nothing cannot pass these tests.
 */
import type { IResource } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WarmbatchStack } from '../../infra/stack';
import {
  batchKey,
  CANCEL_ATTRIBUTES,
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
import {
  planObjectKey,
  rejectionsKeyFor,
  requestKeyFor,
  requestSetKeyFor,
  resultKeys,
} from '../../shared/pipeline/keys';
import {
  ACCOUNT,
  evaluate,
  type Request,
  resolveIntrinsics,
  roleStatements,
  type Statement,
  type TemplateJson,
} from '../support/iam';
import { type TeamPolicies, teamPolicies } from '../support/team-policies';

let policies: TeamPolicies;
let stack: WarmbatchStack;
let template: TemplateJson;

beforeAll(() => {
  policies = teamPolicies(['alpha', 'beta', 'pay', 'payments']);
  ({ stack, template } = policies);
});

const ID = '20261130t120000-0a1b2c3d';

const logicalId: TeamPolicies['logicalId'] = (resource) => policies.logicalId(resource);
const policyOf = (policy: Parameters<TeamPolicies['policyOf']>[0]) => policies.policyOf(policy);
const submitter = (team: string) => policies.submitter(team);
const s3 = (action: string, key: string): Request => policies.s3(action, key);
const list = (prefix: string | undefined): Request => policies.list(prefix);
/** A jobs-table request; an UpdateItem writes what cancel writes unless told otherwise. */
const jobs = (action: string, ...leadingKeys: string[]): Request =>
  policies.jobs(action, leadingKeys, action === 'UpdateItem' ? CANCEL_ATTRIBUTES : undefined);
const ledger = (action: string, ...leadingKeys: string[]): Request =>
  policies.ledger(action, ...leadingKeys);

/** The keys of one team's batch, in the layout the policies are written for. */
function keysOf(team: string) {
  return {
    manifest: `batches/${team}/${ID}/manifest.json`,
    upload: `batches/${team}/${ID}/files/src/a.ts`,
    context: `batches/${team}/${ID}/context/STYLE.md`,
    request: `pipeline/${team}/${ID}/requests/0123456789abcdef.json`,
    /** What the pipeline writes and obeys: never a team's to write, even its own. */
    requestSet: `pipeline/${team}/${ID}/requests/set-0123456789abcdef.json`,
    rejections: `pipeline/${team}/${ID}/rejections.json`,
    decided: `pipeline/${team}/${ID}/plan/p-1/decided-0.json`,
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
  'requestSet',
  'rejections',
  'decided',
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
    expect(requestSetKeyFor(ref, '0123456789abcdef')).toBe(beta.requestSet);
    expect(rejectionsKeyFor(ref)).toBe(beta.rejections);
    expect(planObjectKey(ref, 'p-1', 'decided-0.json')).toBe(beta.decided);
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

/**
 * What a team's own submitter must never be able to do, even to its own batches: delete or
 * read back beyond its results (s3:DeleteObject, s3:Get* on what it uploads), write what the
 * pipeline obeys (stored requests, rejections, a sharded plan), or rewrite attributes of its
 * batch and plan items other than those cancel writes. Returns each request IAM would allow.
 */
function ownershipBreaches(statements: readonly Statement[], team: string): string[] {
  const own = keysOf(team);
  const breaches: string[] = [];
  const tryIt = (label: string, request: Request) => {
    if (evaluate(statements, request) === 'allow') breaches.push(label);
  };
  for (const what of OBJECTS) {
    for (const action of ['DeleteObject', 'DeleteObjectVersion'])
      tryIt(`${action} ${what}`, s3(action, own[what]));
    for (const action of [
      'GetObjectVersion',
      'GetObjectAcl',
      'GetObjectTagging',
      'GetObjectAttributes',
    ])
      tryIt(`${action} ${what}`, s3(action, own[what]));
  }
  for (const what of [
    'upload',
    'context',
    'verdicts',
    'failure',
    'drop',
    ...PIPELINE_OWNED,
  ] as const)
    tryIt(`GetObject ${what}`, s3('GetObject', own[what]));
  for (const what of PIPELINE_OWNED) tryIt(`PutObject ${what}`, s3('PutObject', own[what]));
  tryIt('list pipeline/', list(`pipeline/${team}/`));
  for (const attribute of [
    'sensitivity',
    'model',
    'requestHash',
    'requestKey',
    'outputKey',
    'batch',
  ])
    tryIt(
      `UpdateItem ${attribute}`,
      policies.jobs('UpdateItem', [own.batchPk], ['pk', 'sk', attribute]),
    );
  tryIt('PutItem own batch', policies.jobs('PutItem', [own.batchPk], ['pk', 'sk', 'sensitivity']));
  return breaches;
}

/** Objects only the pipeline writes, and it obeys: a team may not write or read them. */
const PIPELINE_OWNED = ['request', 'requestSet', 'rejections', 'decided'] as const;

describe('what the pipeline obeys is written by the pipeline only', () => {
  it("leaves a team's submitter no way to write, delete or read back pipeline state, even its own", () => {
    // Assess
    expect(ownershipBreaches(submitter('alpha'), 'alpha')).toEqual([]);
  });

  it('still lets the team cancel its own batch, which writes only the cancel attributes', () => {
    // Assess
    expect(
      evaluate(
        submitter('alpha'),
        policies.jobs('UpdateItem', [keysOf('alpha').batchPk], CANCEL_ATTRIBUTES),
      ),
    ).toBe('allow');
  });

  /** Grants someone might add to the submitter policy, each of which reopens an attack. */
  const mutations: [string, Statement][] = [
    [
      's3:DeleteObject on its own batches',
      { Effect: 'Allow', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::*/batches/alpha/*' },
    ],
    [
      's3:Get* on its own outputs',
      { Effect: 'Allow', Action: 's3:Get*', Resource: 'arn:aws:s3:::*/outputs/alpha/*' },
    ],
    [
      "a write to its batch's pipeline state",
      { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::*/pipeline/alpha/*' },
    ],
    [
      'an UpdateItem of its batch items without the attribute condition',
      {
        Effect: 'Allow',
        Action: 'dynamodb:UpdateItem',
        Resource: '*',
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['BATCH#alpha#*'] } },
      },
    ],
  ];

  it.each(mutations)('would catch %s added to the submitter policy', (_label, grant) => {
    // Act: the submitter policy with one more statement
    const mutated = [...submitter('alpha'), grant];

    // Assess
    expect(ownershipBreaches(mutated, 'alpha')).not.toEqual([]);
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
