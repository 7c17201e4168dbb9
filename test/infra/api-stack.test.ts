import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { STREAM_READ_ACTIONS } from '#infra/constructs/house-function.ts';
import { type FunctionName, type FunctionSpec, functions } from '#infra/definitions/functions.ts';
import { jobs } from '#infra/definitions/jobs.ts';
import { routeKey, routes } from '#infra/definitions/routes.ts';
import { streamConsumers } from '#infra/definitions/streams.ts';
import { timeoutSecondsOf } from '#infra/definitions/timeouts.ts';
import {
  ASYNCHRONOUSLY_INVOKED,
  sessionCookieFunctions,
  USAGE_ROLLUP_LAG_ALARM_MS,
} from '#infra/stacks/api-stack.ts';
import {
  asArray,
  buildUnbundled,
  logicalId,
  referencedResources,
  removeAssembly,
  resources,
  roleStatements,
  synthesizeApp,
} from './synth.ts';

const synthesized = synthesizeApp({ nag: false });
const { api, data } = synthesized;
afterAll(() => removeAssembly(synthesized));
const template = Template.fromStack(api);
const all = resources(template);
const specs = Object.entries(functions) as [FunctionName, FunctionSpec][];

const functionId = (name: FunctionName) => logicalId(api, api.functions[name].function);
const roleId = (name: FunctionName) => logicalId(api, api.functions[name].role);
const props = (id: string) => {
  const resource = all[id];
  if (!resource) throw new Error(`no resource ${id}`);
  return resource.Properties ?? {};
};
const ofType = (type: string) => Object.entries(all).filter(([, resource]) => resource.Type === type);
const environmentOf = (name: FunctionName) =>
  (props(functionId(name)).Environment as { Variables: Record<string, unknown> }).Variables;
const statementsOf = (name: FunctionName) => roleStatements(template, roleId(name));
const actionsOf = (name: FunctionName) =>
  statementsOf(name).flatMap((statement) => asArray(statement.Action));

describe('api stack: functions', () => {
  it('has exactly one Lambda function per function spec', () => {
    template.resourceCountIs('AWS::Lambda::Function', specs.length);
    for (const [name] of specs) expect(all[functionId(name)]?.Type).toBe('AWS::Lambda::Function');
  });

  it.each(specs)('%s runs Node 24 on arm64 with the house sizes', (name, spec) => {
    expect(props(functionId(name))).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: spec.memoryMb ?? 512,
      Timeout: timeoutSecondsOf(spec),
      Description: spec.description,
    });
  });

  it.each(specs)(
    '%s gets the house environment, plus Stripe, dashboard URL and queue variables only when its spec says so',
    (name, spec) => {
      const variables = environmentOf(name);
      expect(Object.keys(variables).sort()).toEqual(
        [
          'EVENT_BUS_NAME',
          'NODE_OPTIONS',
          'POWERTOOLS_METRICS_NAMESPACE',
          'POWERTOOLS_SERVICE_NAME',
          'TABLE_NAME',
          ...(spec.stripe ? ['STRIPE_SECRET_ARN', 'PUBLIC_BASE_URL'] : []),
          // The emails' dashboard link; no notifyFrom in this app's context, so no sender (notifications.test.ts).
          ...(spec.notificationWorker || spec.sendsEmail ? ['PUBLIC_BASE_URL'] : []),
          // Deployed, the dashboard's session cookie is __Host- and Secure (shared/auth/cookie.ts).
          ...(sessionCookieFunctions.has(name) ? ['SESSION_COOKIE_SECURE'] : []),
          ...(spec.cursors ? ['CURSOR_SECRET_ARN'] : []),
          // No public base URL given: Stripe's default pages may go to the dashboard (dashboard-url.test.ts).
          ...(spec.dashboardUrl ? ['DASHBOARD_URL_PARAMETER', 'RETURN_PAGES_ON_DASHBOARD'] : []),
          ...(spec.refillQueue ? ['REFILL_QUEUE_URL'] : []),
          ...(spec.invoiceQueue ? ['INVOICE_QUEUE_URL'] : []),
          ...(spec.webhookQueue ? ['WEBHOOK_QUEUE_URL'] : []),
          ...(spec.proxy ? ['PROXY_UPSTREAMS'] : []),
        ].sort(),
      );
      expect(variables.NODE_OPTIONS).toBe('--enable-source-maps');
      expect(variables.POWERTOOLS_SERVICE_NAME).toBe('credits-billing');
    },
  );

  it.each(specs)('%s logs to its own log group with a retention', (name) => {
    const logGroup = (props(functionId(name)).LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(all[logGroup]?.Type).toBe('AWS::Logs::LogGroup');
    expect(props(logGroup).RetentionInDays).toBe(30);
  });

  it('sets a retention on every log group in the stack', () => {
    for (const [, logGroup] of ofType('AWS::Logs::LogGroup')) {
      expect(logGroup.Properties?.RetentionInDays).toBeGreaterThan(0);
    }
  });
});

