// Stripe emulator: every state change becomes an Event carrying a snapshot of the object at that moment,
// kept for `GET /v1/events` and handed to the webhook dispatcher with the exact body it will sign.
import Stripe from 'stripe';
import { newId, unixNow } from './ids.ts';
import type { Store } from './store.ts';
import type { WebhookDispatcher } from './webhooks.ts';

export type EventLog = {
  emit(
    type: Stripe.Event.Type,
    object: { id: string; object: string },
    previousAttributes?: Record<string, unknown>,
  ): Stripe.Event;
  get(id: string): Stripe.Event | undefined;
  /** Oldest first. */
  all(): Stripe.Event[];
  /** Delivers an event again (Stripe's "resend"), with the body first sent. */
  resend(id: string): boolean;
  /** Calls `listener` for each event from now on; returns how to stop. */
  subscribe(listener: (event: Stripe.Event) => void): () => void;
  /** Every event with the body it was sent with, oldest first: what a restart needs to resend and replay. */
  saved(): SavedEvent[];
};

export type SavedEvent = { event: Stripe.Event; payload: string };

/** The wire form of an object: what a response or an event snapshot holds (Decimals become strings). */
export function snapshot<T>(object: T): T {
  return JSON.parse(JSON.stringify(object)) as T;
}

export function createEventLog(deps: {
  store: Store;
  dispatcher: WebhookDispatcher;
  webhookUrl: () => string | undefined;
  /** Events of an earlier run (`npm start` keeps them across restarts). */
  restored?: SavedEvent[];
}): EventLog {
  const events = new Map<string, SavedEvent>((deps.restored ?? []).map((saved) => [saved.event.id, saved]));
  const listeners = new Set<(event: Stripe.Event) => void>();

  return {
    emit(type, object, previousAttributes) {
      const base: Stripe.EventBase = {
        id: newId('evt'),
        object: 'event',
        api_version: Stripe.API_VERSION,
        created: unixNow(),
        data: {
          object: snapshot(object),
          ...(previousAttributes ? { previous_attributes: snapshot(previousAttributes) } : {}),
        },
        livemode: false,
        pending_webhooks: deps.webhookUrl() ? 1 : 0,
        request: deps.store.currentRequest
          ? { ...deps.store.currentRequest }
          : { id: null, idempotency_key: null },
        type,
      };
      // One cast: `Stripe.Event` is a union over every type, and `type` names the member this is.
      const event = base as Stripe.Event;
      // Stripe's bodies are pretty-printed; a receiver that re-serialises instead of verifying the raw body fails.
      const payload = JSON.stringify(event, null, 2);
      events.set(event.id, { event, payload });
      if (event.pending_webhooks > 0) deps.dispatcher.deliver(event.id, payload);
      for (const listener of listeners) listener(event);
      return event;
    },
    get: (id) => events.get(id)?.event,
    all: () => [...events.values()].map(({ event }) => event),
    resend(id) {
      const stored = events.get(id);
      if (!stored) return false;
      deps.dispatcher.deliver(id, stored.payload);
      return true;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    saved: () => [...events.values()],
  };
}

/** Marks an event delivered to its one endpoint, as `pending_webhooks` reports on retrieval. */
export function markDelivered(log: EventLog, eventId: string): void {
  const event = log.get(eventId);
  if (event) event.pending_webhooks = 0;
}
