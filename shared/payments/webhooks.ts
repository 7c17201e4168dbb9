// Stripe webhooks: verify the signature on the exact raw body, then route each event type to the
// fulfilment step that re-reads the object it names. Handlers are safe to run any number of times, in any
// order; an event type we do not act on is acknowledged and ignored.
import type Stripe from 'stripe';
import { suspend } from '../auto-refill/store.ts';
import { nowMs } from '../clock.ts';
import { DomainError } from '../errors.ts';
import { billingEvent } from '../events/outbox.ts';
import { logger } from '../observability/powertools.ts';
import { handleInvoiceEvent, invoiceEventTypes } from '../postpaid/lifecycle.ts';
import {
  applyDispute,
  applyRefunds,
  type FulfilOutcome,
  failCheckoutSession,
  fulfilCheckoutSession,
  fulfilPaymentIntent,
} from './fulfilment.ts';
import {
  accountOfPaymentMethod,
  describeMethod,
  forgetPaymentMethod,
  refreshPaymentMethod,
} from './payment-methods.ts';
import { type Purchase, purchaseNamedBySession } from './purchases.ts';
import { ignoreUnknown, reread } from './refusals.ts';
import { stripe, webhookSecret } from './stripe-client.ts';

export class InvalidSignatureError extends DomainError {
  override readonly name = 'InvalidSignatureError';
  readonly status = 400;
  readonly code = 'invalid_signature';
  constructor(options?: ErrorOptions) {
    super('The Stripe signature is missing, invalid or too old', options);
  }
}

/** Stripe's default tolerance: a signature older than five minutes is refused (replay protection). */
const TOLERANCE_SECONDS = 300;

export async function verifiedEvent(rawBody: Buffer, signature: string | undefined): Promise<Stripe.Event> {
  if (!signature) throw new InvalidSignatureError();
  try {
    return (await stripe()).webhooks.constructEvent(
      rawBody,
      signature,
      await webhookSecret(),
      TOLERANCE_SECONDS,
      undefined,
      // Milliseconds on the one clock, so a moved local clock and the emulator's timestamps agree.
      nowMs(),
    );
  } catch (error) {
    throw new InvalidSignatureError({ cause: error });
  }
}

/** A handler's word for an object that is not ours ('not_ours') or money it refused ('refused'). */
type Handler = (object: { id: string }, event: Stripe.Event) => Promise<unknown>;

/**
 * Session events are matched against a stored purchase before any Stripe call: a session this deployment
 * never opened (another deployment on the same Stripe account, a test) is acknowledged and ignored.
 */
function forPurchase(follow: (purchase: Purchase, sessionId: string) => Promise<FulfilOutcome>): Handler {
  return async (session) => {
    const purchase = await purchaseNamedBySession(session as Stripe.Checkout.Session);
    if (!purchase)
      return ignoreUnknown('checkout_session', session.id, 'no stored purchase has this session');
    return follow(purchase, session.id);
  };
}

/** An invoice Checkout made for a purchase: it names the purchase and no postpaid period. */
function isPurchaseInvoice(invoice: Stripe.Invoice): boolean {
  return Boolean(invoice.metadata?.purchase_id) && !invoice.metadata?.period;
}

const handlers: Record<string, Handler> = {
  'checkout.session.completed': forPurchase(fulfilCheckoutSession),
  'checkout.session.async_payment_succeeded': forPurchase(fulfilCheckoutSession),
  'checkout.session.async_payment_failed': forPurchase(failCheckoutSession),
  'checkout.session.expired': forPurchase(fulfilCheckoutSession),
  'payment_intent.succeeded': (intent) => fulfilPaymentIntent(intent.id),
  'payment_intent.partially_funded': async (intent) => {
    // Not paid yet: the purchase stays pending until the transfer is complete (payment_intent.succeeded).
    logger.info('bank transfer partially funded', { payment_intent: intent.id });
  },
  // Only the ids are read from these bodies: the refunds and the dispute are re-read from Stripe.
  'charge.refunded': async (charge) => (await applyRefunds(charge.id)).outcome,
  'charge.dispute.created': (dispute) => applyDispute(dispute.id),
  'payment_method.detached': async (method) => {
    const accountId = await accountOfPaymentMethod(method.id);
    if (!accountId) return ignoreUnknown('payment_method', method.id, 'no account saved it');
    if (!(await forgetPaymentMethod(accountId, method.id))) return;
    // Auto-refill cannot charge a method that is gone: suspend it until a new one is saved.
    const reason = 'the payment method on file was removed';
    await suspend(accountId, reason, billingEvent('credits.auto_refill.suspended', accountId, { reason }));
  },
  'payment_method.automatically_updated': async (method, event) => {
    const accountId = await accountOfPaymentMethod(method.id);
    if (!accountId) return ignoreUnknown('payment_method', method.id, 'no account saved it');
    const current = await reread('payment_method', method.id, async () =>
      (await stripe()).paymentMethods.retrieve(method.id),
    );
    if (!current) return 'not_ours';
    await refreshPaymentMethod(accountId, describeMethod(current, event.created));
  },
  // Postpaid invoices: each event re-reads the invoice and records its current state (shared/postpaid).
  // A purchase's own invoice (Checkout's `invoice_creation`, already paid) has nothing to record there:
  // acknowledged without a Stripe call, and not counted as unknown (it is ours).
  ...Object.fromEntries(
    invoiceEventTypes.map((type): [string, Handler] => [
      type,
      async (invoice, event) =>
        isPurchaseInvoice(invoice as Stripe.Invoice) ? 'not_ours' : handleInvoiceEvent(invoice.id, event),
    ]),
  ),
};

/**
 * `ignored`: a type we do not act on, or an object this deployment never created or Stripe does not know;
 * `refused`: money not in USD. Both change nothing and are acknowledged (2xx), so Stripe stops retrying.
 */
export async function handleEvent(event: Stripe.Event): Promise<'handled' | 'ignored' | 'refused'> {
  const handler = handlers[event.type];
  if (!handler) return 'ignored';
  const result = await handler(event.data.object as { id: string }, event);
  if (result === 'not_ours') return 'ignored';
  if (result === 'refused') return 'refused';
  return 'handled';
}

export const handledEventTypes = Object.keys(handlers);
