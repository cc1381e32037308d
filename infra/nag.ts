import { Aspects, type IAspect } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * Runs cdk-nag's AwsSolutions rules over everything under `scope` at synth. Findings become
 * error annotations; suppressions live next to the resources they concern, each with a reason.
 */
export function applyNagChecks(scope: IConstruct): IAspect {
  const checks = new AwsSolutionsChecks({ verbose: true });
  Aspects.of(scope).add(checks);
  return checks;
}