describe('api stack: least-privilege roles', () => {
  it('uses no managed policies', () => {
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    for (const [, role] of ofType('AWS::IAM::Role'))
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
  });

  it.each(specs)('%s may use exactly the DynamoDB actions of its spec', (name, spec) => {
    const stream: readonly string[] = STREAM_READ_ACTIONS;
    const dynamo = new Set(
      actionsOf(name).filter((action) => action.startsWith('dynamodb:') && !stream.includes(action)),
    );
    expect([...dynamo].sort()).toEqual([...spec.table].sort());
  });

  it.each(specs)(
    '%s reads the table stream only when its spec says streamConsumer, on the stream ARN',
    (name, spec) => {
      const reads = statementsOf(name).filter((s) => s.Sid === 'TableStream');
      if (!spec.streamConsumer) {
        expect(reads).toEqual([]);
        return;
      }
      expect(reads).toHaveLength(1);
      expect(asArray(reads[0]?.Action).sort()).toEqual([...STREAM_READ_ACTIONS].sort());
      expect(JSON.stringify(reads[0]?.Resource)).toContain('StreamArn');
    },
  );

  it.each(specs)('%s has no wildcard action, and Scan only if its spec declares it', (name, spec) => {
    for (const action of actionsOf(name)) {
      expect(action).not.toContain('*');
      if (action === 'dynamodb:Scan') expect(spec.table).toContain('dynamodb:Scan');
    }
  });

  it('never lets a function behind an API route Scan the table', () => {
    for (const route of routes)
      expect(actionsOf(route.function), routeKey(route)).not.toContain('dynamodb:Scan');
  });

  it.each(specs)('%s holds the table actions on the table ARN only', (name, spec) => {
    const table = statementsOf(name).filter(
      (s) => s.Sid !== 'TableStream' && asArray(s.Action).some((a) => a.startsWith('dynamodb:')),
    );
    const onTable = table.filter((s) => !JSON.stringify(s.Resource).includes('/index/'));
    if (spec.table.length === 0) {
      expect(table).toEqual([]);
      return;
    }
    expect(onTable).toHaveLength(1);
    expect(onTable[0]?.Resource).toEqual({ 'Fn::ImportValue': expect.stringContaining('Table') });
  });

  it.each(specs)('%s may query the table indexes only when its spec says tableIndexes', (name, spec) => {
    const onIndexes = statementsOf(name).filter((s) => JSON.stringify(s.Resource).includes('/index/'));
    if (!spec.tableIndexes) {
      expect(onIndexes).toEqual([]);
      return;
    }
    expect(onIndexes).toHaveLength(1);
    expect(onIndexes[0]?.Action).toBe('dynamodb:Query');
    expect(JSON.stringify(onIndexes[0]?.Resource)).toMatch(/\/index\/GSI1"/);
  });

  it.each(specs)('%s may PutEvents on the bus only when its spec says publishesEvents', (name, spec) => {
    const events = statementsOf(name).filter((s) => asArray(s.Action).some((a) => a.startsWith('events:')));
    if (!spec.publishesEvents) {
      expect(events).toEqual([]);
      return;
    }
    expect(events).toHaveLength(1);
    expect(events[0]?.Action).toBe('events:PutEvents');
    expect(events[0]?.Resource).toEqual({ 'Fn::ImportValue': expect.stringContaining('Bus') });
  });

  it.each(specs)(
    '%s has nothing beyond logs and its table/bus/Stripe/cursor-key/dashboard-URL/queue grants',
    (name, spec) => {
      const services = new Set(actionsOf(name).map((action) => action.split(':')[0]));
      // Asynchronously invoked functions send their failures to the job failure queue.
      const isJob = ASYNCHRONOUSLY_INVOKED.includes(name);
      const allowed = [
        'logs',
        'dynamodb',
        'events',
        ...(spec.stripe || spec.cursors || spec.proxy ? ['secretsmanager'] : []),
        ...(spec.dashboardUrl ? ['ssm'] : []),
        ...(spec.refillQueue ||
        spec.refillWorker ||
        spec.invoiceQueue ||
        spec.invoiceWorker ||
        spec.notificationWorker ||
        spec.webhookQueue ||
        spec.webhookWorker ||
        spec.streamConsumer ||
        isJob
          ? ['sqs']
          : []),
        ...(spec.marketplace ? ['aws-marketplace'] : []),
      ];
      for (const service of services) expect(allowed).toContain(service);
      for (const statement of statementsOf(name)) {
        if (statement.Resource === '*')
          expect(asArray(statement.Action).every((a) => (spec.marketplace ?? []).some((m) => m === a))).toBe(
            true,
          );
      }
    },
  );
});

describe('api stack: Stripe', () => {
  // The secret's ARN, as the API stack sees it: an import of the data stack's export of the secret's Ref.
  const secretArn = (() => {
    const [exported] = Object.values(
      Template.fromStack(data).findOutputs('*', { Value: { Ref: logicalId(data, data.stripeSecret) } }),
    ).filter((output) => output.Export);
    return { 'Fn::ImportValue': exported?.Export.Name };
  })();
  const stripeSpecs = specs.filter(([, spec]) => spec.stripe);

  it('has the functions that call Stripe: exactly the specs that say stripe', () => {
    // Derived from the definitions (no hand-kept list): the functions given the Stripe secret in the template.
    const withSecret = specs.filter(([name]) => 'STRIPE_SECRET_ARN' in environmentOf(name)).map(([n]) => n);
    expect(stripeSpecs.length).toBeGreaterThan(0);
    expect(withSecret.sort()).toEqual(stripeSpecs.map(([name]) => name).sort());
    expect(secretArn['Fn::ImportValue']).toEqual(expect.stringContaining('StripeSecret'));
  });

  it.each(specs)(
    '%s may GetSecretValue on the Stripe secret, exactly, only when its spec says stripe',
    (name, spec) => {
      const onSecrets = statementsOf(name).filter(
        (s) =>
          asArray(s.Action).some((a) => a.startsWith('secretsmanager:')) &&
          s.Sid !== 'CursorSecret' &&
          s.Sid !== 'ProxyUpstreamSecrets',
      );
      if (!spec.stripe) {
        expect(onSecrets).toEqual([]);
        return;
      }
      expect(onSecrets).toEqual([
        {
          Sid: 'StripeSecret',
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: secretArn,
        },
      ]);
    },
  );

  // The cursor key's ARN, imported from the data stack like the Stripe secret's.
  const cursorSecretArn = (() => {
    const [exported] = Object.values(
      Template.fromStack(data).findOutputs('*', { Value: { Ref: logicalId(data, data.cursorSecret) } }),
    ).filter((output) => output.Export);
    return { 'Fn::ImportValue': exported?.Export.Name };
  })();
  const cursorSpecs = specs.filter(([, spec]) => spec.cursors);

  it('signs cursors in exactly the functions that serve a cursor: GET /v1/transactions and GET /v1/audit', () => {
    expect(cursorSpecs.map(([name]) => name).sort()).toEqual(['audit', 'transactions']);
    expect(cursorSecretArn['Fn::ImportValue']).toEqual(expect.stringContaining('CursorSigningKey'));
  });

  it.each(specs)(
    '%s may GetSecretValue on the cursor key, exactly, and has CURSOR_SECRET_ARN, only when its spec says cursors',
    (name, spec) => {
      const onKey = statementsOf(name).filter((s) => s.Sid === 'CursorSecret');
      expect(onKey).toEqual(
        spec.cursors
          ? [
              {
                Sid: 'CursorSecret',
                Effect: 'Allow',
                Action: 'secretsmanager:GetSecretValue',
                Resource: cursorSecretArn,
              },
            ]
          : [],
      );
      expect(environmentOf(name).CURSOR_SECRET_ARN).toEqual(spec.cursors ? cursorSecretArn : undefined);
    },
  );

  it('grants Secrets Manager to no other role or policy in the stack', () => {
    const stripeRoles = [...stripeSpecs, ...cursorSpecs].map(([name]) => roleId(name));
    const granting = Object.entries(all)
      .filter(([, r]) => r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IAM::Policy')
      .filter(([, r]) => JSON.stringify(r.Properties).includes('secretsmanager'));
    const upstreamGrants = granting.filter(([, r]) =>
      JSON.stringify(r.Properties).includes('ProxyUpstreamSecrets'),
    );
    expect(
      granting
        .filter((g) => !upstreamGrants.includes(g))
        .map(([id]) => id)
        .sort(),
    ).toEqual(stripeRoles.sort());
    // The upstream secrets: one policy, attached to the proxy function's role alone.
    expect(upstreamGrants.map(([, r]) => r.Properties?.Roles)).toEqual([[{ Ref: roleId('proxy') }]]);
  });

  it.each(stripeSpecs)(
    '%s reads the Stripe secret ARN and the public base URL from its environment',
    (name) => {
      const variables = environmentOf(name);
      expect(variables.STRIPE_SECRET_ARN).toEqual(secretArn);
      // By default the API's own endpoint: a reference to the Api resource, not to its stage or routes.
      expect(variables.PUBLIC_BASE_URL).toEqual({ 'Fn::GetAtt': [logicalId(api, api.api), 'ApiEndpoint'] });
    },
  );

  it.each(stripeSpecs)('%s refers to nothing of the HTTP API but the Api resource (no cycle)', (name) => {
    const ids = new Set(Object.keys(all));
    const referenced = [...referencedResources(props(functionId(name)), ids)];
    const httpApiParts = referenced.filter((id) => all[id]?.Type.startsWith('AWS::ApiGatewayV2::'));
    expect(httpApiParts).toEqual([logicalId(api, api.api)]);
  });

  it('has no dependency cycle among its resources (CloudFormation would refuse it at deploy time)', () => {
    // Template.fromStack checks cycles unless told to skip; CDK's synthesis checks them only between stacks.
    expect(() => Template.fromStack(api)).not.toThrow();
    const cyclic = {
      Resources: {
        A: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['B', 'Arn'] } } },
        B: { Type: 'AWS::ApiGatewayV2::Route', Properties: {}, DependsOn: ['A'] },
      },
    };
    expect(() => Template.fromJSON(cyclic)).toThrow(/dependency cycle/);
  });
});

