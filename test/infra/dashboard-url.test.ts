// The dashboard's URL reaches the checkout functions without a reference between the stacks: the dashboard
// stack (which depends on the API stack for its origin) publishes it in an SSM parameter named after the
// service, and the API stack grants GetParameter on exactly that parameter's ARN, built from the same name.
// Built without bundling: only the templates matter here.
import { rmSync } from 'node:fs';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { type FunctionName, type FunctionSpec, functions } from '#infra/definitions/functions.ts';
import { asArray, buildUnbundled, logicalId, resources, roleStatements } from './synth.ts';

const specs = Object.entries(functions) as [FunctionName, FunctionSpec][];
const PARAMETER = '/credits-billing/dashboard-url';

/** The app under `context`, synthesized (CDK refuses a cycle between stacks there), with readers for it. */
function build(context: Record<string, unknown>, env?: { account: string; region: string }) {
  const built = buildUnbundled(context, env ? { env } : {});
  try {
    built.app.synth();
    const api = Template.fromStack(built.api);
    const dashboard = Template.fromStack(built.dashboard);
    const functionOf = (name: FunctionName) => {
      const fn = resources(api)[logicalId(built.api, built.api.functions[name].function)];
      const variables =
        (fn?.Properties?.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
      const statements = roleStatements(api, logicalId(built.api, built.api.functions[name].role));
      return {
        variables,
        ssm: statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('ssm:'))),
      };
    };
    return { built, api, dashboard, functionOf };
  } finally {
    rmSync(built.app.outdir, { recursive: true, force: true });
  }
}

const parameterOf = (dashboard: Template) => {
  const parameters = Object.values(resources(dashboard)).filter((r) => r.Type === 'AWS::SSM::Parameter');
  expect(parameters).toHaveLength(1);
  return parameters[0]?.Properties ?? {};
};

/** What GetParameter is granted on in an environment-agnostic app: this account and region, that name. */
const agnosticArn = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':ssm:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:parameter${PARAMETER}`,
    ],
  ],
};

describe('the dashboard URL parameter, by default', () => {
  const { built, api, dashboard, functionOf } = build({});
  const readers = specs.filter(([, spec]) => spec.dashboardUrl).map(([name]) => name);

  it('is read by exactly the functions that open Stripe checkouts, and by those that send email (emails link it)', () => {
    expect(readers.sort()).toEqual([
      'adminAccounts',
      'auth',
      'autoRefillSweep',
      'billingPurchases',
      'members',
      'notify',
      'refillWorker',
      'signup',
    ]);
    for (const [name, spec] of specs)
      if (spec.dashboardUrl)
        expect(spec.stripe || spec.notificationWorker || spec.sendsEmail, name).toBe(true);
  });

  it("is created by the dashboard stack under the service's name, holding the dashboard's URL", () => {
    expect(built.api.dashboardUrlParameterName).toBe(PARAMETER);
    expect(parameterOf(dashboard)).toMatchObject({
      Name: PARAMETER,
      Type: 'String',
      Value: {
        'Fn::Join': [
          '',
          [
            'https://',
            { 'Fn::GetAtt': [logicalId(built.dashboard, built.dashboard.distribution), 'DomainName'] },
          ],
        ],
      },
    });
  });

  it.each(specs)(
    '%s may ssm:GetParameter on exactly that parameter, and knows its name, only when its spec says dashboardUrl',
    (name, spec) => {
      const { variables, ssm } = functionOf(name);
      if (!spec.dashboardUrl) {
        expect(ssm).toEqual([]);
        expect(variables.DASHBOARD_URL_PARAMETER).toBeUndefined();
        expect(variables.RETURN_PAGES_ON_DASHBOARD).toBeUndefined();
        return;
      }
      expect(ssm).toEqual([
        { Sid: 'DashboardUrl', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: agnosticArn },
      ]);
      expect(variables.DASHBOARD_URL_PARAMETER).toBe(PARAMETER);
      // No public base URL was given: Stripe's default pages go to the dashboard when its URL is known.
      expect(variables.RETURN_PAGES_ON_DASHBOARD).toBe('true');
    },
  );

  it('grants SSM to no other role or policy of the API stack', () => {
    const granting = Object.entries(resources(api))
      .filter(([, r]) => r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IAM::Policy')
      .filter(([, r]) => JSON.stringify(r.Properties).includes('ssm:'))
      .map(([id]) => id);
    expect(granting.sort()).toEqual(
      readers.map((name) => logicalId(built.api, built.api.functions[name].role)).sort(),
    );
  });

  it('makes no reference from the API stack to the dashboard stack: the dependency stays one way', () => {
    const stacksOf = (stack: Stack) => stack.dependencies.map((stack) => stack.stackName);
    expect(stacksOf(built.dashboard)).toContain(built.api.stackName);
    expect(stacksOf(built.api)).not.toContain(built.dashboard.stackName);
    expect(JSON.stringify(api.toJSON())).not.toContain(built.dashboard.stackName);
  });
});

describe('the dashboard URL parameter, in a concrete environment', () => {
  const { dashboard, functionOf } = build({}, { account: '123456789012', region: 'eu-west-1' });

  it('is granted by its ARN in that account and region, where the dashboard stack creates it', () => {
    expect(parameterOf(dashboard).Name).toBe(PARAMETER);
    expect(functionOf('billingPurchases').ssm).toEqual([
      {
        Sid: 'DashboardUrl',
        Effect: 'Allow',
        Action: 'ssm:GetParameter',
        Resource: {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, `:ssm:eu-west-1:123456789012:parameter${PARAMETER}`],
          ],
        },
      },
    ]);
  });
});

describe('the dashboard URL parameter, with a public base URL given', () => {
  const { functionOf } = build({ publicBaseUrl: 'https://billing.example.com' });

  it("still lets checkout accept the dashboard's origin, but keeps Stripe's default pages on the given URL", () => {
    const { variables, ssm } = functionOf('billingPurchases');
    expect(variables.PUBLIC_BASE_URL).toBe('https://billing.example.com');
    expect(variables.DASHBOARD_URL_PARAMETER).toBe(PARAMETER);
    expect(variables.RETURN_PAGES_ON_DASHBOARD).toBeUndefined();
    expect(ssm).toHaveLength(1);
  });
});
