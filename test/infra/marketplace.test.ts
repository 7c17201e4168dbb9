// AWS Marketplace in the API stack: Metering grants only where a spec asks, the lifecycle rule (this
// product's agreement and licence events, forwarded from us-east-1 when the stack is elsewhere), the hourly
// job, the alarms (derived from the metering window), and the operator's context (product code or licence
// mode, product id, window, dimension, legacy SNS topics). Built without bundling: only the templates matter.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, type Environment } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import cdkNag from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildApp } from '#infra/build.ts';
import { LIFECYCLE_DETAIL_TYPES } from '#infra/constructs/marketplace-events.ts';
import { type FunctionName, type FunctionSpec, functions } from '#infra/definitions/functions.ts';
import { jobs } from '#infra/definitions/jobs.ts';
import { asArray, buildUnbundled, logicalId, resources, roleStatements } from './synth.ts';

const { AwsSolutionsChecks } = cdkNag;

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

/** The lifecycle rule: on the default bus (the notification rule is on the project's bus, with its name). */
function isLifecycleRule(rule: { Properties?: Record<string, unknown> }): boolean {
  return Boolean(rule.Properties?.EventPattern) && rule.Properties?.EventBusName === undefined;
}

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

  it('lets exactly the functions that grant contract credits read entitlements, in the synthesised roles', () => {
    const holders = specs
      .filter(([name]) =>
        stack.statements(name).some((s) => asArray(s.Action).includes('aws-marketplace:GetEntitlements')),
      )
      .map(([name]) => name)
      .sort();
    expect(holders).toEqual(['marketplaceLifecycle', 'marketplaceRegister']);
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
  it('routes the agreement and licence events of the default bus to the lifecycle function, with a DLQ', () => {
    const rules = stack.ofType('AWS::Events::Rule').filter((rule) => isLifecycleRule(rule));
    expect(rules).toHaveLength(1);
    const rule = rules[0]!.Properties!;
    expect(rule.EventPattern).toEqual({
      source: ['aws.agreement-marketplace'],
      'detail-type': [
        'Purchase Agreement Created - Proposer',
        'Purchase Agreement Created - Manufacturer',
        'Purchase Agreement Amended - Proposer',
        'Purchase Agreement Amended - Manufacturer',
        'Purchase Agreement Ended - Proposer',
        'Purchase Agreement Ended - Manufacturer',
        'License Updated - Manufacturer',
        'License Deprovisioned - Manufacturer',
      ],
    });
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

  it('alarms on the oldest unreported hour (half of the 6-hour window used), and when the job stops reporting', () => {
    expect(alarmOn('MarketplaceOldestUnreportedHourAge')).toMatchObject({
      Threshold: 2 * 3600,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it("alarms when an unreported hour has less than half of AWS's window left (tighter at month end)", () => {
    expect(alarmOn('MarketplaceUnreportedWindowMargin')).toMatchObject({
      Threshold: 3 * 3600,
      ComparisonOperator: 'LessThanThreshold',
      Statistic: 'Minimum',
    });
  });

  it('derives both thresholds from marketplaceWindowHours, and gives the metering functions the window', () => {
    const configured = build({ marketplaceWindowHours: '24' });
    const configuredAlarms = configured.ofType('AWS::CloudWatch::Alarm').map((a) => a.Properties ?? {});
    const on = (metric: string) => configuredAlarms.find((a) => a.MetricName === metric);
    expect(on('MarketplaceUnreportedWindowMargin')?.Threshold).toBe(12 * 3600);
    expect(on('MarketplaceOldestUnreportedHourAge')?.Threshold).toBe(11 * 3600);
    for (const [name, spec] of specs) {
      expect(configured.variables(name).MARKETPLACE_WINDOW_HOURS, name).toBe(
        spec.marketplace ? '24' : undefined,
      );
    }
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

  it('gives the contract settings to the functions that grant only, and the listing URL to every function', () => {
    const configured = build({
      marketplaceProductType: 'contract',
      marketplaceCreditDimensions: '{"credits_100": 100, "credits_10": 10}',
      marketplaceListingUrl: 'https://aws.amazon.com/marketplace/pp/prodview-example',
    });
    for (const [name, spec] of specs) {
      const variables = configured.variables(name);
      const grants = spec.marketplace?.includes('aws-marketplace:GetEntitlements') ?? false;
      expect(variables.MARKETPLACE_PRODUCT_TYPE, name).toBe(grants ? 'contract' : undefined);
      expect(variables.MARKETPLACE_CREDIT_DIMENSIONS, name).toBe(
        grants ? '{"credits_100": 100, "credits_10": 10}' : undefined,
      );
      expect(variables.MARKETPLACE_LISTING_URL, name).toBe(
        'https://aws.amazon.com/marketplace/pp/prodview-example',
      );
    }
    expect(build().variables('marketplaceRegister').MARKETPLACE_PRODUCT_TYPE).toBeUndefined();
  });

  it('refuses a bad product type, credit dimensions or listing URL at synth, naming the context key', () => {
    expect(() => buildUnbundled({ marketplaceProductType: 'subscription' })).toThrow(
      /^marketplaceProductType must be metered, contract or auto/,
    );
    for (const bad of ['{"credits_100": -1}', '[1]', 'credits_100=100', '{"credits_100": "100"}']) {
      expect(() => buildUnbundled({ marketplaceCreditDimensions: bad }), bad).toThrow(
        /^MARKETPLACE_CREDIT_DIMENSIONS must be JSON like/,
      );
    }
    expect(() => buildUnbundled({ marketplaceListingUrl: 'http://example.com' })).toThrow(
      /^marketplaceListingUrl must be an https URL/,
    );
  });

  it('refuses a metering window outside 2..24 whole hours, naming the context key', () => {
    for (const bad of ['1', '25', '6.5', 'six']) {
      expect(() => buildUnbundled({ marketplaceWindowHours: bad }), bad).toThrow(
        /^marketplaceWindowHours must be a whole number of hours from 2 to 24, got/,
      );
    }
  });

  it('refuses a product id that is not prod-…, naming the context key', () => {
    expect(() => buildUnbundled({ marketplaceProductId: 'abc123' })).toThrow(/^marketplaceProductId must be/);
  });

  it('refuses a malformed product code, unit price or topic ARN', () => {
    expect(() => buildUnbundled({ marketplaceProductCode: 'not a code!' })).toThrow(/marketplaceProductCode/);
    expect(() => buildUnbundled({ marketplaceUnitPrice: '-1' })).toThrow(/marketplaceUnitPrice/);
    expect(() => buildUnbundled({ marketplaceSnsTopicArns: 'topic' })).toThrow(/marketplaceSnsTopicArns/);
  });
});

const lifecycleTypes = [...LIFECYCLE_DETAIL_TYPES];

describe('AWS Marketplace: only this product changes accounts', () => {
  const patternOf = (context: Record<string, unknown>) => {
    const rules = build(context)
      .ofType('AWS::Events::Rule')
      .filter((rule) => isLifecycleRule(rule));
    expect(rules).toHaveLength(1);
    return rules[0]!.Properties!.EventPattern;
  };

  it('keeps events that name another product out by marketplaceProductId; events that name none pass', () => {
    expect(patternOf({ marketplaceProductId: 'prod-abc123', marketplaceProductCode: 'code123' })).toEqual({
      source: ['aws.agreement-marketplace'],
      'detail-type': lifecycleTypes,
      detail: {
        $or: [{ product: { id: ['prod-abc123'] } }, { product: { id: [{ exists: false }] } }],
      },
    });
  });

  it('filters the licence events by marketplaceProductCode when no product id is given', () => {
    expect(patternOf({ marketplaceProductCode: 'code123' })).toEqual({
      source: ['aws.agreement-marketplace'],
      'detail-type': lifecycleTypes,
      detail: { $or: [{ product: { code: ['code123'] } }, { product: { code: [{ exists: false }] } }] },
    });
  });

  it('warns at synth when no product is configured, and only then', () => {
    const warningsOf = (context: Record<string, unknown>) =>
      Annotations.fromStack(buildUnbundled(context).api).findWarning(
        '*',
        Match.stringLikeRegexp('marketplaceProductId'),
      );
    expect(warningsOf({})).toHaveLength(1);
    expect(warningsOf({ marketplaceProductId: 'prod-abc123' })).toEqual([]);
    expect(warningsOf({ marketplaceProductCode: 'code123' })).toEqual([]);
  });
});

/** The app as `cdk synth` builds it for a concrete environment, without bundling. */
function buildIn(env: Environment | undefined, context: Record<string, unknown> = {}) {
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'credits-cdk-')),
    context: { ...context, 'aws:cdk:bundling-stacks': [] },
  });
  const built = buildApp(app, { ...(env ? { env } : {}), nag: false });
  return { ...built, app };
}

describe('AWS Marketplace: events reach a stack outside us-east-1', () => {
  const account = '123456789012';
  const context = { marketplaceProductId: 'prod-abc123' };

  it("forwards, from us-east-1, exactly the lifecycle rule's events to the default bus of eu-west-1", () => {
    const built = buildIn({ account, region: 'eu-west-1' }, context);
    try {
      const forwarder = built.marketplaceEvents;
      expect(forwarder?.region).toBe('us-east-1');
      expect(forwarder?.account).toBe(account);
      expect(forwarder?.stackName).toBe('CreditsMarketplaceEvents-eu-west-1');
      const template = Template.fromStack(forwarder!);
      const rules = Object.values(resources(template)).filter((r) => r.Type === 'AWS::Events::Rule');
      expect(rules).toHaveLength(1);
      const rule = rules[0]!.Properties!;
      const lifecycle = Object.values(resources(Template.fromStack(built.api))).find(
        (r) => r.Type === 'AWS::Events::Rule' && isLifecycleRule(r),
      );
      expect(rule.EventPattern).toEqual(lifecycle?.Properties?.EventPattern);
      expect(rule.EventBusName).toBeUndefined();
      expect(lifecycle?.Properties?.EventBusName).toBeUndefined();
      const targets = rule.Targets as { Arn: unknown; RoleArn?: { 'Fn::GetAtt': [string, string] } }[];
      expect(targets).toHaveLength(1);
      expect(targets[0]!.Arn).toEqual({
        'Fn::Join': [
          '',
          ['arn:', { Ref: 'AWS::Partition' }, `:events:eu-west-1:${account}:event-bus/default`],
        ],
      });
      const roleId = targets[0]!.RoleArn?.['Fn::GetAtt'][0] ?? '';
      const putEvents = roleStatements(template, roleId).filter((st) =>
        asArray(st.Action).includes('events:PutEvents'),
      );
      expect(putEvents.map((st) => st.Resource)).toEqual([targets[0]!.Arn]);
    } finally {
      rmSync(built.app.outdir, { recursive: true, force: true });
    }
  });

  it('needs no forwarding in us-east-1, nor when the region is unknown at synth (environment-agnostic)', () => {
    for (const env of [{ account, region: 'us-east-1' }, undefined]) {
      const built = buildIn(env, context);
      try {
        expect(built.marketplaceEvents, JSON.stringify(env)).toBeUndefined();
        expect(built.app.node.children.map((c) => c.node.id).sort()).toEqual([
          'CreditsApi',
          'CreditsDashboard',
          'CreditsData',
        ]);
      } finally {
        rmSync(built.app.outdir, { recursive: true, force: true });
      }
    }
  });

  it('passes the cdk-nag AwsSolutions checks with no finding', () => {
    const built = buildIn({ account, region: 'ap-southeast-2' }, context);
    try {
      built.app.synth();
      const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(
        built.marketplaceEvents!,
      );
      expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.description}`)).toEqual([]);
    } finally {
      rmSync(built.app.outdir, { recursive: true, force: true });
    }
  });
});
