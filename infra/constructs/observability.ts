import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BUDGET_ALARM_PERCENT, METRICS, SERVICE_NAMES } from '../../shared/resources';

export interface ObservabilityProps {
  deadLetterQueues: Record<string, sqs.IQueue>;
  functions: Record<string, lambda.IFunction>;
  teams: readonly string[];
  /** The quality regression alarm's settings (infra/config.ts `quality`). */
  quality: { dropPoints: number; minTests: number };
  alarmTopicArn?: string;
}

const HOUR = Duration.hours(1);

/** Sum of a custom metric across whatever dimensions the functions publish it with. */
function total(metricName: string, period: Duration): string {
  return `SUM(SEARCH('Namespace="${METRICS.namespace}" MetricName="${metricName}"', 'Sum', ${period.toSeconds()}))`;
}

function expression(label: string, text: string, period: Duration): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({ expression: text, usingMetrics: {}, label, period });
}

/**
 * Alarms on every dead-letter queue, on function errors and on each team's budget use, and
 * one dashboard showing jobs, cache hit ratio, cost per hour and savings against the
 * reference model.
 */
export class Observability extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const topic = props.alarmTopicArn
      ? sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn)
      : undefined;
    const alarm = (alarmId: string, alarmProps: cloudwatch.AlarmProps) => {
      const created = new cloudwatch.Alarm(this, alarmId, alarmProps);
      if (topic) created.addAlarmAction(new actions.SnsAction(topic));
      this.alarms.push(created);
    };

    for (const [name, dlq] of Object.entries(props.deadLetterQueues)) {
      alarm(`${name}DlqDepth`, {
        alarmDescription: `Messages reached the ${name} dead-letter queue: inspect and redrive`,
        metric: dlq.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}Errors`, {
        alarmDescription: `The ${name} function failed invocations`,
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    alarm('BilledUnrecorded', {
      alarmDescription:
        'A provider call was reconciled as billed_unrecorded: a worker died between the answer and the ledger write, and the ledger holds an estimate for it',
      metric: new cloudwatch.Metric({
        namespace: METRICS.namespace,
        metricName: METRICS.billedUnrecorded,
        statistic: 'Sum',
        period: Duration.minutes(15),
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const team of props.teams) {
      alarm(`Budget-${team}`, {
        alarmDescription: `Team ${team} used ${BUDGET_ALARM_PERCENT}% of its monthly budget`,
        metric: new cloudwatch.Metric({
          namespace: METRICS.namespace,
          metricName: METRICS.budgetUsedPercent,
          dimensionsMap: { [METRICS.budgetDimension]: team },
          statistic: 'Maximum',
          period: Duration.minutes(15),
        }),
        threshold: BUDGET_ALARM_PERCENT,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    // The worker publishes it with Powertools' default dimension, its service name.
    alarm('UnpricedResponses', {
      alarmDescription:
        'Billed responses could not be priced (a model or a time no price row covers): they are in the ledger unpriced. Add a row to config/prices.json (docs/pricing.md), then run `warmbatch costs reprice --month <YYYY-MM>`',
      metric: new cloudwatch.Metric({
        namespace: METRICS.namespace,
        metricName: METRICS.unpricedResponses,
        dimensionsMap: { service: SERVICE_NAMES.worker },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // The planner publishes both rates at once whenever it records verdicts; a day holds its
    // latest. A thin week (fewer than minTests tests) reads 0 points: too few to judge.
    const daily = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: METRICS.namespace,
        metricName,
        statistic: 'Average',
        period: Duration.days(1),
      });
    const passRate7d = daily(METRICS.testPassRate7d);
    const passRate28d = daily(METRICS.testPassRate28d);
    const qualityDrop = new cloudwatch.MathExpression({
      expression: `IF(n7 >= ${props.quality.minTests}, r28 - r7, 0)`,
      usingMetrics: {
        r7: passRate7d,
        r28: passRate28d,
        n7: daily(METRICS.testsValidated7d).with({ statistic: 'Maximum' }),
      },
      label: 'points the 7-day pass rate is below the 28-day baseline',
      period: Duration.days(1),
    });
    alarm('QualityRegression', {
      alarmDescription: `The 7-day pass rate of validated tests fell ${props.quality.dropPoints} points or more below its 28-day baseline: run \`warmbatch quality --by day,model\` to see which model and when (docs/quality.md)`,
      metric: qualityDrop,
      threshold: props.quality.dropPoints,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const five = Duration.minutes(5);
    const hit = total(METRICS.cacheHitTokens, HOUR);
    const miss = total(METRICS.cacheMissTokens, HOUR);
    const cost = total(METRICS.costNanoUsd, HOUR);
    const counterfactual = total(METRICS.counterfactualNanoUsd, HOUR);
    const warmup = total(METRICS.warmupCostNanoUsd, HOUR);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(1),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Jobs',
            left: [
              expression('succeeded', total(METRICS.jobsSucceeded, five), five),
              expression('failed', total(METRICS.jobsFailed, five), five),
            ],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Cache hit ratio (% of prompt tokens)',
            left: [expression('hit ratio', `100 * ${hit} / (${hit} + ${miss})`, HOUR)],
            leftYAxis: { min: 0, max: 100 },
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Cost per hour (USD), and of it warm-ups, probes and discarded attempts',
            left: [
              expression('cost', `${cost} / 1000000000`, HOUR),
              expression('warm-up', `${warmup} / 1000000000`, HOUR),
            ],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Savings per hour against the reference model (USD)',
            left: [expression('savings', `(${counterfactual} - ${cost}) / 1000000000`, HOUR)],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Test pass rate (%), trailing 7 and 28 days',
            left: [passRate7d.with({ label: '7-day' }), passRate28d.with({ label: '28-day' })],
            leftYAxis: { min: 0, max: 100 },
            width: 24,
          }),
        ],
        [
          new cloudwatch.AlarmStatusWidget({
            title: 'Alarms',
            alarms: this.alarms,
            width: 24,
          }),
        ],
      ],
    });
  }
}
