// AWS Marketplace delivers agreement and licence events only to the default bus in us-east-1. A deployment in
// another region gets this small stack in us-east-1 (same account): a rule with the lifecycle rule's own
// pattern that forwards the events to the default bus of the deployment's region, where the API stack's
// lifecycle rule listens as it does in us-east-1.
import { ArnFormat, Stack, type StackProps } from 'aws-cdk-lib';
import { EventBus, type EventPattern, Rule } from 'aws-cdk-lib/aws-events';
import { EventBus as EventBusTarget } from 'aws-cdk-lib/aws-events-targets';
import type { Construct } from 'constructs';
import { MARKETPLACE_EVENTS_REGION } from '../constructs/marketplace-events.ts';

export type MarketplaceForwarderStackProps = StackProps & {
  /** The deployment's region: its default bus receives the events. */
  targetRegion: string;
  /** The API stack's lifecycle pattern: only what it would act on crosses regions. */
  eventPattern: EventPattern;
};

export class MarketplaceForwarderStack extends Stack {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: MarketplaceForwarderStackProps) {
    super(scope, id, props);
    if (this.region !== MARKETPLACE_EVENTS_REGION) {
      throw new Error(`${id} must be deployed in ${MARKETPLACE_EVENTS_REGION}, got ${this.region}`);
    }
    const target = EventBus.fromEventBusArn(
      this,
      'DeploymentDefaultBus',
      this.formatArn({
        service: 'events',
        region: props.targetRegion,
        resource: 'event-bus',
        resourceName: 'default',
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      }),
    );
    // The target makes the role EventBridge needs for a cross-region bus, allowed events:PutEvents on that
    // bus only. Failed deliveries are retried by EventBridge for 24 hours.
    this.rule = new Rule(this, 'ForwardMarketplaceEvents', {
      description: `AWS Marketplace agreement and licence events of this product, forwarded to ${props.targetRegion}`,
      eventPattern: props.eventPattern,
      targets: [new EventBusTarget(target)],
    });
  }
}
