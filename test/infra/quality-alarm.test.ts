import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../infra/config';
import { METRICS } from '../../shared/resources';
import { aConfig, aStack, cdkJsonContext } from './stack-factory';

/** The metric of the alarm's query `id`, as synthesized. */
const daily = (id: string, metricName: string, stat: string) =>
  Match.objectLike({
    Id: id,
    ReturnData: false,
    MetricStat: {
      Metric: { Namespace: METRICS.namespace, MetricName: metricName },
      Period: 86_400,
      Stat: stat,
    },
  });

describe('quality regression alarm', () => {
  it('alarms when the 7-day test pass rate is the configured points below the 28-day baseline, once the week holds enough tests', () => {
    // Prepare
    const { stack } = aStack(aConfig({ quality: { dropPoints: 7.5, minTests: 120 } }));

    // Act
    const template = Template.fromStack(stack);

    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp(
        '7-day pass rate of validated tests fell 7.5 points',
      ),
      Threshold: 7.5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'IF(n7 >= 120, r28 - r7, 0)', ReturnData: true }),
        daily('r7', METRICS.testPassRate7d, 'Average'),
        daily('r28', METRICS.testPassRate28d, 'Average'),
        daily('n7', METRICS.testsValidated7d, 'Maximum'),
      ]),
    });
  });

  it('defaults to 5 points over at least 50 tests, and shows both rates on the dashboard', () => {
    const config = parseConfig({ ...(cdkJsonContext().warmbatch as object), quality: undefined });
    const { stack } = aStack(config);

    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 5,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(n7 >= 50, r28 - r7, 0)' })]),
    });
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard?.Properties?.DashboardBody);
    expect(body).toContain(METRICS.testPassRate7d);
    expect(body).toContain(METRICS.testPassRate28d);
  });

  it('refuses a drop that is not a positive number of points', () => {
    expect(() =>
      parseConfig({ ...(cdkJsonContext().warmbatch as object), quality: { dropPoints: 0 } }),
    ).toThrow(/warmbatch\.quality\.dropPoints/);
  });
});