describe('api stack: HTTP API routes', () => {
  const routeResources = ofType('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties ?? {});
  const routeByKey = new Map(routeResources.map((route) => [route.RouteKey as string, route]));

  it('has exactly the routes of the route table', () => {
    expect([...routeByKey.keys()].sort()).toEqual(routes.map(routeKey).sort());
    expect(routeResources).toHaveLength(routes.length);
  });

  it.each(routes.map((route) => [routeKey(route), route] as const))(
    '%s has its declared authorization',
    (key, route) => {
      expect(routeByKey.get(key)?.AuthorizationType).toBe(route.auth === 'iam' ? 'AWS_IAM' : 'NONE');
    },
  );

  it('has the billing routes (token checked in the function) and the public Stripe routes', () => {
    const expected = {
      'POST /v1/billing/checkout': 'token',
      'GET /v1/billing/purchases': 'token',
      'GET /v1/billing/purchases/{id}': 'token',
      'GET /v1/billing/auto-refill': 'token',
      'PUT /v1/billing/auto-refill': 'token',
      'POST /webhooks/stripe': 'none',
      'GET /billing/return': 'none',
    };
    for (const [key, auth] of Object.entries(expected)) {
      expect(routes.find((route) => routeKey(route) === key)?.auth, key).toBe(auth);
      expect(routeByKey.get(key)?.AuthorizationType, key).toBe('NONE');
    }
  });

  it('uses IAM authorization on exactly the /admin routes', () => {
    for (const [key, route] of routeByKey) {
      const isAdmin = key.split(' ')[1]?.startsWith('/admin') ?? false;
      expect(route.AuthorizationType === 'AWS_IAM', key).toBe(isAdmin);
    }
  });

  it('has no API Gateway authorizer resources (tokens are checked in the functions)', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
  });

  it('has one Lambda integration per routed function, reused by its routes', () => {
    const routedFunctions = new Set(routes.map((route) => route.function));
    const integrations = ofType('AWS::ApiGatewayV2::Integration');
    expect(integrations).toHaveLength(routedFunctions.size);
    for (const route of routes) {
      const target = JSON.stringify(routeByKey.get(routeKey(route))?.Target);
      const integration = integrations.find(([id]) => target.includes(`"${id}"`));
      expect(integration, routeKey(route)).toBeDefined();
      expect(integration?.[1].Properties).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [functionId(route.function), 'Arn'] },
      });
    }
  });

  it('logs every request on the default stage as JSON', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    const [[, stage] = []] = ofType('AWS::ApiGatewayV2::Stage');
    expect(stage?.Properties).toMatchObject({ StageName: '$default', AutoDeploy: true });
    const access = stage?.Properties?.AccessLogSettings as {
      Format: string;
      DestinationArn: { 'Fn::GetAtt': string[] };
    };
    const format = JSON.parse(access.Format) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      routeKey: '$context.routeKey',
      status: '$context.status',
      integrationError: '$context.integrationErrorMessage',
    });
    const logGroup = access.DestinationArn['Fn::GetAtt'][0] ?? '';
    expect(props(logGroup).RetentionInDays).toBe(30);
  });

  it('throttles the default stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() },
    });
  });
});

