// AWS Marketplace in the API stack: Metering grants only where a spec asks, the lifecycle rule, the hourly
// job, the alarms, and the operator's context (product code or licence mode, dimension, legacy SNS topics).
// Built without bundling: only the templates matter here.
import { rmSync } from 'node:fs';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { type FunctionName, type FunctionSpec, functions } from '#infra/definitions/functions.ts';
import { jobs } from '#infra/definitions/jobs.ts';
import { asArray, buildUnbundled, logicalId, resources, roleStatements } from './synth.ts';

const specs = Object.entries(functions) as [FunctionName, FunctionSpec][];

function build(context: Record<string, unknown> = {}) {
  const built = buildUnbundled(context);
  try {
    const template = Template.fromStack(built.api);
    const all = resources(template);
    const functionId = (name: FunctionName) => logicalId(built.api, built.api.functions[name].function);
    const variables = (name: FunctionName) =>
      (all[functionId(name)]?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables ?? {};
    const statements = (name: FunctionName) =>
      roleStatements(template, logicalId(built.api, built.api.functions[name].role));
    const ofType = (type: string) => Object.values(all).filter((r) => r.Type === type);
    return { built, template, all, functionId, variables, statements, ofType };
  } finally {
    rmSync(built.app.outdir, { recursive: true, force: true });
  }
}

const stack = build();

describe('AWS Marketplace: grants', () => {
  it.each(specs)('%s may call exactly the Metering actions its spec names, and no others', (name, spec) => {
    const metering = stack
      .statements(name)
      .filter((s) => asArray(s.Action).some((a) => a.startsWith('aws-marketplace:')));
    if (!spec.marketplace) {
      expect(metering).toEqual([]);
      return;
    }
    expect(metering).toEqual([
      {
        Sid: 'MarketplaceMetering',
        Effect: 'Allow',
        Action: spec.marketplace.length === 1 ? spec.marketplace[0] : spec.marketplace,
        Resource: '*',
      },
    ]);
  });

  it('grants ResolveCustomer to the registration only, BatchMeterUsage to the job and the lifecycle flush', () => {
    const holders = (action: string) =>
      specs.filter(([, spec]) => spec.marketplace?.some((a) => a === action)).map(([name]) => name);
    expect(holders('aws-marketplace:ResolveCustomer')).toEqual(['marketplaceRegister']);
    expect(holders('aws-marketplace:BatchMeterUsage').sort()).toEqual(
      ['marketplaceLifecycle', 'marketplaceMetering'].sort(),
    );
  });

  it('lets the lifecycle remember facts for buyers not registered yet, and the registration check them', () => {
    const tableActions = (name: FunctionName) =>
      stack
        .statements(name)
        .flatMap((s) => asArray(s.Action))
        .filter((a) => a.startsWith('dynamodb:'));
    for (const name of ['marketplaceLifecycle', 'marketplaceRegister'] as const) {
      expect(tableActions(name), name).toEqual(
        expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:ConditionCheckItem']),
      );
    }
  });
});

describe('AWS Marketplace: events and schedule', () => {
  it('routes aws.agreement-marketplace events of the default bus to the lifecycle function, with a DLQ', () => {
    const rules = stack.ofType('AWS::Events::Rule').filter((rule) => rule.Properties?.EventPattern);
    expect(rules).toHaveLength(1);
    const rule = rules[0]!.Properties!;
    expect(rule.EventPattern).toEqual({ source: ['aws.agreement-marketplace'] });
    expect(rule.EventBusName).toBeUndefined();
    expect(rule.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [stack.functionId('marketplaceLifecycle'), 'Arn'] },
        DeadLetterConfig: expect.anything(),
        RetryPolicy: expect.objectContaining({ MaximumRetryAttempts: 8 }),
      }),
    ]);
  });

  it('runs the metering job hourly, a few minutes after the hour closes', () => {
    const job = jobs.find((j) => j.name === 'marketplace-metering');
    expect(job).toMatchObject({ function: 'marketplaceMetering', schedule: 'cron(5 * * * ? *)' });
    const rules = stack
      .ofType('AWS::Events::Rule')
      .filter((r) => r.Properties?.ScheduleExpression === job?.schedule);
    expect(rules).toHaveLength(1);
    expect(JSON.stringify(rules[0]?.Properties?.Targets)).toContain(stack.functionId('marketplaceMetering'));
  });

  it('outlasts a whole metering run with the claim lease (15 minutes > the job timeout)', () => {
    expect(functions.marketplaceMetering.timeoutSeconds).toBeLessThan(15 * 60);
  });

  it('subscribes to no SNS topic unless the operator names the legacy topics', () => {
    expect(stack.ofType('AWS::SNS::Subscription')).toEqual([]);
  });
});

