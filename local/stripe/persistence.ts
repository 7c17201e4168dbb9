// Stripe emulator: its state as one JSON document, for `npm start` to keep across restarts: the objects,
// the emulator-only facts beside them, the event log (undelivered events are sent again) and the
// idempotency keys (a retry after a restart replays its answer instead of charging twice).
import type Stripe from 'stripe';
import * as z from 'zod/mini';
import type { SavedEvent } from './events.ts';
import type { IdempotencyEntry } from './idempotency.ts';
import { createStore, type Store } from './store.ts';

const FORMAT = 1;

const entries = z.array(z.tuple([z.string(), z.unknown()]));

const savedStateSchema = z.object({
  format: z.literal(FORMAT),
  customers: entries,
  paymentMethods: entries,
  paymentIntents: entries,
  charges: entries,
  refunds: entries,
  disputes: entries,
  sessions: entries,
  invoices: entries,
  invoiceItems: entries,
  cardBehaviour: entries,
  sessionExtras: entries,
  /** `fundAt` is `null` for a transfer funded only when told (Infinity has no JSON form). */
  pendingTransfers: z.array(
    z.tuple([z.string(), z.object({ fundAt: z.nullable(z.number()), reference: z.string() })]),
  ),
  overdueNotified: z.array(z.string()),
  events: z.array(z.object({ event: z.unknown(), payload: z.string() })),
  idempotency: z.array(
    z.object({
      key: z.string(),
      fingerprint: z.string(),
      answer: z.object({ status: z.number(), body: z.string(), requestId: z.string() }),
      expiresAt: z.number(),
    }),
  ),
});

export type SavedStripeState = z.infer<typeof savedStateSchema>;

/** Everything but `currentRequest`, which lives only while one request is handled. */
export function saveStripeState(
  store: Store,
  events: SavedEvent[],
  idempotency: IdempotencyEntry[],
): SavedStripeState {
  return {
    format: FORMAT,
    customers: [...store.customers],
    paymentMethods: [...store.paymentMethods],
    paymentIntents: [...store.paymentIntents],
    charges: [...store.charges],
    refunds: [...store.refunds],
    disputes: [...store.disputes],
    sessions: [...store.sessions],
    invoices: [...store.invoices],
    invoiceItems: [...store.invoiceItems],
    cardBehaviour: [...store.cardBehaviour],
    sessionExtras: [...store.sessionExtras],
    pendingTransfers: [...store.pendingTransfers].map(([id, pending]) => [
      id,
      { reference: pending.reference, fundAt: Number.isFinite(pending.fundAt) ? pending.fundAt : null },
    ]),
    overdueNotified: [...store.overdueNotified],
    events,
    idempotency,
  };
}

export type RestoredStripeState = {
  store: Store;
  events: SavedEvent[];
  idempotency: IdempotencyEntry[];
};

/** `undefined` when `saved` is not a state this version wrote. */
export function restoreStripeState(saved: unknown): RestoredStripeState | undefined {
  const parsed = savedStateSchema.safeParse(saved);
  if (!parsed.success) return undefined;
  const state = parsed.data;
  const store = createStore();
  // The objects are the emulator's own, written by `saveStripeState`: their shapes were checked when made.
  const fill = <V>(map: Map<string, V>, from: [string, unknown][]) => {
    for (const [id, value] of from) map.set(id, value as V);
  };
  fill(store.customers, state.customers);
  fill(store.paymentMethods, state.paymentMethods);
  fill(store.paymentIntents, state.paymentIntents);
  fill(store.charges, state.charges);
  fill(store.refunds, state.refunds);
  fill(store.disputes, state.disputes);
  fill(store.sessions, state.sessions);
  fill(store.invoices, state.invoices);
  fill(store.invoiceItems, state.invoiceItems);
  fill(store.cardBehaviour, state.cardBehaviour);
  fill(store.sessionExtras, state.sessionExtras);
  for (const [id, pending] of state.pendingTransfers) {
    store.pendingTransfers.set(id, { reference: pending.reference, fundAt: pending.fundAt ?? Infinity });
  }
  for (const id of state.overdueNotified) store.overdueNotified.add(id);
  return {
    store,
    events: state.events.map(({ event, payload }) => ({ event: event as Stripe.Event, payload })),
    idempotency: state.idempotency,
  };
}