describe('api stack: scheduled jobs', () => {
  const rules = ofType('AWS::Events::Rule')
    .map(([, rule]) => rule.Properties ?? {})
    .filter((rule) => rule.ScheduleExpression !== undefined);

  it('has one schedule rule per job', () => {
    expect(rules).toHaveLength(jobs.length);
    expect(rules.map((rule) => rule.ScheduleExpression).sort()).toEqual(
      jobs.map((job) => job.schedule).sort(),
    );
  });

  it.each(jobs.map((job) => [job.name, job] as const))(
    '%s targets its function with retries and a DLQ',
    (_, job) => {
      const rule = rules.find((candidate) => candidate.Description === `Scheduled job ${job.name}`);
      expect(rule?.ScheduleExpression).toBe(job.schedule);
      expect(rule?.EventBusName).toBeUndefined();
      const targets = rule?.Targets as Record<string, unknown>[];
      expect(targets).toHaveLength(1);
      expect(targets[0]).toMatchObject({
        Arn: { 'Fn::GetAtt': [functionId(job.function), 'Arn'] },
        RetryPolicy: {
          MaximumRetryAttempts: expect.any(Number),
          MaximumEventAgeInSeconds: expect.any(Number),
        },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(api, api.jobsDeadLetterQueue), 'Arn'] } },
      });
    },
  );

  it('enforces SSL and encryption on the dead-letter queue', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('api stack: alarms', () => {
  const alarms = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties ?? {});
  const topicId = logicalId(api, api.alarmTopic);
  const alarmsOn = (metric: string, dimension: unknown) =>
    alarms.filter(
      (alarm) =>
        alarm.MetricName === metric &&
        JSON.stringify(alarm.Dimensions).includes(JSON.stringify(dimension)) &&
        alarm.Threshold === 0 &&
        alarm.ComparisonOperator === 'GreaterThanThreshold',
    );

  it.each(specs)('%s has an Errors and a Throttles alarm', (name) => {
    expect(alarmsOn('Errors', { Ref: functionId(name) })).toHaveLength(1);
    expect(alarmsOn('Throttles', { Ref: functionId(name) })).toHaveLength(1);
  });

  it('has an API 5xx alarm', () => {
    expect(alarmsOn('5xx', { Ref: logicalId(api, api.api) })).toHaveLength(1);
  });

  it('sends every alarm to the alarm topic', () => {
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  it('has an alarm topic that requires SSL and lets CloudWatch publish', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' } }),
        ]),
      },
    });
  });
});

