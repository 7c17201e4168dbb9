// From a billing event to webhook deliveries: one delivery item per subscribed, enabled endpoint, keyed by the
// event, then its first attempt queued. Idempotent per (event, endpoint): a duplicated event finds its items
// and queues only what a failed earlier call left unqueued; it throws when anything failed, so that the
// caller (the notify worker) retries the whole call.
import { nowIso } from '../clock.ts';
import { ConflictError } from '../errors.ts';
import type { BillingEvent } from '../events/outbox.ts';
import { newUlid } from '../ids.ts';
import { deliverySortKey, markQueued, putDeliveryOnce } from './deliveries.ts';
import { getWebhookEndpoint, listWebhookEndpoints, type WebhookEndpoint } from './endpoints.ts';
import { isWebhookEventType, subscribes, TEST_EVENT_TYPE } from './event-types.ts';
import { enqueueWebhookAttempt } from './queue.ts';

/** The body every attempt sends (Standard Webhooks: type, timestamp, data). */
export function webhookPayload(event: BillingEvent | TestEvent): string {
  const { type, at, ...data } = event;
  return JSON.stringify({ type, timestamp: at, data });
}

type TestEvent = {
  event_id: string;
  type: typeof TEST_EVENT_TYPE;
  account_id: string;
  at: string;
  endpoint_id: string;
};

async function queueDelivery(endpoint: WebhookEndpoint, event: BillingEvent | TestEvent): Promise<void> {
  const sortKey = deliverySortKey(event.at, event.event_id);
  const put = await putDeliveryOnce(
    {
      account_id: endpoint.account_id,
      endpoint_id: endpoint.id,
      id: event.event_id,
      event_type: event.type,
      payload: webhookPayload(event),
      status: 'pending',
      attempts: 0,
      attempts_recorded: 0,
      log: [],
      created_at: nowIso(),
    },
    sortKey,
  );
  if (
    !put.created &&
    (put.existing.queued || put.existing.attempts > 0 || put.existing.status !== 'pending')
  ) {
    return;
  }
  await enqueueWebhookAttempt({
    account_id: endpoint.account_id,
    endpoint_id: endpoint.id,
    delivery: sortKey,
    attempt: 1,
    not_before: nowIso(),
  });
  await markQueued(endpoint.id, sortKey);
}

export async function queueWebhookDeliveries(event: BillingEvent): Promise<void> {
  if (!isWebhookEventType(event.type)) return;
  const endpoints = (await listWebhookEndpoints(event.account_id)).filter(
    (endpoint) => endpoint.status === 'enabled' && subscribes(endpoint.events, event.type),
  );
  const results = await Promise.allSettled(endpoints.map((endpoint) => queueDelivery(endpoint, event)));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
  if (failures.length > 0) {
    throw new AggregateError(
      failures,
      `${failures.length} webhook deliveries of ${event.event_id} not queued`,
    );
  }
}

/** "Send test event": a `webhook.test` event delivered to this endpoint only. Answers its webhook-id. */
export async function queueTestDelivery(accountId: string, endpointId: string): Promise<{ id: string }> {
  const endpoint = await getWebhookEndpoint(accountId, endpointId);
  if (endpoint.status !== 'enabled') {
    throw new ConflictError('webhook_endpoint_disabled', 'This webhook endpoint is disabled');
  }
  const event: TestEvent = {
    event_id: `evt_${newUlid()}`,
    type: TEST_EVENT_TYPE,
    account_id: accountId,
    at: nowIso(),
    endpoint_id: endpointId,
  };
  await queueDelivery(endpoint, event);
  return { id: event.event_id };
}
