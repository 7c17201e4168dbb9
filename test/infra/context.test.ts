// The operator's CDK context (`cdk synth -c key=value`): the public base URL of the deployment and an existing
// Stripe secret. Built without bundling the functions: only the templates matter here.
import { rmSync } from 'node:fs';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { CreditsApp } from '#infra/build.ts';
import { type FunctionName, type FunctionSpec, functions } from '#infra/definitions/functions.ts';
import { routes } from '#infra/definitions/routes.ts';
import { asArray, buildUnbundled, logicalId, resources, roleStatements } from './synth.ts';

const specs = Object.entries(functions) as [FunctionName, FunctionSpec][];

/** Each function's environment and Secrets Manager statements in the API stack built under `context`. */
function build(context: Record<string, unknown>) {
  const built = buildUnbundled(context);
  try {
    const template = Template.fromStack(built.api);
    const all = resources(template);
    const functionOf = (name: FunctionName) => {
      const fn = all[logicalId(built.api, built.api.functions[name].function)];
      if (!fn) throw new Error(`no function ${name}`);
      const environment = fn.Properties?.Environment as { Variables: Record<string, unknown> } | undefined;
      const variables = environment?.Variables ?? {};
      const secrets = roleStatements(template, logicalId(built.api, built.api.functions[name].role)).filter(
        // The cursor key's grant does not depend on the Stripe context (api-stack.test.ts pins it).
        (s) => asArray(s.Action).some((a) => a.startsWith('secretsmanager:')) && s.Sid !== 'CursorSecret',
      );
      return { variables, secrets };
    };
    return { built, functionOf, data: Template.fromStack(built.data) };
  } finally {
    rmSync(built.app.outdir, { recursive: true, force: true });
  }
}

const apiOf = (built: CreditsApp) => logicalId(built.api, built.api.api);

describe('context publicBaseUrl', () => {
  const { functionOf } = build({ publicBaseUrl: 'https://billing.example.com' });

  it.each(specs)(
    '%s: PUBLIC_BASE_URL is the given URL when its spec says stripe, notificationWorker or sendsEmail, absent otherwise',
    (name, spec) => {
      expect(functionOf(name).variables.PUBLIC_BASE_URL).toBe(
        spec.stripe || spec.notificationWorker || spec.sendsEmail ? 'https://billing.example.com' : undefined,
      );
    },
  );

  it('drops a trailing slash', () => {
    const { functionOf: withSlash } = build({ publicBaseUrl: 'https://billing.example.com/' });
    expect(withSlash('billingPurchases').variables.PUBLIC_BASE_URL).toBe('https://billing.example.com');
  });

  it('refuses what is not an http(s) URL', () => {
    for (const publicBaseUrl of [
      'billing.example.com',
      'ftp://billing.example.com',
      'https://x.example/?a=1',
    ]) {
      expect(() => buildUnbundled({ publicBaseUrl }), publicBaseUrl).toThrow(/publicBaseUrl must be an http/);
    }
  });

  it('defaults to the API endpoint without it', () => {
    const { built, functionOf: plain } = build({});
    expect(plain('stripeWebhook').variables.PUBLIC_BASE_URL).toEqual({
      'Fn::GetAtt': [apiOf(built), 'ApiEndpoint'],
    });
  });
});

describe('context stripeSecretArn', () => {
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:credits/stripe-AbC123';
  const { functionOf, data } = build({ stripeSecretArn: arn });

  it('creates no Stripe secret (only the cursor key); the data stack outputs the given ARN', () => {
    data.resourceCountIs('AWS::SecretsManager::Secret', 1);
    data.hasOutput('StripeSecretArn', { Value: arn });
  });

  it.each(specs)(
    '%s: GetSecretValue on exactly that ARN and STRIPE_SECRET_ARN only when stripe',
    (name, spec) => {
      const { variables, secrets } = functionOf(name);
      expect(variables.STRIPE_SECRET_ARN).toBe(spec.stripe ? arn : undefined);
      expect(secrets).toEqual(
        spec.stripe
          ? [{ Sid: 'StripeSecret', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn }]
          : [],
      );
    },
  );
});

describe('context stage throttle and rate limits', () => {
  const tokenRouted = new Set(
    routes
      .filter((route) => route.auth === 'token' || route.auth === 'service')
      .map((route) => route.function),
  );
  const stageThrottle = (template: Template) => {
    const [stage] = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'));
    return (stage?.Properties as { DefaultRouteSettings?: Record<string, unknown> } | undefined)
      ?.DefaultRouteSettings;
  };

  it('throttles the stage at 100 rps, bursts of 200, and sets no RATE_LIMIT_* without context', () => {
    const { built, functionOf } = build({});
    expect(stageThrottle(Template.fromStack(built.api))).toEqual({
      ThrottlingRateLimit: 100,
      ThrottlingBurstLimit: 200,
    });
    expect(functionOf('demoEcho').variables.RATE_LIMIT_RPS).toBeUndefined();
  });

  const { built, functionOf } = build({
    apiThrottleRps: '300',
    apiThrottleBurst: '600',
    rateLimitRps: '20',
    rateLimitBurst: '40',
    rateLimitAccountRps: '120.5',
    rateLimitAccountBurst: '240',
  });

  it('takes the stage throttle from apiThrottleRps and apiThrottleBurst', () => {
    expect(stageThrottle(Template.fromStack(built.api))).toEqual({
      ThrottlingRateLimit: 300,
      ThrottlingBurstLimit: 600,
    });
  });

  it.each(specs)('%s: RATE_LIMIT_* from context exactly when it authenticates tokens', (name) => {
    const { variables } = functionOf(name);
    const expected = tokenRouted.has(name)
      ? {
          RATE_LIMIT_RPS: '20',
          RATE_LIMIT_BURST: '40',
          RATE_LIMIT_ACCOUNT_RPS: '120.5',
          RATE_LIMIT_ACCOUNT_BURST: '240',
        }
      : {};
    expect(
      Object.fromEntries(Object.entries(variables).filter(([key]) => key.startsWith('RATE_LIMIT'))),
    ).toEqual(expected);
  });

  it.each([
    [{ apiThrottleRps: '0' }, /apiThrottleRps must be a positive number/],
    [{ apiThrottleBurst: '1.5' }, /apiThrottleBurst must be a whole number/],
    [{ rateLimitRps: 'fast' }, /rateLimitRps must be a positive number/],
    [{ rateLimitAccountBurst: '0' }, /rateLimitAccountBurst must be a whole number/],
  ])('refuses %o', (context, message) => {
    expect(() => buildUnbundled(context)).toThrow(message);
  });
});

describe('context selfSignup and signupCredits', () => {
  it('are given to the functions that take sign-ups (signup) and complete them (auth, the link callback) only, and absent unless set', () => {
    const takers: FunctionName[] = ['signup', 'auth'];
    const { functionOf } = build({ selfSignup: 'true', signupCredits: '5' });
    for (const name of takers) {
      expect(functionOf(name).variables, name).toMatchObject({ SELF_SIGNUP: 'true', SIGNUP_CREDITS: '5' });
    }
    for (const [name] of specs.filter(([name]) => !takers.includes(name))) {
      expect(functionOf(name).variables.SELF_SIGNUP, name).toBeUndefined();
    }
    const { functionOf: unset } = build({});
    for (const name of takers) {
      expect(unset(name).variables.SELF_SIGNUP, name).toBeUndefined();
      expect(unset(name).variables.SIGNUP_CREDITS, name).toBeUndefined();
    }
  });
});