describe('api stack: outputs and annotations', () => {
  it('outputs the API URL, the table name and the bus name', () => {
    template.hasOutput('ApiUrl', {});
    template.hasOutput('TableName', {});
    template.hasOutput('EventBusName', {});
  });

  it('synthesizes without CDK warnings or errors (but those asking for a Marketplace product filter and a sender)', () => {
    const expected = ['credits:marketplaceProductFilter', 'credits:notificationEmail'];
    const warnings = Annotations.fromStack(api)
      .findWarning('*', Match.anyValue())
      .filter((w) => !expected.some((id) => String(w.entry.data).includes(id)));
    expect(warnings).toEqual([]);
    expect(Annotations.fromStack(api).findError('*', Match.anyValue())).toEqual([]);
  });
});

describe('api stack: metered proxy routes', () => {
  const upstreamSecret = logicalId(data, data.upstreamSecrets.sample!);

  it('gives the proxy function each configured upstream: its URL and its own generated secret', () => {
    const variables = environmentOf('proxy');
    const value = JSON.stringify(variables.PROXY_UPSTREAMS);
    expect(value).toContain('https://sample.example.com/api');
    expect(value).toContain('secret_arn');
    expect(Template.fromStack(data).toJSON().Resources[upstreamSecret].Type).toBe(
      'AWS::SecretsManager::Secret',
    );
  });

  it('lets only the proxy function read the upstream secrets, with GetSecretValue alone', () => {
    for (const [name] of specs) {
      const reads = statementsOf(name).filter((statement) =>
        JSON.stringify(statement.Resource).includes(upstreamSecret),
      );
      if (name !== 'proxy') expect(reads).toEqual([]);
      else expect(reads.map((statement) => statement.Action)).toEqual(['secretsmanager:GetSecretValue']);
    }
  });

  it('leaves out a proxy route whose upstream is not configured, with a warning naming it', () => {
    const bare = buildUnbundled({});
    const keys = Template.fromStack(bare.api).findResources('AWS::ApiGatewayV2::Route').valueOf() as Record<
      string,
      { Properties: { RouteKey: string } }
    >;
    const deployed = Object.values(keys).map((route) => route.Properties.RouteKey);
    expect(deployed).not.toContain('POST /v1/sample/translate');
    expect(deployed).toContain('POST /v1/demo/echo');
    const warnings = Annotations.fromStack(bare.api)
      .findWarning('*', Match.anyValue())
      .map((w) => String(w.entry.data))
      .filter((text) => text.includes('proxyUpstreams'));
    expect(warnings).toEqual([
      expect.stringContaining('POST /v1/sample/translate is not deployed: its upstream "sample"'),
      expect.stringContaining('POST /v1/sample/complete is not deployed: its upstream "sample"'),
    ]);
  });

  it.each([
    ['not JSON', '{sample', 'proxyUpstreams must be a JSON object of upstream name → https URL'],
    [
      'an upstream no route uses',
      '{"other":"https://x.example"}',
      'proxyUpstreams names "other", which no proxy route uses (they use: sample)',
    ],
    [
      'a plain http URL',
      '{"sample":"http://x.example"}',
      'proxyUpstreams: upstream "sample" must be an https URL, got "http://x.example"',
    ],
  ])('fails the synth with one line for %s', (_what, value, message) => {
    expect(() => buildUnbundled({ proxyUpstreams: value })).toThrow(message);
  });
});

