// Stateful resources, kept apart from the API so that redeploying code never touches them:
// the single table (built from tableSchema) and the project's own EventBridge bus with an archive.
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { tableSchema } from '../definitions/table.ts';

export type DataStackProps = StackProps & {
  /** Prefix of physical names (the event bus). @default 'credits-billing' */
  namePrefix?: string;
  /** How long the bus archive keeps events. @default 365 days */
  archiveRetention?: Duration;
};

export class DataStack extends Stack {
  readonly table: Table;
  readonly bus: EventBus;

  constructor(scope: Construct, id: string, props: DataStackProps = {}) {
    super(scope, id, props);
    const namePrefix = props.namePrefix ?? 'credits-billing';

    this.table = new Table(this, 'Table', {
      partitionKey: { name: tableSchema.partitionKey, type: AttributeType.STRING },
      sortKey: { name: tableSchema.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      timeToLiveAttribute: tableSchema.timeToLiveAttribute,
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of tableSchema.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      });
    }

    this.bus = new EventBus(this, 'Bus', { eventBusName: `${namePrefix}-events` });
    this.bus.archive('Archive', {
      description: 'Every billing event published on the bus, for replay',
      eventPattern: { account: [this.account] },
      retention: props.archiveRetention ?? Duration.days(365),
    });

    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.bus.eventBusName });
  }
}