describe('AWS Marketplace: alarms', () => {
  const alarms = stack.ofType('AWS::CloudWatch::Alarm').map((a) => a.Properties ?? {});
  const alarmOn = (metric: string) => alarms.find((a) => a.MetricName === metric);

  it('alarms on rejected records and on refused batches, at the first one', () => {
    for (const metric of ['MarketplaceRecordsRejected', 'MarketplaceBatchesRefused']) {
      expect(alarmOn(metric), metric).toMatchObject({
        Namespace: 'CreditsBilling',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [{ Name: 'service', Value: 'credits-billing' }],
      });
    }
  });

  it('alarms on the oldest unreported hour, and when the job stops reporting at all', () => {
    expect(alarmOn('MarketplaceOldestUnreportedHourAge')).toMatchObject({
      Threshold: 3 * 3600,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it("alarms when an unreported hour nears the end of AWS's window (tighter at month end)", () => {
    expect(alarmOn('MarketplaceUnreportedWindowMargin')).toMatchObject({
      Threshold: 3 * 3600,
      ComparisonOperator: 'LessThanThreshold',
      Statistic: 'Minimum',
    });
  });
});

describe('AWS Marketplace: configuration by context', () => {
  it('uses licence mode and the code defaults when nothing is given', () => {
    for (const [name] of specs) {
      expect(Object.keys(stack.variables(name)).filter((v) => v.startsWith('MARKETPLACE_'))).toEqual([]);
    }
  });

  it('switches the metering functions to product-code mode when a product code is given', () => {
    const configured = build({ marketplaceProductCode: 'abc123product', marketplaceUnitPrice: '0.0005' });
    for (const [name, spec] of specs) {
      const variables = configured.variables(name);
      if (spec.marketplace) {
        expect(variables).toMatchObject({
          MARKETPLACE_PRODUCT_CODE: 'abc123product',
          MARKETPLACE_IDENTITY: 'product_code',
          MARKETPLACE_UNIT_PRICE: '0.0005',
        });
      } else {
        expect(variables.MARKETPLACE_PRODUCT_CODE, name).toBeUndefined();
      }
    }
  });

  it('gives every function the dimension (the charging functions book usage in it)', () => {
    const configured = build({ marketplaceDimension: 'api_calls' });
    for (const [name] of specs)
      expect(configured.variables(name).MARKETPLACE_DIMENSION, name).toBe('api_calls');
  });

  it('subscribes the lifecycle function to the legacy SNS topics given', () => {
    const arns = [
      'arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-abc',
      'arn:aws:sns:us-east-1:287250355862:aws-mp-entitlement-notification-abc',
    ];
    const configured = build({ marketplaceSnsTopicArns: arns.join(',') });
    const subscriptions = configured.ofType('AWS::SNS::Subscription').map((s) => s.Properties ?? {});
    expect(subscriptions.map((s) => s.TopicArn).sort()).toEqual([...arns].sort());
    for (const subscription of subscriptions) {
      expect(subscription).toMatchObject({
        Protocol: 'lambda',
        Endpoint: { 'Fn::GetAtt': [configured.functionId('marketplaceLifecycle'), 'Arn'] },
      });
    }
  });

  it('refuses a malformed product code, unit price or topic ARN', () => {
    expect(() => buildUnbundled({ marketplaceProductCode: 'not a code!' })).toThrow(/marketplaceProductCode/);
    expect(() => buildUnbundled({ marketplaceUnitPrice: '-1' })).toThrow(/marketplaceUnitPrice/);
    expect(() => buildUnbundled({ marketplaceSnsTopicArns: 'topic' })).toThrow(/marketplaceSnsTopicArns/);
  });
});
