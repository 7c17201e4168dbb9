// Customer webhooks in the API stack: the delivery queue with its dead-letter queue and alarm, the worker's
// event source, the routes' function, and exactly the grants each needs.
// Templates without bundles (buildUnbundled): the assertions read resources and policies, not code.
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { type FunctionName, type FunctionSpec, functions } from '#infra/definitions/functions.ts';
import { routes } from '#infra/definitions/routes.ts';
import { asArray, buildUnbundled, logicalId, resources, roleStatements } from './synth.ts';

const { api } = buildUnbundled({});
const template = Template.fromStack(api);
const all = resources(template);
const specs = Object.entries(functions) as [FunctionName, FunctionSpec][];
const queueId = logicalId(api, api.webhookQueue);
const deadLettersId = logicalId(api, api.webhookDeadLetterQueue);
const queueArn = { 'Fn::GetAtt': [queueId, 'Arn'] };
const functionId = (name: FunctionName) => logicalId(api, api.functions[name].function);
const roleId = (name: FunctionName) => logicalId(api, api.functions[name].role);
const props = (id: string) => all[id]?.Properties ?? {};
const alarms = Object.values(all)
  .filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm')
  .map((alarm) => alarm.Properties ?? {});
const tableActions = (name: FunctionName) =>
  roleStatements(template, roleId(name))
    .flatMap((statement) => asArray(statement.Action))
    .filter((action) => action.startsWith('dynamodb:'));

describe('webhook endpoints: routes', () => {
  it.each([
    ['POST', '/v1/webhook-endpoints'],
    ['GET', '/v1/webhook-endpoints'],
    ['PATCH', '/v1/webhook-endpoints/{id}'],
    ['DELETE', '/v1/webhook-endpoints/{id}'],
    ['GET', '/v1/webhook-endpoints/{id}/deliveries'],
    ['POST', '/v1/webhook-endpoints/{id}/test'],
  ])('serves %s %s from the webhookEndpoints function, token-checked inside', (method, path) => {
    expect(routes).toContainEqual({ method, path, function: 'webhookEndpoints', auth: 'token' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: `${method} ${path}`,
      AuthorizationType: 'NONE',
    });
  });
});

describe('webhook endpoints: the delivery queue', () => {
  it('has three senders (the routes’ test events, the notify worker’s fan-out, the worker’s next attempts) and one worker', () => {
    expect(
      specs
        .filter(([, spec]) => spec.webhookQueue)
        .map(([name]) => name)
        .sort(),
    ).toEqual(['notify', 'webhookDelivery', 'webhookEndpoints']);
    expect(specs.filter(([, spec]) => spec.webhookWorker).map(([name]) => name)).toEqual(['webhookDelivery']);
  });

  it.each([
    ['queue', queueId],
    ['dead-letter queue', deadLettersId],
  ])('the webhook %s is encrypted and denies requests without TLS', (_, id) => {
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

  it('redrives after 5 receives and keeps messages invisible for 6 worker timeouts', () => {
    expect(props(queueId).RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [deadLettersId, 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(props(queueId).VisibilityTimeout).toBe(6 * functions.webhookDelivery.timeoutSeconds);
    expect(props(deadLettersId).MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });

  it('feeds the worker in batches of 10 with partial failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: queueArn,
      FunctionName: { Ref: functionId('webhookDelivery') },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
    });
  });

  it.each(specs)('%s may use the webhook queue exactly as its spec says', (name, spec) => {
    const statements = roleStatements(template, roleId(name)).filter(
      (statement) => JSON.stringify(statement.Resource) === JSON.stringify(queueArn),
    );
    const variables = (props(functionId(name)).Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(variables.WEBHOOK_QUEUE_URL).toEqual(spec.webhookQueue ? { Ref: queueId } : undefined);
    const expected = [
      ...(spec.webhookQueue
        ? [{ Sid: 'WebhookQueue', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn }]
        : []),
      ...(spec.webhookWorker
        ? [
            {
              Sid: 'WebhookQueueConsume',
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

  it('gives the worker item reads and updates (and the Put of the disabled event), no Query, no Delete', () => {
    expect(new Set(tableActions('webhookDelivery'))).toEqual(
      new Set(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']),
    );
    const others = roleStatements(template, roleId('webhookDelivery')).filter(
      (statement) => statement.Sid === 'StripeSecret' || statement.Sid === 'Events',
    );
    expect(others).toEqual([]);
  });

  it('alarms to the alarm topic on dead letters', () => {
    const matching = alarms.filter(
      (alarm) =>
        alarm.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        JSON.stringify(alarm.Dimensions).includes(
          JSON.stringify({ 'Fn::GetAtt': [deadLettersId, 'QueueName'] }),
        ),
    );
    expect(matching).toHaveLength(1);
    expect(matching[0]).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: logicalId(api, api.alarmTopic) }],
    });
  });
});
