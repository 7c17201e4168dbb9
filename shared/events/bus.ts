// Billing events on the project's own EventBridge bus, for operators to route (email, Slack, CRM).
// Published after the state change they describe has committed; a failed publish is retried, then logged
// and counted (metric `EventPublishFailed`), never allowed to fail the request that caused it.

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { awsCalls, awsClientConfig } from '#infra/definitions/timeouts.ts';
import { nowIso } from '../clock.ts';
import { config } from '../config.ts';
import { logger, metrics } from '../observability/powertools.ts';

export const EVENT_SOURCE = 'credits.billing';

export type BillingEventType =
  | 'credits.balance.depleted'
  | 'credits.granted'
  | 'credits.corrected'
  | 'credits.purchase.succeeded'
  | 'credits.purchase.failed'
  | 'credits.refund.applied'
  | 'credits.balance.low'
  | 'credits.auto_refill.succeeded'
  | 'credits.auto_refill.failed'
  | 'credits.auto_refill.suspended'
  | 'credits.spend_limit.warning'
  | 'credits.spend_limit.reached'
  | 'credits.invoice.paid'
  | 'credits.invoice.payment_failed'
  | 'credits.invoice.overdue';

export type BillingEvent = {
  type: BillingEventType;
  account_id: string;
  at: string;
  [field: string]: unknown;
};

type LocalEventSink = { __localEvents?: BillingEvent[] };

let client: EventBridgeClient | undefined;

export async function publish(
  type: BillingEventType,
  accountId: string,
  detail: Record<string, unknown>,
): Promise<void> {
  const event: BillingEvent = { ...detail, type, account_id: accountId, at: nowIso() };
  if (config.localMode) {
    (globalThis as LocalEventSink).__localEvents?.push(event);
    return;
  }
  const busName = config.eventBusName;
  if (!busName) return;
  client ??= new EventBridgeClient(awsClientConfig(awsCalls.eventBridge));
  try {
    const result = await client.send(
      new PutEventsCommand({
        Entries: [
          { EventBusName: busName, Source: EVENT_SOURCE, DetailType: type, Detail: JSON.stringify(event) },
        ],
      }),
    );
    if (result.FailedEntryCount)
      throw new Error(`PutEvents rejected the entry: ${result.Entries?.[0]?.ErrorCode}`);
  } catch (error) {
    logger.error('billing event not published', { type, accountId, error });
    metrics.addMetric('EventPublishFailed', MetricUnit.Count, 1);
  }
}
