// Postpaid invoicing in the API stack: the schedule, the fan-out queue with its dead-letter queue and
// alarms, the worker's event source (bounded concurrency for Stripe), and exactly the grants it needs.
// Templates without bundles (buildUnbundled): the assertions read resources and policies, not code.
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { type FunctionName, type FunctionSpec, functions } from '#infra/definitions/functions.ts';
import { jobs } from '#infra/definitions/jobs.ts';
import { routes } from '#infra/definitions/routes.ts';
import { asArray, buildUnbundled, logicalId, resources, roleStatements } from './synth.ts';

const { api } = buildUnbundled({});
const template = Template.fromStack(api);
const all = resources(template);
const specs = Object.entries(functions) as [FunctionName, FunctionSpec][];
const queueId = logicalId(api, api.invoiceQueue);
const deadLettersId = logicalId(api, api.invoiceDeadLetterQueue);
const queueArn = { 'Fn::GetAtt': [queueId, 'Arn'] };
const functionId = (name: FunctionName) => logicalId(api, api.functions[name].function);
const roleId = (name: FunctionName) => logicalId(api, api.functions[name].role);
const props = (id: string) => all[id]?.Properties ?? {};
const onInvoiceQueue = (name: FunctionName) =>
  roleStatements(template, roleId(name)).filter(
    (statement) => JSON.stringify(statement.Resource) === JSON.stringify(queueArn),
  );
const alarms = Object.values(all)
  .filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm')
  .map((alarm) => alarm.Properties ?? {});

describe('postpaid invoicing: schedule and route', () => {
  it('runs the postpaid-invoices dispatcher at 00:15 UTC (the 1st invoices the closed month)', () => {
    expect(jobs.find((job) => job.name === 'postpaid-invoices')).toMatchObject({
      function: 'postpaidInvoices',
      schedule: 'cron(15 0 * * ? *)',
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      Description: 'Scheduled job postpaid-invoices',
      ScheduleExpression: 'cron(15 0 * * ? *)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [functionId('postpaidInvoices'), 'Arn'] } })],
    });
  });

  it('serves GET /v1/billing/invoices from its own function, token-checked inside', () => {
    expect(routes).toContainEqual({
      method: 'GET',
      path: '/v1/billing/invoices',
      function: 'billingInvoices',
      auth: 'token',
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'GET /v1/billing/invoices',
      AuthorizationType: 'NONE',
    });
  });
});

describe('postpaid invoicing: the overdue block setting', () => {
  const graceOf = (stack: typeof api) => {
    const stackResources = resources(Template.fromStack(stack));
    return Object.fromEntries(
      specs.map(([name]) => {
        const environment = stackResources[logicalId(stack, stack.functions[name].function)]?.Properties
          ?.Environment as { Variables: Record<string, unknown> } | undefined;
        return [name, environment?.Variables.POSTPAID_OVERDUE_BLOCK_GRACE_DAYS];
      }),
    );
  };

  it('is off by default: no function gets POSTPAID_OVERDUE_BLOCK_GRACE_DAYS', () => {
    expect(Object.values(graceOf(api)).every((value) => value === undefined)).toBe(true);
  });

  it('is set on every Stripe function by -c postpaidOverdueBlockGraceDays=N', () => {
    const grace = graceOf(buildUnbundled({ postpaidOverdueBlockGraceDays: 7 }).api);
    for (const [name, spec] of specs) expect(grace[name], name).toBe(spec.stripe ? '7' : undefined);
    expect(() => buildUnbundled({ postpaidOverdueBlockGraceDays: 'soon' })).toThrow(/whole number/);
  });
});

describe('postpaid invoicing: the fan-out queue', () => {
  it('has exactly one sender (the dispatcher) and one worker (which calls Stripe)', () => {
    expect(specs.filter(([, spec]) => spec.invoiceQueue).map(([name]) => name)).toEqual(['postpaidInvoices']);
    expect(specs.filter(([, spec]) => spec.invoiceWorker).map(([name]) => name)).toEqual(['invoiceWorker']);
    expect(functions.invoiceWorker.stripe).toBe(true);
    expect(functions.postpaidInvoices).not.toHaveProperty('stripe');
  });

  it.each([
    ['queue', queueId],
    ['dead-letter queue', deadLettersId],
  ])('the invoice %s is encrypted and denies requests without TLS', (_, id) => {
    expect(all[id]?.Type).toBe('AWS::SQS::Queue');
    expect(props(id).SqsManagedSseEnabled).toBe(true);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: id }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('redrives after 5 receives and keeps messages invisible for 6 worker timeouts (beyond the lease)', () => {
    expect(props(queueId).RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [deadLettersId, 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(props(queueId).VisibilityTimeout).toBe(6 * functions.invoiceWorker.timeoutSeconds);
    expect(props(deadLettersId).MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });

  it('feeds the worker in batches of 10 with partial failures and at most 5 concurrent invocations', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: queueArn,
      FunctionName: { Ref: functionId('invoiceWorker') },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });

  it.each(specs)('%s may use the invoice queue exactly as its spec says', (name, spec) => {
    const statements = onInvoiceQueue(name);
    const variables = (props(functionId(name)).Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(variables.INVOICE_QUEUE_URL).toEqual(spec.invoiceQueue ? { Ref: queueId } : undefined);
    const expected = [
      ...(spec.invoiceQueue
        ? [{ Sid: 'InvoiceQueue', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn }]
        : []),
      ...(spec.invoiceWorker
        ? [
            {
              Sid: 'InvoiceQueueConsume',
              Effect: 'Allow',
              Action: [
                'sqs:ReceiveMessage',
                'sqs:DeleteMessage',
                'sqs:ChangeMessageVisibility',
                'sqs:GetQueueAttributes',
              ],
              Resource: queueArn,
            },
          ]
        : []),
    ];
    expect(statements).toEqual(expected);
  });

  it('gives the dispatcher index reads only, and the worker the claim transaction’s item actions', () => {
    const tableActions = (name: FunctionName) =>
      roleStatements(template, roleId(name))
        .flatMap((statement) => asArray(statement.Action))
        .filter((action) => action.startsWith('dynamodb:'));
    expect(new Set(tableActions('postpaidInvoices'))).toEqual(new Set(['dynamodb:Query']));
    expect(new Set(tableActions('invoiceWorker'))).toEqual(
      // The charging grant includes reading a sharded account's balance shards together (BatchGetItem).
      new Set([
        'dynamodb:GetItem',
        'dynamodb:BatchGetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:ConditionCheckItem',
      ]),
    );
    const secrets = roleStatements(template, roleId('invoiceWorker')).filter((s) => s.Sid === 'StripeSecret');
    expect(secrets).toHaveLength(1);
  });

  it.each([
    ['dead letters', deadLettersId, 'ApproximateNumberOfMessagesVisible', 0],
    ['the oldest waiting invoice (3 hours)', queueId, 'ApproximateAgeOfOldestMessage', 3 * 3600],
  ])('alarms to the alarm topic on %s', (_, id, metric, threshold) => {
    const matching = alarms.filter(
      (alarm) =>
        alarm.MetricName === metric &&
        JSON.stringify(alarm.Dimensions).includes(JSON.stringify({ 'Fn::GetAtt': [id, 'QueueName'] })),
    );
    expect(matching).toHaveLength(1);
    expect(matching[0]).toMatchObject({
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: logicalId(api, api.alarmTopic) }],
    });
  });
});
