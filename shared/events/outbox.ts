// The event outbox: each billing event is an item written in the same transaction as the change it
// announces, so an event exists exactly when its change committed. The table's stream carries the new item
// to the delivery consumer (shared/events/delivery.ts), which puts it on the bus at least once, under the
// event's own id and time. The item expires after EVENT_RETENTION_DAYS (TTL), long after delivery.
import type { UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { keys } from '../dynamo/keys.ts';
import { failedCondition, type TransactItem, transactWrite, updateIf } from '../dynamo/transact.ts';
import { newUlid } from '../ids.ts';

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
  | 'credits.token_limit.reached'
  | 'credits.invoice.issued'
  | 'credits.invoice.paid'
  | 'credits.invoice.payment_failed'
  | 'credits.invoice.overdue'
  /** A customer's webhook endpoint failed for 3 days and was disabled (shared/webhook-endpoints/health.ts). */
  | 'credits.webhook_endpoint.disabled';

/** An event as subscribers get it (the EventBridge detail): `event_id` is stable across redeliveries. */
export type BillingEvent = {
  event_id: string;
  type: BillingEventType;
  account_id: string;
  /** When the change happened (also the EventBridge entry's `Time`), not when it was delivered. */
  at: string;
  [field: string]: unknown;
};

/**
 * Event items outlive the stream's 24 hours: an operator can still find (and redeliver) an event whose
 * delivery gave up, from the on-failure queue's message and the item.
 */
export const EVENT_RETENTION_DAYS = 7;

/** The item kind the stream's filter selects (infra/definitions/streams.ts). */
export const EVENT_ITEM_KIND = 'event';

/** A new event, with its id chosen now: the change that records it decides it once. */
export function billingEvent(
  type: BillingEventType,
  accountId: string,
  detail: Record<string, unknown>,
  at: string = nowIso(),
): BillingEvent {
  return { ...detail, event_id: `evt_${newUlid()}`, type, account_id: accountId, at };
}

/** The event's item, to write in the transaction of its change. */
export function eventPut(event: BillingEvent): TransactItem {
  return {
    Put: {
      TableName: config.tableName,
      Item: {
        ...keys.event(event.event_id),
        kind: EVENT_ITEM_KIND,
        event,
        expires_at: Math.floor(nowMs() / 1000) + EVENT_RETENTION_DAYS * 86_400,
      },
      ConditionExpression: 'attribute_not_exists(PK)',
    },
  };
}

/**
 * A conditional single-item update with events: one transaction when there are events (the update's
 * condition decides for all of them), a plain UpdateItem otherwise. True when it wrote.
 */
export async function updateWithEvents(
  update: Omit<UpdateCommandInput, 'TableName'>,
  events: BillingEvent[],
): Promise<boolean> {
  const input = { TableName: config.tableName, ...update };
  if (events.length === 0) return updateIf(input);
  const outcome = await transactWrite([
    { Update: input as NonNullable<TransactItem['Update']> },
    ...events.map(eventPut),
  ]);
  if (outcome.committed) return true;
  if (failedCondition(outcome, 0)) return false;
  throw new Error(`update with events refused: ${JSON.stringify(outcome.reasons)}`);
}
