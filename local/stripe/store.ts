// Stripe emulator: the in-memory state. Each map holds the live Stripe objects (typed with the SDK's own
// types, serialised as they are); the emulator-only facts that Stripe keeps out of its objects (how a test
// card behaves later, what a Checkout Session offers) sit beside them.
import type Stripe from 'stripe';
import type { MethodOptions } from './resources/method-options.ts';

/** How a saved card answers later charges, decided by the test card it was created from. */
export type CardBehaviour = 'succeeds' | 'authentication_required' | 'card_declined';

/** The payment method types the emulator's hosted page can take. */
export type OfferedType = 'card' | 'paypal' | 'customer_balance';

export type SessionExtras = {
  offered: OfferedType[];
  lineItems: Stripe.LineItem[];
  paymentIntentData: {
    metadata: Record<string, string>;
    description: string | null;
    setupFutureUsage: Stripe.PaymentIntent.SetupFutureUsage | null;
    receiptEmail: string | null;
  };
  methodOptions: MethodOptions;
  bankTransferType: string;
};

/** A bank transfer awaiting funds: when it arrives on its own (clock ms; Infinity = only when told). */
export type PendingTransfer = { fundAt: number; reference: string };

export type Store = {
  customers: Map<string, Stripe.Customer>;
  paymentMethods: Map<string, Stripe.PaymentMethod>;
  paymentIntents: Map<string, Stripe.PaymentIntent>;
  charges: Map<string, Stripe.Charge>;
  refunds: Map<string, Stripe.Refund>;
  disputes: Map<string, Stripe.Dispute>;
  sessions: Map<string, Stripe.Checkout.Session>;
  invoices: Map<string, Stripe.Invoice>;
  invoiceItems: Map<string, Stripe.InvoiceItem>;
  cardBehaviour: Map<string, CardBehaviour>;
  sessionExtras: Map<string, SessionExtras>;
  /** Keyed by PaymentIntent id. */
  pendingTransfers: Map<string, PendingTransfer>;
  /** Invoices whose `invoice.overdue` was sent. */
  overdueNotified: Set<string>;
  /** The API request being handled (handlers run synchronously), recorded on the events it causes. */
  currentRequest: Stripe.Event.Request | null;
  /** Every `/v1` request received, oldest first, whatever its answer: tests count the calls a flow makes. */
  apiRequests: ApiRequestRecord[];
  /** Outages a test asked for (`control.failRequests`): matching `/v1` requests answer an error. */
  requestFailures: RequestFailure[];
};

/** `times` more `/v1` requests whose method and path match answer `status` (an `api_error`). */
export type RequestFailure = { method: string; path: RegExp; times: number; status: number };

export type ApiRequestRecord = { method: string; path: string };

export function createStore(): Store {
  return {
    customers: new Map(),
    paymentMethods: new Map(),
    paymentIntents: new Map(),
    charges: new Map(),
    refunds: new Map(),
    disputes: new Map(),
    sessions: new Map(),
    invoices: new Map(),
    invoiceItems: new Map(),
    cardBehaviour: new Map(),
    sessionExtras: new Map(),
    pendingTransfers: new Map(),
    overdueNotified: new Set(),
    currentRequest: null,
    apiRequests: [],
    requestFailures: [],
  };
}

/** The object an id names, found by its prefix: what `expand[]` replaces an id with. */
export function findById(store: Store, id: string): { id: string } | undefined {
  const prefix = id.slice(0, id.indexOf('_'));
  switch (prefix) {
    case 'cus':
      return store.customers.get(id);
    case 'pm':
      return store.paymentMethods.get(id);
    case 'pi':
      return store.paymentIntents.get(id);
    case 'ch':
      return store.charges.get(id);
    case 're':
      return store.refunds.get(id);
    case 'dp':
      return store.disputes.get(id);
    case 'cs':
      return store.sessions.get(id);
    case 'in':
      return store.invoices.get(id);
    case 'ii':
      return store.invoiceItems.get(id);
    default:
      return undefined;
  }
}
