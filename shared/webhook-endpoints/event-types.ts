// Which billing events a customer's webhook endpoint can subscribe to: the contract's list (the same names as
// on the event bus), and the test event that `POST /v1/webhook-endpoints/{id}/test` sends.
import type { BillingEventType } from '../events/outbox.ts';

export const WEBHOOK_EVENT_TYPES = [
  'credits.balance.low',
  'credits.balance.depleted',
  'credits.purchase.succeeded',
  'credits.purchase.failed',
  'credits.refund.applied',
  'credits.granted',
  'credits.auto_refill.succeeded',
  'credits.auto_refill.failed',
  'credits.auto_refill.suspended',
  'credits.spend_limit.warning',
  'credits.spend_limit.reached',
  'credits.token_limit.reached',
  'credits.invoice.paid',
  'credits.invoice.payment_failed',
  'credits.invoice.overdue',
] as const satisfies readonly BillingEventType[];

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Sent only by the "send test event" action, to the one endpoint it names; never subscribed to. */
export const TEST_EVENT_TYPE = 'webhook.test';

const deliverable = new Set<string>(WEBHOOK_EVENT_TYPES);

/** Events outside the contract's list (operator corrections, the endpoint-disabled notice) go to no endpoint. */
export function isWebhookEventType(type: string): type is WebhookEventType {
  return deliverable.has(type);
}

/** Whether an endpoint subscribed to `events` (`["*"]`: every type in the list) receives `type`. */
export function subscribes(events: readonly string[], type: string): boolean {
  return isWebhookEventType(type) && (events.includes('*') || events.includes(type));
}
