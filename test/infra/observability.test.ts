// What the operator is told: tracing off, the alarms on drift, failed event publishes, table throttles and
// durations near the timeout, and each scheduled job's on-failure destination with its alarm.
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { HOUSE_DEFAULTS } from '#infra/constructs/house-function.ts';
import { type FunctionName, type FunctionSpec, functions } from '#infra/definitions/functions.ts';
import { tableSchema } from '#infra/definitions/table.ts';
import { ASYNCHRONOUSLY_INVOKED } from '#infra/stacks/api-stack.ts';
import { asArray, buildUnbundled, logicalId, resources, roleStatements } from './synth.ts';

const { api, data } = buildUnbundled({});
const template = Template.fromStack(api);
const all = resources(template);
const specs = Object.entries(functions) as [FunctionName, FunctionSpec][];
const functionId = (name: FunctionName) => logicalId(api, api.functions[name].function);
const roleId = (name: FunctionName) => logicalId(api, api.functions[name].role);
const topic = [{ Ref: logicalId(api, api.alarmTopic) }];

type AlarmProps = Record<string, unknown> & {
  MetricName?: string;
  Namespace?: string;
  Dimensions?: { Name: string; Value: unknown }[];
  Metrics?: { Id: string; Expression?: string; MetricStat?: { Metric: Record<string, unknown> } }[];
};
const alarms = Object.values(all)
  .filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm')
  .map((resource) => resource.Properties as AlarmProps);
const alarmOn = (metricName: string, dimension?: unknown) => {
  const found = alarms.filter(
    (alarm) =>
      alarm.MetricName === metricName &&
      (dimension === undefined || JSON.stringify(alarm.Dimensions).includes(JSON.stringify(dimension))),
  );
  expect(found, metricName).toHaveLength(1);
  return found[0] as AlarmProps;
};

describe('tracing', () => {
  it.each(specs)('%s has no active tracing and no X-Ray permission', (name) => {
    expect(all[functionId(name)]?.Properties?.TracingConfig).toBeUndefined();
    const actions = roleStatements(template, roleId(name)).flatMap((s) => asArray(s.Action));
    expect(actions.filter((action) => action.startsWith('xray:'))).toEqual([]);
  });
});

describe('alarms on what the application reports', () => {
  // Powertools EMF: the stack's metrics namespace, one dimension `service`.
  const application = {
    Namespace: 'CreditsBilling',
    Dimensions: [{ Name: 'service', Value: 'credits-billing' }],
  };

  it('alarms on any account with ledger drift, as reconcile reports it', () => {
    expect(alarmOn('LedgerDriftAccounts')).toMatchObject({
      ...application,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: topic,
      AlarmDescription: expect.stringContaining('Reconciliation'),
    });
  });

  it.each([
    ['ChargeRefusedUnexpectedly', 'not money'],
    ['StripeCurrencyRefused', 'not in USD'],
  ])('alarms on any %s', (metricName, description) => {
    expect(alarmOn(metricName)).toMatchObject({
      ...application,
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: topic,
      AlarmDescription: expect.stringContaining(description),
    });
  });

  it('alarms on any failed event publish, which the stream delivers again', () => {
    expect(alarmOn('EventPublishFailed')).toMatchObject({
      ...application,
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: topic,
      AlarmDescription: expect.stringContaining('delivered again'),
    });
  });
});

describe('alarm on DynamoDB throttling', () => {
  const alarm = alarms.find((candidate) =>
    candidate.Metrics?.some((m) => m.MetricStat?.Metric.Namespace === 'AWS/DynamoDB'),
  );

  it('sums read and write throttle events of the table and of every index, and alarms above 0', () => {
    expect(alarm).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: topic,
    });
    const stats = (alarm?.Metrics ?? []).flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric] : []));
    const tableName = api.resolve(data.table.tableName);
    const seen = stats.map((metric) => {
      const dimensions = metric.Dimensions as { Name: string; Value: unknown }[];
      expect(dimensions.find((d) => d.Name === 'TableName')?.Value).toEqual(tableName);
      const index = dimensions.find((d) => d.Name === 'GlobalSecondaryIndexName')?.Value ?? '-';
      return `${metric.MetricName} ${index}`;
    });
    expect(seen.sort()).toEqual(
      ['-', ...tableSchema.indexes.map((index) => index.name)]
        .flatMap((index) => [`ReadThrottleEvents ${index}`, `WriteThrottleEvents ${index}`])
        .sort(),
    );
    const expression = alarm?.Metrics?.find((m) => m.Expression)?.Expression ?? '';
    expect(expression.split(' + ').sort()).toEqual(
      (alarm?.Metrics ?? [])
        .filter((m) => m.MetricStat)
        .map((m) => m.Id)
        .sort(),
    );
  });
});

describe('alarm on a duration near the timeout', () => {
  it.each(specs)('%s alarms when its slowest invocation reaches 85 %% of its timeout', (name, spec) => {
    const timeoutMs = 1000 * (spec.timeoutSeconds ?? HOUSE_DEFAULTS.timeoutSeconds);
    expect(alarmOn('Duration', { Name: 'FunctionName', Value: { Ref: functionId(name) } })).toMatchObject({
      Namespace: 'AWS/Lambda',
      Statistic: 'Maximum',
      Threshold: Math.round(0.85 * timeoutMs),
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: topic,
    });
  });
});

describe('scheduled jobs: on-failure destination', () => {
  const queueArn = { 'Fn::GetAtt': [logicalId(api, api.jobFailureQueue), 'Arn'] };
  const invokeConfigs = Object.values(all).filter((r) => r.Type === 'AWS::Lambda::EventInvokeConfig');
  // The jobs, and the Marketplace lifecycle function that EventBridge (and SNS) invoke the same way.
  const jobFunctions = ASYNCHRONOUSLY_INVOKED;

  it('sends each job function (and the Marketplace lifecycle) that fails after 2 retries to the job failure queue', () => {
    expect(invokeConfigs).toHaveLength(jobFunctions.length);
    for (const name of jobFunctions) {
      const config = invokeConfigs.find(
        (c) => JSON.stringify(c.Properties?.FunctionName) === JSON.stringify({ Ref: functionId(name) }),
      );
      expect(config?.Properties, name).toMatchObject({
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: queueArn } },
      });
    }
  });

  it('lets exactly the job functions send to that queue, SendMessage only', () => {
    for (const [name] of specs) {
      const onQueue = roleStatements(template, roleId(name)).filter(
        (s) => JSON.stringify(s.Resource) === JSON.stringify(queueArn),
      );
      if (!jobFunctions.includes(name)) {
        expect(onQueue, name).toEqual([]);
        continue;
      }
      expect(onQueue, name).toEqual([
        { Sid: 'JobFailureQueue', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn },
      ]);
    }
  });

  it('alarms on any message in the job failure queue, and keeps it encrypted for 14 days', () => {
    expect(
      alarmOn('ApproximateNumberOfMessagesVisible', {
        Name: 'QueueName',
        Value: { 'Fn::GetAtt': [logicalId(api, api.jobFailureQueue), 'QueueName'] },
      }),
    ).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', AlarmActions: topic });
    expect(all[logicalId(api, api.jobFailureQueue)]?.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
  });
});
