/**
 * The synthesized stack's team policies, ready to be asked: what a team's submitter (or
 * another principal) may do, decided by the evaluator in ./iam.ts against the template's
 * managed policies and the bucket's own policy. Used by the IAM attack tests and by the pipeline
 * tests that carry an attack out on the local runtime after checking what IAM allows of it.
 */
import type { CfnElement, IResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { WarmbatchStack } from '../../infra/stack';
import { aConfig, aStack } from '../infra/stack-factory';
import {
  ACCOUNT,
  type Decision,
  evaluate,
  managedPolicyStatements,
  physicalName,
  type Request,
  resolveIntrinsics,
  type Statement,
  type TemplateJson,
} from './iam';

export interface TeamPolicies {
  stack: WarmbatchStack;
  template: TemplateJson;
  logicalId(resource: IResource): string;
  /** The submitter policy of `team`, with the bucket policy's statements (they bind everyone). */
  submitter(team: string): Statement[];
  /** The statements of a managed policy of the stack, with the bucket policy's. */
  policyOf(policy: IResource | undefined): Statement[];
  /** Requests as the AWS SDK would make them to this stack's bucket and tables. */
  s3(action: string, key: string): Request;
  list(prefix: string | undefined): Request;
  jobs(action: string, leadingKeys: string[], attributes?: readonly string[]): Request;
  ledger(action: string, ...leadingKeys: string[]): Request;
  /** What IAM decides for `team`'s submitter making `request`. */
  submitterDecides(team: string, request: Request): Decision;
}

/** Synthesizes a stack with `teams` (each with a budget) and returns its team policies. */
export function teamPolicies(teams: readonly string[]): TeamPolicies {
  const { stack } = aStack(
    aConfig({ teams: Object.fromEntries(teams.map((t) => [t, { monthlyBudgetUsd: 50 }])) }),
  );
  const template = Template.fromStack(stack).toJSON() as TemplateJson;
  const logicalId = (resource: IResource) =>
    stack.getLogicalId(resource.node.defaultChild as CfnElement);
  const bucket = physicalName(logicalId(stack.intake.bucket));
  const tableArn = (table: 'jobsTable' | 'ledgerTable') =>
    `arn:aws:dynamodb:${ACCOUNT.region}:${ACCOUNT.accountId}:table/${physicalName(logicalId(stack.ledger[table]))}`;

  /** Deny statements of the bucket's own policy: they apply to every caller. */
  const bucketPolicyStatements = (): Statement[] => {
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
  };
  const policyOf = (policy: IResource | undefined): Statement[] => {
    if (!policy) throw new Error('no such policy in the stack');
    return [...managedPolicyStatements(template, logicalId(policy)), ...bucketPolicyStatements()];
  };
  const submitter = (team: string) => policyOf(stack.access.submitterPolicies[team]);
  return {
    stack,
    template,
    logicalId,
    submitter,
    policyOf,
    s3: (action, key) => ({
      action: `s3:${action}`,
      resource: `arn:aws:s3:::${bucket}/${key}`,
      context: { 'aws:SecureTransport': 'true' },
    }),
    list: (prefix) => ({
      action: 's3:ListBucket',
      resource: `arn:aws:s3:::${bucket}`,
      context: {
        'aws:SecureTransport': 'true',
        ...(prefix === undefined ? {} : { 's3:prefix': prefix }),
      },
    }),
    jobs: (action, leadingKeys, attributes) => ({
      action: `dynamodb:${action}`,
      resource: tableArn('jobsTable'),
      context: Object.fromEntries([
        ...(leadingKeys.length ? [['dynamodb:LeadingKeys', leadingKeys] as const] : []),
        ...(attributes ? [['dynamodb:Attributes', attributes] as const] : []),
      ]),
    }),
    ledger: (action, ...leadingKeys) => ({
      action: `dynamodb:${action}`,
      resource: tableArn('ledgerTable'),
      context: leadingKeys.length
        ? { 'dynamodb:LeadingKeys': leadingKeys }
        : ({} as Record<string, string>),
    }),
    submitterDecides: (team, request) => evaluate(submitter(team), request),
  };
}
