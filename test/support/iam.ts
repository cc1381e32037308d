/**
 * A small IAM policy evaluator for tests: it decides a request against the statements of a
 * synthesized CloudFormation template the way IAM documents it for identity-based policies in
 * one account. An explicit Deny wins, otherwise any Allow allows, otherwise the request is
 * implicitly denied. Actions match case-insensitively and resources case-sensitively, both with
 * `*` and `?`. Conditions: the String, Null and Bool operators, their `IfExists` forms and the
 * `ForAllValues:` / `ForAnyValue:` set qualifiers. Anything else (another operator, a policy
 * variable, an intrinsic it cannot resolve) throws instead of guessing, so a test cannot pass
 * on something the evaluator does not understand.
 *
 * Why not a real engine: the one maintained offline simulator on npm (@cloud-copilot/iam-simulate)
 * is AGPL-3.0; the decisions below were checked against it once by hand (docs/security.md).
 */

export type ContextValue = string | readonly string[];

/** One IAM statement as it appears in a template. */
export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, Record<string, string | string[] | boolean>>;
  Principal?: unknown;
}

/** The request: action (`s3:GetObject`), resource ARN, and the condition keys it carries. */
export interface Request {
  action: string;
  resource: string;
  context?: Record<string, ContextValue>;
}

export type Decision = 'allow' | 'implicit-deny' | 'explicit-deny';

/** IAM's wildcard match: `*` any run of characters, `?` exactly one. */
export function wildcardMatch(pattern: string, text: string, ignoreCase = false): boolean {
  if (/\$\{/.test(pattern)) throw new Error(`policy variables are not supported: ${pattern}`);
  const source = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(text);
}

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function contextValues(
  context: Record<string, ContextValue>,
  key: string,
): readonly string[] | undefined {
  const found = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase());
  if (!found) return undefined;
  return typeof found[1] === 'string' ? [found[1]] : found[1];
}

type Matcher = (actual: string, expected: string) => boolean;

const MATCHERS: Record<string, { match: Matcher; negated: boolean }> = {
  StringEquals: { match: (a, e) => a === e, negated: false },
  StringNotEquals: { match: (a, e) => a === e, negated: true },
  StringEqualsIgnoreCase: { match: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: {
    match: (a, e) => a.toLowerCase() === e.toLowerCase(),
    negated: true,
  },
  StringLike: { match: (a, e) => wildcardMatch(e, a), negated: false },
  StringNotLike: { match: (a, e) => wildcardMatch(e, a), negated: true },
  Bool: { match: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false },
};

/** One operator block (`{"StringLike": {"s3:prefix": [...]}}`): every key must hold. */
function conditionHolds(
  operator: string,
  entries: Record<string, string | string[] | boolean>,
  context: Record<string, ContextValue>,
): boolean {
  const [qualifier, rest] = operator.includes(':')
    ? (operator.split(':', 2) as [string, string])
    : [undefined, operator];
  const ifExists = rest.endsWith('IfExists');
  const base = ifExists ? rest.slice(0, -'IfExists'.length) : rest;
  return Object.entries(entries).every(([key, raw]) => {
    const expected = list(raw).map(String);
    const actual = contextValues(context, key);
    if (base === 'Null') {
      if (qualifier || ifExists) throw new Error(`unsupported operator ${operator}`);
      const absent = actual === undefined || actual.length === 0;
      return expected.every((e) => (e === 'true' ? absent : !absent));
    }
    const matcher = MATCHERS[base];
    if (!matcher) throw new Error(`unsupported condition operator ${operator}`);
    const one = (value: string) => {
      const any = expected.some((e) => matcher.match(value, e));
      return matcher.negated ? !any : any;
    };
    if (actual === undefined || actual.length === 0) {
      if (qualifier === 'ForAllValues') return true; // the empty set: the documented pitfall
      if (qualifier === 'ForAnyValue') return false;
      return ifExists || matcher.negated;
    }
    if (qualifier === 'ForAllValues') return actual.every(one);
    if (qualifier === 'ForAnyValue') return actual.some(one);
    if (qualifier !== undefined) throw new Error(`unsupported qualifier in ${operator}`);
    if (actual.length > 1) throw new Error(`${key} has several values: qualify ${operator}`);
    return one(actual[0] as string);
  });
}

function stringsOf(value: unknown, what: string): string[] {
  return list(value).map((v) => {
    if (typeof v !== 'string') throw new Error(`${what} is not resolved to text: ${String(v)}`);
    return v;
  });
}

/** Whether a statement applies to the request (its Effect not yet considered). */
export function statementApplies(s: Statement, request: Request): boolean {
  const action = (patterns: string[]) =>
    patterns.some((p) => wildcardMatch(p, request.action, true));
  const resource = (patterns: string[]) => patterns.some((p) => wildcardMatch(p, request.resource));
  if (s.Action !== undefined && !action(stringsOf(s.Action, 'Action'))) return false;
  if (s.NotAction !== undefined && action(stringsOf(s.NotAction, 'NotAction'))) return false;
  if (s.Resource !== undefined && !resource(stringsOf(s.Resource, 'Resource'))) return false;
  if (s.NotResource !== undefined && resource(stringsOf(s.NotResource, 'NotResource')))
    return false;
  return Object.entries(s.Condition ?? {}).every(([operator, entries]) =>
    conditionHolds(operator, entries, request.context ?? {}),
  );
}

/** The decision for a request: explicit Deny wins, then any Allow, else implicit deny. */
export function evaluate(statements: readonly Statement[], request: Request): Decision {
  const applying = statements.filter((s) => statementApplies(s, request));
  if (applying.some((s) => s.Effect === 'Deny')) return 'explicit-deny';
  return applying.some((s) => s.Effect === 'Allow') ? 'allow' : 'implicit-deny';
}

/** The account, region and partition the resolved ARNs are placed in. */
export const ACCOUNT = { partition: 'aws', region: 'eu-west-1', accountId: '111122223333' };

/** The parts of a synthesized template the evaluator reads. */
export interface TemplateJson {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/**
 * Replaces CloudFormation intrinsics in a policy document with the text they stand for once
 * deployed: `Ref` and `Fn::GetAtt ... Arn` of the bucket, tables, queues and secret become
 * concrete names and ARNs (named after their logical ids), pseudo parameters become ACCOUNT's,
 * and `Fn::Join` is joined. Anything else throws.
 */
export function resolveIntrinsics(value: unknown, template: TemplateJson): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, template));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  if ('Ref' in obj) return refOf(String(obj.Ref), template);
  if ('Fn::GetAtt' in obj) {
    const [id, attr] = obj['Fn::GetAtt'] as [string, string];
    // A table's stream: its ARN plus a stream label, as DynamoDB names it.
    if (attr === 'StreamArn')
      return `${String(arnOf(id, template))}/stream/2026-11-30T00:00:00.000`;
    if (attr !== 'Arn') throw new Error(`cannot resolve Fn::GetAtt ${id}.${attr}`);
    return arnOf(id, template);
  }
  if ('Fn::Join' in obj) {
    const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolveIntrinsics(p, template)).join(sep);
  }
  const keys = Object.keys(obj);
  if (keys.some((k) => k.startsWith('Fn::'))) throw new Error(`cannot resolve ${keys.join(',')}`);
  return Object.fromEntries(keys.map((k) => [k, resolveIntrinsics(obj[k], template)]));
}

