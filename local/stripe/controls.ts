// Stripe emulator: test controls, for the things only the outside world does on Stripe (a cardholder
// disputes, a bank transfer arrives, the card network updates a card, an event is resent). The same
// operations are offered over HTTP (`/__emulator/*`, local only, no key) and as functions.
import type { IncomingMessage } from 'node:http';
import type Stripe from 'stripe';
import type { EmulatorContext } from './context.ts';
import { invalidRequest, resourceMissing, StripeApiError } from './errors.ts';
import { snapshot } from './events.ts';
import { ParamReader } from './form.ts';
import { type Answer, json, parseLooseBody } from './http.ts';
import { failBankTransfer, fundPaymentIntent } from './resources/bank-transfers.ts';
import {
  type CheckoutSubmission,
  payCheckoutSession,
  successRedirect,
} from './resources/checkout-payments.ts';
import { decideDispute, openDispute } from './resources/disputes.ts';
import { settleInvoiceOnPage } from './resources/invoices.ts';
import { updateCardDetails } from './resources/payment-methods.ts';
import type { ApiRequestRecord } from './store.ts';
import type { DeliveryAttempt, WebhookDispatcher } from './webhooks.ts';

export type CheckoutCompletion = {
  session: Stripe.Checkout.Session;
  /** `success_url` with the session id filled in, where the page would redirect. */
  redirect: string | null;
};

export type StripeEmulatorControl = {
  /** Submits the hosted page without HTTP; throws the page's 402/409 as a `StripeApiError`. */
  completeCheckout(sessionId: string, submission: CheckoutSubmission): CheckoutCompletion;
  /** The cardholder disputes a charge: `charge.dispute.created` (and `funds_withdrawn`). */
  dispute(chargeId: string, options?: { amount?: number; reason?: string }): Stripe.Dispute;
  /** The bank decides a dispute: `charge.dispute.closed` (and `funds_reinstated` when won). */
  closeDispute(disputeId: string, status: 'won' | 'lost'): Stripe.Dispute;
  /** A bank transfer arrives now: all that remains, or `amount` of it (`payment_intent.partially_funded`). */
  fund(paymentIntentId: string, amount?: number): Stripe.PaymentIntent;
  /** A bank transfer never arrives: `payment_intent.payment_failed`, `checkout.session.async_payment_failed`. */
  failFunding(paymentIntentId: string): Stripe.PaymentIntent;
  /** The card updater: new expiry (default: three more years) or last4, `payment_method.automatically_updated`. */
  updateCard(
    paymentMethodId: string,
    update?: { exp_month?: number; exp_year?: number; last4?: string },
  ): Stripe.PaymentMethod;
  /** The customer pays an open invoice on its hosted page. */
  payInvoice(invoiceId: string): Stripe.Invoice;
  /** Delivers an event again, with the body first sent. */
  resend(eventId: string): void;
  /** Every event so far, oldest first (optionally of one type). */
  events(type?: string): Stripe.Event[];
  /** The first event (past or future) of `type` that `match` accepts. */
  waitForEvent(
    type: string,
    options?: { match?: (event: Stripe.Event) => boolean; timeoutMs?: number },
  ): Promise<Stripe.Event>;
  /** Every webhook delivery attempt so far (optionally for one event). */
  deliveries(eventId?: string): DeliveryAttempt[];
  /** Every API request received so far (`/v1/*`, any answer), oldest first. */
  apiRequests(): ApiRequestRecord[];
  /**
   * An outage: the next `times` `/v1` requests with this method and a path matching `path` answer
   * `status` (default 500, which the SDK retries) with an `api_error`, before any other check.
   */
  failRequests(rule: { method: 'GET' | 'POST'; path: RegExp; times: number; status?: number }): void;
  /** Resolves once no webhook delivery is in flight or waiting for a retry. */
  idle(): Promise<void>;
  /** Does time-driven work now: expire due sessions, fund due transfers, report overdue invoices. */
  runDue(): void;
};

