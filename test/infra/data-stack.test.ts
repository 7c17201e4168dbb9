import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { keyAttributes, tableSchema } from '#infra/definitions/table.ts';
import { DataStack, STRIPE_SECRET_PLACEHOLDER } from '#infra/stacks/data-stack.ts';
import { logicalId, resources } from './synth.ts';

// The data stack has no assets, so it is synthesized on its own (fast); nag.test.ts checks it within the app.
const stack = new DataStack(new App(), 'CreditsData');
const template = Template.fromStack(stack);

describe('data stack: the table', () => {
  it('is one on-demand table keyed by the schema', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: tableSchema.partitionKey, KeyType: 'HASH' },
        { AttributeName: tableSchema.sortKey, KeyType: 'RANGE' },
      ],
    });
  });

  it('has point-in-time recovery and deletion protection on', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it('is retained when removed from the stack or replaced', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('expires items on the TTL attribute', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: tableSchema.timeToLiveAttribute, Enabled: true },
    });
  });

  it('is encrypted with the AWS managed key (SSE on, no customer key)', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: Match.objectEquals({ SSEEnabled: true }),
    });
  });

  it('has exactly the schema indexes, keyed as declared, projecting ALL', () => {
    const [table] = Object.values(template.findResources('AWS::DynamoDB::Table'));
    const indexes = table?.Properties.GlobalSecondaryIndexes as {
      IndexName: string;
      KeySchema: { AttributeName: string; KeyType: string }[];
      Projection: { ProjectionType: string };
    }[];
    expect(indexes.map((index) => index.IndexName)).toEqual(tableSchema.indexes.map((index) => index.name));
    for (const declared of tableSchema.indexes) {
      const index = indexes.find((candidate) => candidate.IndexName === declared.name);
      expect(index?.KeySchema).toEqual([
        { AttributeName: declared.partitionKey, KeyType: 'HASH' },
        { AttributeName: declared.sortKey, KeyType: 'RANGE' },
      ]);
      expect(index?.Projection).toEqual({ ProjectionType: 'ALL' });
    }
  });

  it('declares every key attribute with its type: strings, and the refill headroom a number', () => {
    const [table] = Object.values(template.findResources('AWS::DynamoDB::Table'));
    expect(table?.Properties.AttributeDefinitions).toEqual(
      keyAttributes().map(({ name, type }) => ({ AttributeName: name, AttributeType: type })),
    );
    expect(table?.Properties.AttributeDefinitions).toContainEqual({
      AttributeName: 'refill_headroom',
      AttributeType: 'N',
    });
  });

  it('has a stream with both images, for the stream consumers', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
  });
});

describe('data stack: the event bus', () => {
  it('is our own bus, named with the project prefix', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'credits-billing-events' });
    expect(stack.bus.eventBusName).toBeDefined();
  });

  it('archives the events published on it', () => {
    const [busId] = Object.keys(template.findResources('AWS::Events::EventBus'));
    template.resourceCountIs('AWS::Events::Archive', 1);
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [busId, 'Arn'] },
      RetentionDays: 365,
    });
  });

  it('has no bus policy (nothing outside the account may publish)', () => {
    template.resourceCountIs('AWS::Events::EventBusPolicy', 0);
  });
});

describe('data stack: the Stripe secret', () => {
  const secretId = logicalId(stack, stack.stripeSecret);
  const secret = resources(template)[secretId] as { Properties: Record<string, unknown> } | undefined;

  it('is one secret, exposed as stripeSecret (the other is the cursor key)', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 2);
    expect(secret).toMatchObject({ Type: 'AWS::SecretsManager::Secret' });
    expect(stack.stripeSecret.secretFullArn).toBeDefined();
  });

  it('is retained when removed from the stack or replaced', () => {
    template.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('holds a generated placeholder, never a value written in the template', () => {
    expect(secret?.Properties.SecretString).toBeUndefined();
    // Pinned: CloudFormation generates a new value when this block changes, overwriting the operator's keys.
    expect(secret?.Properties.GenerateSecretString).toEqual({
      SecretStringTemplate: '{"secret_key":"","webhook_secret":""}',
      GenerateStringKey: 'placeholder',
    });
    expect(JSON.parse(STRIPE_SECRET_PLACEHOLDER.secretStringTemplate)).toEqual({
      secret_key: '',
      webhook_secret: '',
    });
    expect(JSON.stringify(template.toJSON())).not.toMatch(/sk_(live|test)_|whsec_[A-Za-z0-9]/);
  });

  it('tells the operator how to put the real keys', () => {
    expect(secret?.Properties.Description).toEqual(
      expect.stringContaining('aws secretsmanager put-secret-value'),
    );
    expect(secret?.Properties.Description).toEqual(expect.stringContaining('"secret_key"'));
    expect(secret?.Properties.Description).toEqual(expect.stringContaining('"webhook_secret"'));
  });

  it('has no rotation and no resource policy', () => {
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    template.resourceCountIs('AWS::SecretsManager::ResourcePolicy', 0);
  });
});

describe('data stack: the cursor signing key', () => {
  const key = resources(template)[logicalId(stack, stack.cursorSecret)] as
    | { Properties: Record<string, unknown> }
    | undefined;

  it('is generated at deploy time (64 characters), never written in the template', () => {
    expect(key?.Properties.SecretString).toBeUndefined();
    expect(key?.Properties.GenerateSecretString).toEqual({ PasswordLength: 64, ExcludePunctuation: true });
    expect(stack.cursorSecret.secretFullArn).toBeDefined();
  });
});

describe('data stack: an existing Stripe secret (context stripeSecretArn)', () => {
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:credits/stripe-AbC123';
  const withExisting = new DataStack(new App({ context: { stripeSecretArn: arn } }), 'CreditsData');
  const existingTemplate = Template.fromStack(withExisting);

  it('creates no Stripe secret (only the cursor key) and refers to the given one by its complete ARN', () => {
    existingTemplate.resourceCountIs('AWS::SecretsManager::Secret', 1);
    expect(withExisting.stripeSecret.secretArn).toBe(arn);
    expect(withExisting.stripeSecret.secretFullArn).toBe(arn);
    existingTemplate.hasOutput('StripeSecretArn', { Value: arn });
  });

  it('refuses an ARN without the 6-character suffix (a grant on it would need a wildcard)', () => {
    const partial = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:credits/stripe';
    expect(() => new DataStack(new App({ context: { stripeSecretArn: partial } }), 'CreditsData')).toThrow();
  });
});

describe('data stack: outputs', () => {
  it('outputs the table and bus names and the Stripe secret ARN', () => {
    template.hasOutput('TableName', {});
    template.hasOutput('EventBusName', {});
    template.hasOutput('StripeSecretArn', { Value: { Ref: logicalId(stack, stack.stripeSecret) } });
  });

  it('holds only the table, the bus and its archive, and the Stripe secret', () => {
    expect(new Set(Object.values(resources(template)).map((r) => r.Type))).toEqual(
      new Set([
        'AWS::DynamoDB::Table',
        'AWS::Events::EventBus',
        'AWS::Events::Archive',
        'AWS::SecretsManager::Secret',
      ]),
    );
  });
});
