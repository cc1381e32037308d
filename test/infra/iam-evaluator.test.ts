import { describe, expect, it } from 'vitest';
import { evaluate, type Statement, wildcardMatch } from '../support/iam';

const BUCKET = 'arn:aws:s3:::b';

const allow = (extra: Partial<Statement>): Statement => ({ Effect: 'Allow', ...extra });

describe('the test IAM evaluator', () => {
  it('matches actions without case and resources with case, * and ?', () => {
    // Assess
    expect(wildcardMatch('s3:Get*', 'S3:GETOBJECT', true)).toBe(true);
    expect(wildcardMatch(`${BUCKET}/results/a/*`, `${BUCKET}/results/a/x/y`)).toBe(true);
    expect(wildcardMatch(`${BUCKET}/results/a/*`, `${BUCKET}/results/ab/x`)).toBe(false);
    expect(wildcardMatch(`${BUCKET}/results/A/*`, `${BUCKET}/results/a/x`)).toBe(false);
    expect(wildcardMatch('a?c', 'abc')).toBe(true);
    expect(wildcardMatch('a?c', 'ac')).toBe(false);
  });

  it('denies by default, allows on a matching Allow, and lets an explicit Deny win', () => {
    // Prepare
    const get = allow({ Action: 's3:GetObject', Resource: `${BUCKET}/*` });
    const deny: Statement = { Effect: 'Deny', Action: 's3:*', Resource: `${BUCKET}/secret/*` };
    const request = (key: string) => ({ action: 's3:GetObject', resource: `${BUCKET}/${key}` });

    // Assess
    expect(evaluate([], request('a'))).toBe('implicit-deny');
    expect(evaluate([get], request('a'))).toBe('allow');
    expect(evaluate([get, deny], request('secret/a'))).toBe('explicit-deny');
    expect(evaluate([get], { action: 's3:PutObject', resource: `${BUCKET}/a` })).toBe(
      'implicit-deny',
    );
  });

  it('needs a single-valued key to be present, and treats a missing set as ForAllValues does', () => {
    // Prepare
    const list = allow({
      Action: 's3:ListBucket',
      Resource: BUCKET,
      Condition: { StringLike: { 's3:prefix': ['results/a/*'] } },
    });
    const leading = allow({
      Action: 'dynamodb:Scan',
      Resource: '*',
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['BATCH#a#*'] } },
    });
    const guarded = {
      ...leading,
      Condition: { ...leading.Condition, Null: { 'dynamodb:LeadingKeys': 'false' } },
    };

    // Assess
    expect(evaluate([list], { action: 's3:ListBucket', resource: BUCKET })).toBe('implicit-deny');
    expect(
      evaluate([list], {
        action: 's3:ListBucket',
        resource: BUCKET,
        context: { 's3:prefix': 'results/a/' },
      }),
    ).toBe('allow');
    // IAM's pitfall: ForAllValues over a key the request lacks is true.
    expect(evaluate([leading], { action: 'dynamodb:Scan', resource: 't' })).toBe('allow');
    expect(evaluate([guarded], { action: 'dynamodb:Scan', resource: 't' })).toBe('implicit-deny');
    expect(
      evaluate([guarded], {
        action: 'dynamodb:Scan',
        resource: 't',
        context: { 'dynamodb:LeadingKeys': ['BATCH#a#1', 'BATCH#b#1'] },
      }),
    ).toBe('implicit-deny');
  });

  it('refuses operators it does not implement instead of guessing', () => {
    // Prepare
    const odd = allow({
      Action: '*',
      Resource: '*',
      Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': '300' } },
    });

    // Assess
    expect(() => evaluate([odd], { action: 's3:GetObject', resource: 'x' })).toThrow(
      /unsupported condition operator NumericLessThan/,
    );
  });
});
