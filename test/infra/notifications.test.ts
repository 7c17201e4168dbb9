// The notification wiring (issue 16): a rule on the project's bus puts every billing event on the
// notification queue (with its dead-letter queue, alarmed); the notify worker consumes it; email goes through
// SES from the configured sender only, through a configuration set, and only when the operator gave one.
import { rmSync } from 'node:fs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EVENT_SOURCE } from '#shared/events/bus.ts';
import { asArray, buildUnbundled, logicalId, resources, roleStatements } from './synth.ts';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function build(context: Record<string, unknown>) {
  const built = buildUnbundled(context, { env: ENV });
  try {
    const template = Template.fromStack(built.api);
    const notify = built.api.functions.notify;
    const fn = resources(template)[logicalId(built.api, notify.function)];
    const variables =
      (fn?.Properties?.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
    const statements = roleStatements(template, logicalId(built.api, notify.role));
    // The functions that send their own email (invitations: spec `sendsEmail`) are checked on their own.
    const otherSesGrants = Object.entries(built.api.functions)
      .filter(([name, other]) => name !== 'notify' && !other.spec.sendsEmail)
      .flatMap(([, other]) => roleStatements(template, logicalId(built.api, other.role)))
      .filter((statement) => asArray(statement.Action).some((action) => action.startsWith('ses:')));
    const senders = Object.entries(built.api.functions)
      .filter(([, other]) => other.spec.sendsEmail)
      .map(([name, other]) => ({
        name,
        statements: roleStatements(template, logicalId(built.api, other.role)),
      }));
    return { built, template, variables, statements, otherSesGrants, senders };
  } finally {
    rmSync(built.app.outdir, { recursive: true, force: true });
  }
}

describe('notifications without a sender configured', () => {
  const { built, template, variables, statements, otherSesGrants, senders } = build({});

  it('routes every billing event of the project bus to the notification queue, with a dead-letter queue', () => {
    const queue = logicalId(built.api, built.api.notificationQueue);
    const deadLetters = logicalId(built.api, built.api.notificationDeadLetterQueue);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: [EVENT_SOURCE] },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [queue, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [deadLetters, 'Arn'] } },
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLetters, 'Arn'] }, maxReceiveCount: 10 },
      SqsManagedSseEnabled: true,
    });
  });

  it('alarms on the dead-letter queue and on failing emails', () => {
    const deadLetters = built.api.notificationDeadLetterQueue.queueName;
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: built.api.resolve(deadLetters) }],
      Threshold: 0,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'NotificationEmailFailed' });
  });

  it('maps the queue to the notify worker with per-message failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(built.api, built.api.notificationQueue), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
    });
  });

  it('sends no email: no sender variable and no SES permission anywhere', () => {
    expect(variables.NOTIFY_FROM).toBeUndefined();
    expect(statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('ses:')))).toEqual([]);
    expect(otherSesGrants).toEqual([]);
    for (const sender of senders) {
      expect(sender.statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('ses:')))).toEqual(
        [],
      );
    }
    template.resourceCountIs('AWS::SES::ConfigurationSet', 0);
  });
});

