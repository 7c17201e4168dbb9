import { existsSync } from 'node:fs';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { HOUSE_DEFAULTS, HouseFunction, repoRoot } from '#infra/constructs/house-function.ts';
import { type FunctionSpec, functions } from '#infra/definitions/functions.ts';
import { DEFAULT_TIMEOUT_SECONDS } from '#infra/definitions/timeouts.ts';

describe('house function', () => {
  it('resolves entries from the repository root', () => {
    expect(existsSync(path.join(repoRoot, 'package-lock.json'))).toBe(true);
    for (const spec of Object.values(functions) as FunctionSpec[]) {
      expect(existsSync(path.join(repoRoot, spec.entry)), spec.entry).toBe(true);
    }
  });

  it('defaults to 512 MB and the timeout the local stack enforces too', () => {
    expect(HOUSE_DEFAULTS).toMatchObject({ memoryMb: 512, timeoutSeconds: DEFAULT_TIMEOUT_SECONDS });
  });

  it('refuses tableIndexes without dynamodb:Query (the index grant is Query only)', () => {
    const stack = new Stack(new App(), 'HouseFunctionTest');
    const table = new Table(stack, 'Table', { partitionKey: { name: 'PK', type: AttributeType.STRING } });
    const bus = new EventBus(stack, 'Bus');
    const spec: FunctionSpec = {
      entry: 'functions/not-found.ts',
      description: 'misdeclared',
      table: ['dynamodb:GetItem'],
      tableIndexes: true,
    };
    expect(
      () => new HouseFunction(stack, 'Fn', { spec, table, bus, serviceName: 's', metricsNamespace: 'n' }),
    ).toThrow(/tableIndexes but does not declare dynamodb:Query/);
  });

  it.each([
    ['refillQueue', { refillQueue: true }],
    ['refillWorker', { refillWorker: true }],
  ] as const)('refuses %s without the refill queue', (_, flag) => {
    const stack = new Stack(new App(), 'HouseFunctionRefillTest');
    const table = new Table(stack, 'Table', { partitionKey: { name: 'PK', type: AttributeType.STRING } });
    const bus = new EventBus(stack, 'Bus');
    const spec: FunctionSpec = {
      entry: 'functions/not-found.ts',
      description: 'refills',
      table: [],
      ...flag,
    };
    expect(
      () => new HouseFunction(stack, 'Fn', { spec, table, bus, serviceName: 's', metricsNamespace: 'n' }),
    ).toThrow(/uses the refill queue but was given none/);
  });

  describe('a spec that says dashboardUrl', () => {
    const stack = new Stack(new App(), 'HouseFunctionDashboardUrlTest');
    const table = new Table(stack, 'Table', { partitionKey: { name: 'PK', type: AttributeType.STRING } });
    const bus = new EventBus(stack, 'Bus');
    const base = { table, bus, serviceName: 's', metricsNamespace: 'n' };
    const dashboardUrl = { parameterName: '/s/dashboard-url', returnPagesOnDashboard: true };

    it('refuses to build without stripe or email (only checkouts and emails read the dashboard URL)', () => {
      const spec: FunctionSpec = {
        entry: 'functions/not-found.ts',
        description: 'x',
        table: [],
        dashboardUrl: true,
      };
      expect(() => new HouseFunction(stack, 'NoStripe', { ...base, spec, dashboardUrl })).toThrow(
        /sets dashboardUrl but neither stripe, notificationWorker nor sendsEmail/,
      );
    });

    it('refuses to build without the parameter name', () => {
      const secret = new Secret(stack, 'Secret');
      const spec: FunctionSpec = {
        entry: 'functions/not-found.ts',
        description: 'x',
        table: [],
        stripe: true,
        dashboardUrl: true,
      };
      expect(
        () =>
          new HouseFunction(stack, 'NoParameter', {
            ...base,
            spec,
            stripe: { secret, publicBaseUrl: 'https://x' },
          }),
      ).toThrow(/sets dashboardUrl but was given no parameter name/);
    });
  });

  describe('a spec that says stripe', () => {
    const stack = new Stack(new App(), 'HouseFunctionStripeTest');
    const table = new Table(stack, 'Table', { partitionKey: { name: 'PK', type: AttributeType.STRING } });
    const bus = new EventBus(stack, 'Bus');
    const spec: FunctionSpec = {
      entry: 'functions/not-found.ts',
      description: 'calls Stripe',
      table: [],
      stripe: true,
    };
    const base = { spec, table, bus, serviceName: 's', metricsNamespace: 'n' };

    it('refuses to build without the Stripe secret', () => {
      expect(() => new HouseFunction(stack, 'NoSecret', base)).toThrow(
        /sets stripe but was given no Stripe secret/,
      );
    });

    it('refuses a secret known by a partial ARN (the grant would need a wildcard)', () => {
      const secret = Secret.fromSecretPartialArn(
        stack,
        'Partial',
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe',
      );
      expect(
        () =>
          new HouseFunction(stack, 'PartialSecret', {
            ...base,
            stripe: { secret, publicBaseUrl: 'https://x' },
          }),
      ).toThrow(/complete ARN/);
    });
  });
});
