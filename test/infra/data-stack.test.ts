import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { tableSchema } from '#infra/definitions/table.ts';
import { DataStack } from '#infra/stacks/data-stack.ts';
import { resources } from './synth.ts';

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

  it('declares every key attribute as a string', () => {
    const [table] = Object.values(template.findResources('AWS::DynamoDB::Table'));
    const keys = [
      tableSchema.partitionKey,
      tableSchema.sortKey,
      ...tableSchema.indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
    ];
    expect(table?.Properties.AttributeDefinitions).toEqual(
      keys.map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
    );
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

describe('data stack: outputs', () => {
  it('outputs the table and bus names', () => {
    template.hasOutput('TableName', {});
    template.hasOutput('EventBusName', {});
  });

  it('holds only the table, the bus and its archive', () => {
    expect(new Set(Object.values(resources(template)).map((r) => r.Type))).toEqual(
      new Set(['AWS::DynamoDB::Table', 'AWS::Events::EventBus', 'AWS::Events::Archive']),
    );
  });
});