describe('notifications with a sender (cdk synth -c notifyFrom=...)', () => {
  const { template, variables, statements, otherSesGrants, senders } = build({
    notifyFrom: 'Example billing <billing@example.com>',
    productName: 'Example API',
  });

  it('creates a configuration set that suppresses bounces and complaints, and tells the worker the sender', () => {
    template.hasResourceProperties('AWS::SES::ConfigurationSet', {
      Name: 'credits-billing-notifications',
      SuppressionOptions: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
    });
    const [configurationSet] = Object.keys(template.findResources('AWS::SES::ConfigurationSet'));
    expect(variables).toMatchObject({
      NOTIFY_FROM: 'Example billing <billing@example.com>',
      SES_CONFIGURATION_SET: { Ref: configurationSet },
      PRODUCT_NAME: 'Example API',
    });
  });

  it('grants ses:SendEmail on exactly the identity and configuration set, from exactly the sender, to notify and the email senders only', () => {
    const ses = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('ses:')));
    const [configurationSet] = Object.keys(template.findResources('AWS::SES::ConfigurationSet'));
    expect(ses).toHaveLength(1);
    expect(ses[0]).toMatchObject({
      Action: 'ses:SendEmail',
      Condition: { StringEquals: { 'ses:FromAddress': 'billing@example.com' } },
    });
    const resources = asArray(ses[0]!.Resource).map((resource) => JSON.stringify(resource));
    expect(resources).toHaveLength(2);
    expect(resources[0]).toContain(':ses:eu-west-1:123456789012:identity/example.com');
    expect(resources[1]).toContain(':ses:eu-west-1:123456789012:configuration-set/');
    expect(resources[1]).toContain(`{"Ref":"${configurationSet}"}`);
    expect(otherSesGrants).toEqual([]);
  });

  it('gives the functions that send sign-in links and invitations the same one grant, and not the notification queue', () => {
    const ses = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('ses:')));
    expect(senders.map((sender) => sender.name).sort()).toEqual([
      'adminAccounts',
      'auth',
      'members',
      'signup',
    ]);
    for (const sender of senders) {
      const own = sender.statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('ses:')));
      expect(own).toEqual(ses);
      expect(own[0]).toMatchObject({
        Action: 'ses:SendEmail',
        Condition: { StringEquals: { 'ses:FromAddress': 'billing@example.com' } },
      });
      const sqs = sender.statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('sqs:Receive')));
      expect(sqs).toEqual([]);
    }
  });
});

describe('SES feedback (bounces, complaints)', () => {
  it('the set this stack makes publishes bounces and complaints to the default bus, for sesFeedback', () => {
    const { built, template } = build({ notifyFrom: 'billing@example.com' });
    const [configurationSet] = Object.keys(template.findResources('AWS::SES::ConfigurationSet'));
    template.hasResourceProperties('AWS::SES::ConfigurationSetEventDestination', {
      ConfigurationSetName: { Ref: configurationSet },
      EventDestination: Match.objectLike({
        Enabled: true,
        MatchingEventTypes: ['bounce', 'complaint'],
        EventBridgeDestination: Match.anyValue(),
      }),
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ses'],
        'detail-type': ['Email Bounced', 'Email Complaint Received'],
        detail: { mail: { tags: { 'ses:configuration-set': [{ Ref: configurationSet }] } } },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(built.api, built.api.functions.sesFeedback.function), 'Arn'] },
        }),
      ],
    });
  });

  it('an existing set is left alone: no destination, no rule', () => {
    const { template } = build({ notifyFrom: 'billing@example.com', sesConfigurationSet: 'existing-set' });
    template.resourceCountIs('AWS::SES::ConfigurationSetEventDestination', 0);
    expect(
      Object.values(template.findResources('AWS::Events::Rule')).filter((rule) =>
        String(JSON.stringify(rule.Properties?.EventPattern)).includes('aws.ses'),
      ),
    ).toEqual([]);
  });
});

describe('notification context errors', () => {
  it('an existing configuration set and an address identity are used as given', () => {
    const { statements, template } = build({
      notifyFrom: 'billing@example.com',
      sesIdentity: 'billing@example.com',
      sesConfigurationSet: 'existing-set',
    });
    template.resourceCountIs('AWS::SES::ConfigurationSet', 0);
    const resourcesText = JSON.stringify(statements);
    expect(resourcesText).toContain(':identity/billing@example.com');
    expect(resourcesText).toContain(':configuration-set/existing-set');
  });

  it('refuses a sender that is not an address, or not of the identity, naming the context key', () => {
    expect(() => buildUnbundled({ notifyFrom: 'billing' }, { env: ENV })).toThrow(
      /notifyFrom must be an email address/,
    );
    expect(() =>
      buildUnbundled({ notifyFrom: 'billing@example.com', sesIdentity: 'other.example' }, { env: ENV }),
    ).toThrow(/not an address of the SES identity other.example/);
  });
});