const PSEUDO: Record<string, string> = {
  'AWS::Partition': ACCOUNT.partition,
  'AWS::Region': ACCOUNT.region,
  'AWS::AccountId': ACCOUNT.accountId,
  'AWS::URLSuffix': 'amazonaws.com',
};

function typeOf(id: string, template: TemplateJson): string {
  const found = template.Resources[id];
  if (!found) throw new Error(`no resource ${id} in the template`);
  return found.Type;
}

/** The physical name a resource is given here: its logical id, lower-cased for buckets. */
export function physicalName(id: string): string {
  return id.toLowerCase();
}

function refOf(id: string, template: TemplateJson): string {
  const pseudo = PSEUDO[id];
  if (pseudo) return pseudo;
  const type = typeOf(id, template);
  if (type === 'AWS::SecretsManager::Secret') return arnOf(id, template);
  if (type === 'AWS::SQS::Queue')
    return `https://sqs.${ACCOUNT.region}.amazonaws.com/${ACCOUNT.accountId}/${id}`;
  if (type === 'AWS::S3::Bucket' || type === 'AWS::DynamoDB::Table') return physicalName(id);
  if (['AWS::IAM::Role', 'AWS::IAM::ManagedPolicy', 'AWS::Logs::LogGroup'].includes(type))
    return id;
  throw new Error(`cannot resolve Ref ${id} (${type})`);
}

function arnOf(id: string, template: TemplateJson): string {
  const { partition, region, accountId } = ACCOUNT;
  const type = typeOf(id, template);
  switch (type) {
    case 'AWS::S3::Bucket':
      return `arn:${partition}:s3:::${physicalName(id)}`;
    case 'AWS::DynamoDB::Table':
      return `arn:${partition}:dynamodb:${region}:${accountId}:table/${physicalName(id)}`;
    case 'AWS::SQS::Queue':
      return `arn:${partition}:sqs:${region}:${accountId}:${id}`;
    case 'AWS::SecretsManager::Secret':
      return `arn:${partition}:secretsmanager:${region}:${accountId}:secret:${id}-AbCdEf`;
    case 'AWS::IAM::Role':
      return `arn:${partition}:iam::${accountId}:role/${id}`;
    case 'AWS::Logs::LogGroup':
      return `arn:${partition}:logs:${region}:${accountId}:log-group:${id}:*`;
    default:
      throw new Error(`cannot resolve the ARN of ${id} (${type})`);
  }
}

/** The statements of a managed policy resource, intrinsics resolved. */
export function managedPolicyStatements(template: TemplateJson, logicalId: string): Statement[] {
  const resource = template.Resources[logicalId];
  if (resource?.Type !== 'AWS::IAM::ManagedPolicy')
    throw new Error(`${logicalId} is not a managed policy`);
  const doc = resolveIntrinsics(resource.Properties?.PolicyDocument, template) as {
    Statement: Statement[];
  };
  return doc.Statement;
}

/**
 * Every identity-policy statement a role receives: its inline AWS::IAM::Policy resources and
 * the managed policies of the template attached to it.
 */
export function roleStatements(template: TemplateJson, roleLogicalId: string): Statement[] {
  const attached = (roles: unknown) =>
    list(roles).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId }));
  return Object.entries(template.Resources).flatMap(([id, r]) => {
    if (r.Type === 'AWS::IAM::Policy' && attached(r.Properties?.Roles))
      return (
        resolveIntrinsics(r.Properties?.PolicyDocument, template) as { Statement: Statement[] }
      ).Statement;
    if (r.Type === 'AWS::IAM::ManagedPolicy' && attached(r.Properties?.Roles))
      return managedPolicyStatements(template, id);
    return [];
  });
}