export function createControl(
  ctx: EmulatorContext,
  dispatcher: WebhookDispatcher,
  runDue: () => void,
): StripeEmulatorControl {
  return {
    completeCheckout(sessionId, submission) {
      runDue();
      const session = payCheckoutSession(ctx, sessionId, submission);
      return { session: snapshot(session), redirect: successRedirect(session) };
    },
    dispute: (chargeId, options) => snapshot(openDispute(ctx, chargeId, options)),
    closeDispute: (disputeId, status) => snapshot(decideDispute(ctx, disputeId, status)),
    fund: (paymentIntentId, amount) => snapshot(fundPaymentIntent(ctx, paymentIntentId, amount)),
    failFunding: (paymentIntentId) => snapshot(failBankTransfer(ctx, paymentIntentId)),
    updateCard: (paymentMethodId, update = {}) => snapshot(updateCardDetails(ctx, paymentMethodId, update)),
    payInvoice: (invoiceId) => snapshot(settleInvoiceOnPage(ctx, invoiceId)),
    failRequests: (rule) => {
      ctx.store.requestFailures.push({ ...rule, status: rule.status ?? 500 });
    },
    resend(eventId) {
      if (!ctx.events.resend(eventId)) throw resourceMissing('event', eventId);
    },
    events: (type) =>
      ctx.events
        .all()
        .filter((event) => !type || event.type === type)
        .map(snapshot),
    waitForEvent(type, options = {}) {
      const accepts = (event: Stripe.Event) => event.type === type && (options.match?.(event) ?? true);
      const existing = ctx.events.all().find(accepts);
      if (existing) return Promise.resolve(snapshot(existing));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          unsubscribe();
          reject(new Error(`No ${type} event within ${options.timeoutMs ?? 5000}ms`));
        }, options.timeoutMs ?? 5000);
        const unsubscribe = ctx.events.subscribe((event) => {
          if (!accepts(event)) return;
          clearTimeout(timer);
          unsubscribe();
          resolve(snapshot(event));
        });
      });
    },
    deliveries: (eventId) =>
      dispatcher.attempts().filter((attempt) => !eventId || attempt.event_id === eventId),
    apiRequests: () => ctx.store.apiRequests.map((request) => ({ ...request })),
    idle: () => dispatcher.idle(),
    runDue,
  };
}

/** `/__emulator/*` over HTTP: JSON or form bodies, JSON answers, Stripe-shaped errors. */
export function serveControls(
  control: StripeEmulatorControl,
  request: IncomingMessage,
  url: URL,
  body: string,
): Answer | undefined {
  if (!url.pathname.startsWith('/__emulator/')) return undefined;
  const path = url.pathname.slice('/__emulator'.length);
  const method = request.method ?? 'GET';
  try {
    const fields = new ParamReader(parseLooseBody(request, body));
    const id = (pattern: RegExp) => {
      const found = pattern.exec(path)?.[1];
      return found === undefined ? undefined : decodeURIComponent(found);
    };
    if (method === 'GET' && path === '/events') {
      return json(200, { object: 'list', data: control.events(url.searchParams.get('type') ?? undefined) });
    }
    if (method === 'GET' && path === '/api_requests') {
      return json(200, { object: 'list', data: control.apiRequests() });
    }
    if (method === 'GET' && path === '/deliveries') {
      return json(200, {
        object: 'list',
        data: control.deliveries(url.searchParams.get('event') ?? undefined),
      });
    }
    if (method !== 'POST')
      throw invalidRequest(`Unknown test control: ${method} ${url.pathname}`, { status: 404 });
    if (path === '/run_due') {
      control.runDue();
      return json(200, { ok: true });
    }
    let target = id(/^\/charges\/([^/]+)\/dispute$/);
    if (target) {
      const amount = fields.integer('amount', { min: 1 });
      const reason = fields.string('reason');
      return json(
        200,
        control.dispute(target, { ...(amount ? { amount } : {}), ...(reason ? { reason } : {}) }),
      );
    }
    target = id(/^\/disputes\/([^/]+)\/close$/);
    if (target)
      return json(200, control.closeDispute(target, fields.oneOf('status', ['won', 'lost']) ?? 'lost'));
    target = id(/^\/payment_intents\/([^/]+)\/fund$/);
    if (target) return json(200, control.fund(target, fields.integer('amount', { min: 1 })));
    target = id(/^\/payment_intents\/([^/]+)\/fail_funding$/);
    if (target) return json(200, control.failFunding(target));
    target = id(/^\/payment_methods\/([^/]+)\/update_card$/);
    if (target) {
      const update: { exp_month?: number; exp_year?: number; last4?: string } = {};
      const month = fields.integer('exp_month');
      const year = fields.integer('exp_year');
      const last4 = fields.string('last4');
      if (month !== undefined) update.exp_month = month;
      if (year !== undefined) update.exp_year = year;
      if (last4 !== undefined) update.last4 = last4;
      return json(200, control.updateCard(target, update));
    }
    target = id(/^\/invoices\/([^/]+)\/pay$/);
    if (target) return json(200, control.payInvoice(target));
    target = id(/^\/events\/([^/]+)\/resend$/);
    if (target) {
      control.resend(target);
      return json(200, { resent: target });
    }
    throw invalidRequest(`Unknown test control: ${method} ${url.pathname}`, { status: 404 });
  } catch (error) {
    if (error instanceof StripeApiError) return json(error.status, { error: error.body });
    throw error;
  }
}
