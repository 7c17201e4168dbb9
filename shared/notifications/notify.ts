// The notification worker's work: every billing event, as the bus hands it on (an EventBridge rule puts each
// event on the notification queue; locally the outbox's delivery calls the same worker), turned into its
// emails and its customer webhook deliveries. Events reach it at least once; each email is sent once per
// event and recipient (shared/notifications/send.ts), each webhook delivered once per event and endpoint.
// An event that is never committed never reaches the outbox, so nothing is sent for it.
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import type { BillingEvent } from '../events/outbox.ts';
import { logger } from '../observability/powertools.ts';
import { queueWebhookDeliveries } from '../webhook-endpoints/fan-out.ts';
import { sendEventEmails } from './send.ts';

const billingEventSchema = z.looseObject({
  event_id: z.string().check(z.minLength(1)),
  type: z.string().check(z.startsWith('credits.')),
  account_id: z.string().check(z.minLength(1)),
  at: z.string().check(z.minLength(1)),
});

/** The billing event a queue message carries: an EventBridge event's `detail`, or the event itself. */
export function eventOfMessage(body: string): BillingEvent {
  const parsed: unknown = JSON.parse(body);
  const detail =
    parsed && typeof parsed === 'object' && 'detail' in parsed
      ? (parsed as { detail: unknown }).detail
      : parsed;
  return billingEventSchema.parse(detail) as BillingEvent;
}

/**
 * Everything an event makes for people: its emails and its webhook deliveries. Both run even when one fails
 * (each is idempotent per event); a failure of either throws, so the queue redelivers the event and only what
 * is missing is done then.
 */
export async function notifyEvent(event: BillingEvent): Promise<void> {
  const [emails, webhooks] = await Promise.allSettled([
    sendEventEmails(event),
    queueWebhookDeliveries(event),
  ]);
  if (emails.status === 'rejected') throw emails.reason;
  if (webhooks.status === 'rejected') throw webhooks.reason;
}

/** A batch of queue messages: the ones that failed are redelivered (partial batch response). */
export async function handleNotificationMessages(records: SQSRecord[]): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of records) {
    let event: BillingEvent;
    try {
      event = eventOfMessage(record.body);
    } catch (error) {
      // Not an event of ours (a test message, a changed rule): retrying cannot make it one.
      logger.error('notification message is not a billing event; dropped', {
        error,
        messageId: record.messageId,
      });
      continue;
    }
    try {
      await notifyEvent(event);
    } catch (error) {
      logger.warn('notifications of an event not finished; the message is retried', {
        error,
        eventId: event.event_id,
        receiveCount: record.attributes?.ApproximateReceiveCount,
      });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