describe('api stack: auto-refill queue', () => {
  const refillQueue = logicalId(api, api.refillQueue);
  const deadLetters = logicalId(api, api.refillDeadLetterQueue);
  const queueArn = { 'Fn::GetAtt': [refillQueue, 'Arn'] };
  const senders = specs.filter(([, spec]) => spec.refillQueue);
  const workers = specs.filter(([, spec]) => spec.refillWorker);
  const topicId = logicalId(api, api.alarmTopic);
  const alarmProps = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties ?? {});
  const onRefillQueue = (statement: { Resource: unknown }) =>
    JSON.stringify(statement.Resource) === JSON.stringify(queueArn);

  it('is used by some senders and by exactly one worker, which sends nothing to it', () => {
    expect(senders.length).toBeGreaterThan(0);
    expect(workers.every(([, spec]) => !spec.refillQueue)).toBe(true);
    expect(workers).toHaveLength(1);
  });

  it.each([
    ['refill queue', refillQueue],
    ['refill dead-letter queue', deadLetters],
  ])('the %s is encrypted (SQS-managed SSE) and denies requests without TLS', (_, id) => {
    expect(all[id]?.Type).toBe('AWS::SQS::Queue');
    expect(props(id).SqsManagedSseEnabled).toBe(true);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: id }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('redrives to the dead-letter queue after 5 receives, which has no redrive of its own', () => {
    expect(props(refillQueue).RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [deadLetters, 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(props(deadLetters).RedrivePolicy).toBeUndefined();
    expect(props(deadLetters).MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });

  it('keeps messages invisible for at least 6 times the worker timeout', () => {
    for (const [, spec] of workers) {
      expect(props(refillQueue).VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeoutSecondsOf(spec));
    }
  });

  it.each(specs)('%s may send to the refill queue exactly when its spec says refillQueue', (name, spec) => {
    const sends = statementsOf(name).filter(
      (s) => asArray(s.Action).some((a) => a.startsWith('sqs:Send')) && onRefillQueue(s),
    );
    expect(environmentOf(name).REFILL_QUEUE_URL).toEqual(spec.refillQueue ? { Ref: refillQueue } : undefined);
    if (!spec.refillQueue) {
      expect(sends).toEqual([]);
      return;
    }
    expect(sends).toEqual([
      { Sid: 'RefillQueue', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn },
    ]);
  });

  it.each(specs)('%s may consume the refill queue exactly when its spec says refillWorker', (name, spec) => {
    const consumes = statementsOf(name).filter(
      (s) =>
        asArray(s.Action).some((a) => a.startsWith('sqs:') && a !== 'sqs:SendMessage') && onRefillQueue(s),
    );
    if (!spec.refillWorker) {
      expect(consumes).toEqual([]);
      return;
    }
    expect(consumes).toEqual([
      {
        Sid: 'RefillQueueConsume',
        Effect: 'Allow',
        Action: [
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueAttributes',
        ],
        Resource: queueArn,
      },
    ]);
  });

  it('grants SQS in no other role or policy of the stack', () => {
    const granting = Object.entries(all)
      .filter(([, r]) => r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IAM::Policy')
      .filter(([, r]) => JSON.stringify(r.Properties).includes('"sqs:'))
      .map(([id]) => id);
    // The invoice queue's senders and worker are checked in invoicing-stack.test.ts, the webhook queue's in
    // webhook-stack.test.ts.
    // The job functions' default policies hold their on-failure destination grant (observability.test.ts).
    const expected = specs
      .filter(
        ([, spec]) =>
          spec.refillQueue ||
          spec.refillWorker ||
          spec.invoiceQueue ||
          spec.invoiceWorker ||
          spec.notificationWorker ||
          spec.webhookQueue ||
          spec.webhookWorker,
      )
      .map(([name]) => roleId(name));
    // So do the stream consumers' (their on-failure queue).
    const jobPolicies = [
      ...ASYNCHRONOUSLY_INVOKED,
      ...streamConsumers.map((consumer) => consumer.function),
    ].map((name) => logicalId(api, api.functions[name].role.node.findChild('DefaultPolicy')));
    expect(granting.sort()).toEqual([...expected, ...jobPolicies].sort());
  });

  it('feeds the worker from the queue in batches, reporting partial batch failures', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping').filter(
      ([, mapping]) => JSON.stringify(mapping.Properties?.EventSourceArn) === JSON.stringify(queueArn),
    );
    expect(mappings).toHaveLength(workers.length);
    for (const [name] of workers) {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: queueArn,
        FunctionName: { Ref: functionId(name) },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 10,
      });
    }
  });

  it('alarms to the alarm topic on any dead letter', () => {
    const matching = alarmProps.filter(
      (alarm) =>
        alarm.Namespace === 'AWS/SQS' &&
        alarm.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        JSON.stringify(alarm.Dimensions).includes(
          JSON.stringify({ 'Fn::GetAtt': [deadLetters, 'QueueName'] }),
        ),
    );
    expect(matching).toHaveLength(1);
    expect(matching[0]).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it('alarms to the alarm topic when the oldest refill request is over 5 minutes old', () => {
    const matching = alarmProps.filter(
      (alarm) =>
        alarm.Namespace === 'AWS/SQS' &&
        alarm.MetricName === 'ApproximateAgeOfOldestMessage' &&
        JSON.stringify(alarm.Dimensions).includes(
          JSON.stringify({ 'Fn::GetAtt': [refillQueue, 'QueueName'] }),
        ),
    );
    expect(matching).toHaveLength(1);
    expect(matching[0]).toMatchObject({
      Threshold: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it('runs the auto-refill sweep every minute', () => {
    const job = jobs.find((candidate) => candidate.name === 'auto-refill');
    expect(job).toMatchObject({ function: 'autoRefillSweep', schedule: 'rate(1 minute)' });
    template.hasResourceProperties('AWS::Events::Rule', {
      Description: 'Scheduled job auto-refill',
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [functionId('autoRefillSweep'), 'Arn'] } })],
    });
  });
});

describe('api stack: the table stream consumers', () => {
  const mappings = ofType('AWS::Lambda::EventSourceMapping').filter(([, resource]) =>
    JSON.stringify(resource.Properties?.EventSourceArn).includes('StreamArn'),
  );

  it('maps each declared consumer once, from the trim horizon, with its filter and batch size', () => {
    expect(mappings).toHaveLength(streamConsumers.length);
    for (const consumer of streamConsumers) {
      const mapping = mappings.find(([, resource]) =>
        JSON.stringify(resource.Properties?.FunctionName).includes(functionId(consumer.function)),
      );
      expect(mapping?.[1].Properties).toMatchObject({
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: consumer.batchSize,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: consumer.retryAttempts,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        FilterCriteria: {
          Filters: consumer.filters.map((pattern) => ({ Pattern: JSON.stringify(pattern) })),
        },
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(api, api.streamFailureQueue), 'Arn'] } },
        },
      });
    }
  });

  it('lets only new event items reach the event delivery function', () => {
    const delivery = streamConsumers.find((consumer) => consumer.function === 'eventDelivery');
    expect(delivery?.filters).toEqual([
      { eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['event'] } } } },
    ]);
  });

  it('gives the consumer SendMessage on the failure queue only, and alarms on the queue and the iterator age', () => {
    for (const consumer of streamConsumers) {
      expect(statementsOf(consumer.function)).toContainEqual(
        expect.objectContaining({
          Sid: 'StreamFailureQueue',
          Action: 'sqs:SendMessage',
          Resource: { 'Fn::GetAtt': [logicalId(api, api.streamFailureQueue), 'Arn'] },
        }),
      );
      expect(
        all[`${consumer.function}IteratorAge`] ??
          ofType('AWS::CloudWatch::Alarm').find(([id]) => id.startsWith(`${consumer.function}IteratorAge`)),
      ).toBeDefined();
    }
    expect(ofType('AWS::CloudWatch::Alarm').some(([id]) => id.startsWith('StreamFailureAlarm'))).toBe(true);
  });

  it('lets only new ledger entries reach the usage rollup function, in batches of 100, retried like events', () => {
    const rollups = streamConsumers.find((consumer) => consumer.function === 'usageRollups');
    expect(rollups).toEqual({
      function: 'usageRollups',
      filters: [{ eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['ledger'] } } } }],
      batchSize: 100,
      retryAttempts: 1_000,
    });
    const mapping = mappings.find(([, resource]) =>
      JSON.stringify(resource.Properties?.FunctionName).includes(functionId('usageRollups')),
    );
    expect(mapping?.[1].Properties?.FilterCriteria).toEqual({
      Filters: [{ Pattern: '{"eventName":["INSERT"],"dynamodb":{"NewImage":{"kind":{"S":["ledger"]}}}}' }],
    });
  });

  it('gives the usage rollup function PutItem and UpdateItem on the table, and the reads of the low-balance alert only', () => {
    expect(functions.usageRollups).toMatchObject({ streamConsumer: true });
    expect([...functions.usageRollups.table].sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
  });

  it('alarms to the alarm topic when the rollups (usage, period items, hour records) lag the ledger by more than 5 minutes', () => {
    const lag = ofType('AWS::CloudWatch::Alarm')
      .map(([, alarm]) => alarm.Properties ?? {})
      .filter((alarm) => alarm.MetricName === 'UsageRollupLagMs');
    expect(lag).toHaveLength(1);
    expect(lag[0]).toMatchObject({
      Namespace: 'CreditsBilling',
      Statistic: 'Maximum',
      Threshold: USAGE_ROLLUP_LAG_ALARM_MS,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [expect.objectContaining({ Ref: expect.any(String) })],
    });
    expect(lag[0]?.AlarmDescription).toMatch(/GET \/v1\/usage.*invoicing and Marketplace metering/);
    expect(USAGE_ROLLUP_LAG_ALARM_MS).toBe(300_000);
  });

  it('leaves PutEvents to the event delivery function alone', () => {
    const putters = specs
      .filter(([name]) => actionsOf(name).includes('events:PutEvents'))
      .map(([name]) => name);
    expect(putters).toEqual(['eventDelivery']);
  });
});
