import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { FUNCTIONS, type FunctionName, SERVICE_NAMES } from '../../shared/resources';
import { cdkBundling } from '../bundling';

export interface WarmbatchFunctionProps {
  /** Which pipeline function this is; timeout and memory come from shared/resources.ts. */
  name: FunctionName;
  /** Absolute path of the handler module. */
  entry: string;
  /** Directory holding package-lock.json (the repo root). */
  projectRoot: string;
  environment: Record<string, string>;
  reservedConcurrentExecutions?: number;
  logRetention?: logs.RetentionDays;
}

/**
 * A pipeline function with the project's defaults fixed in one place: bundled by the local
 * esbuild (minified, ESM, source maps without sources, AWS SDK external), ARM64 on Node 22,
 * its own log group with retention, and its own role that may write only to that log group
 * (no managed basic-execution policy, which may create and write any log group).
 */
export class WarmbatchFunction extends NodejsFunction {
  readonly functionLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WarmbatchFunctionProps) {
    const spec = FUNCTIONS[props.name];
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the warmbatch ${props.name} function`,
    });
    super(scope, id, {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: path.join(props.projectRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.seconds(spec.timeoutSeconds),
      memorySize: spec.memoryMb,
      role,
      logGroup,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      bundling: cdkBundling(),
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAMES[props.name],
        // Stack traces then point at TypeScript lines; that is what the shipped maps are for.
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    logGroup.grantWrite(role);
    this.functionLogGroup = logGroup;
  }
}
