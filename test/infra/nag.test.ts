import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyNagChecks } from '../../infra/nag';
import { aStack, cdkOutdir } from './stack-factory';

const AWS_SOLUTIONS = Match.stringLikeRegexp('AwsSolutions-.*');

/** Unsuppressed AwsSolutions errors, as `<construct path>: <rule and message>`. */
function nagErrors(stack: Stack): string[] {
  return Annotations.fromStack(stack)
    .findError('*', AWS_SOLUTIONS)
    .map((e) => `${e.id}: ${String(e.entry.data).split(':')[0]}`);
}

describe('cdk-nag AwsSolutions checks', () => {
  let errors: string[];

  beforeAll(() => {
    const { app, stack } = aStack();
    applyNagChecks(app);
    app.synth();
    errors = nagErrors(stack);
  });

  it('finds no unsuppressed error in the stack', () => {
    // Assess
    expect(errors).toEqual([]);
  });

  it('reports an insecure resource, so a clean result means something', () => {
    // Prepare
    const app = new App({ outdir: cdkOutdir() });
    const stack = new Stack(app, 'Insecure');
    new s3.Bucket(stack, 'Open');
    applyNagChecks(app);

    // Act
    app.synth();

    // Assess
    expect(nagErrors(stack)).toContainEqual(expect.stringContaining('AwsSolutions-S1'));
  });
});
