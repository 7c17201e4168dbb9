// Stripe emulator: paying a Checkout Session, one submission of the hosted page at a time. Card and PayPal
// settle at once (`paid`); a bank transfer completes the session `unpaid` and waits for funds; a declined
// or mistyped card answers 402 and leaves the session open for another try.
import type Stripe from 'stripe';
import { cardOutcome, normaliseCardNumber } from '../cards.ts';
import type { EmulatorContext } from '../context.ts';
import { cardError, invalidRequest, StripeApiError } from '../errors.ts';
import { unixNow } from '../ids.ts';
import type { OfferedType } from '../store.ts';
import { awaitBankTransfer } from './bank-transfers.ts';
import { expireSession, extrasOf } from './checkout-sessions.ts';
import { newCustomer } from './customers.ts';
import { invoiceCheckoutSession } from './invoices.ts';
import { idOf, requirePaymentIntent, requireSession } from './lookup.ts';
import { intentMethodOptions } from './method-options.ts';
import { createCardMethod, createCustomerBalanceMethod, createPaypalMethod } from './payment-methods.ts';
import {
  declinePayment,
  futureUsageFor,
  newPaymentIntent,
  saveMethodIfAsked,
  succeedPayment,
} from './payments.ts';

/** What the hosted page submits (or `control.completeCheckout` passes). */
export type CheckoutSubmission = {
  payment_method: 'card' | 'paypal' | 'bank_transfer';
  card_number?: string;
  exp_month?: number;
  exp_year?: number;
  paypal_email?: string;
  email?: string;
};

const pageMethods: Record<CheckoutSubmission['payment_method'], OfferedType> = {
  card: 'card',
  paypal: 'paypal',
  bank_transfer: 'customer_balance',
};

/** The session's PaymentIntent, created on the first attempt from the session's `payment_intent_data`. */
function intentOf(ctx: EmulatorContext, session: Stripe.Checkout.Session): Stripe.PaymentIntent {
  const existing = idOf(session.payment_intent);
  if (existing) return requirePaymentIntent(ctx, existing);
  const extras = extrasOf(ctx, session.id);
  const currency = session.currency ?? 'usd';
  const intent = newPaymentIntent(ctx, {
    amount: session.amount_total ?? 0,
    currency,
    customer: idOf(session.customer),
    description: extras.paymentIntentData.description,
    metadata: { ...extras.paymentIntentData.metadata },
    paymentMethodTypes: [...extras.offered],
    automaticPaymentMethods: false,
    paymentMethodOptions: intentMethodOptions(extras.methodOptions, extras.offered, currency),
    setupFutureUsage: extras.paymentIntentData.setupFutureUsage,
    receiptEmail: extras.paymentIntentData.receiptEmail,
    statementDescriptor: null,
  });
  session.payment_intent = intent.id;
  return intent;
}

/** Checkout creates a customer when the payment needs one (saving the method, a bank transfer). */
function ensureCustomer(
  ctx: EmulatorContext,
  session: Stripe.Checkout.Session,
  intent: Stripe.PaymentIntent,
  email: string | null,
): void {
  if (session.customer) return;
  const customer = newCustomer(ctx, { email });
  session.customer = customer.id;
  intent.customer = customer.id;
}

function needsCustomer(
  session: Stripe.Checkout.Session,
  intent: Stripe.PaymentIntent,
  type: OfferedType,
): boolean {
  // An invoice needs a customer to be made out to.
  if (
    session.customer_creation === 'always' ||
    session.invoice_creation?.enabled ||
    type === 'customer_balance'
  )
    return true;
  const usage = futureUsageFor(intent, type);
  return usage === 'off_session' || usage === 'on_session';
}

function complete(
  ctx: EmulatorContext,
  session: Stripe.Checkout.Session,
  paymentStatus: 'paid' | 'unpaid',
  email: string | null,
): void {
  const customer = session.customer ? ctx.store.customers.get(idOf(session.customer)!) : undefined;
  session.status = 'complete';
  session.payment_status = paymentStatus;
  session.customer_details = {
    address: null,
    business_name: null,
    email: customer?.email ?? session.customer_email ?? email,
    individual_name: null,
    name: customer?.name ?? null,
    phone: null,
    tax_exempt: 'none',
    tax_ids: [],
  };
  // Stripe makes the invoice once the payment succeeds, before the session completes.
  if (paymentStatus === 'paid') invoiceCheckoutSession(ctx, session, extrasOf(ctx, session.id).lineItems);
  ctx.events.emit('checkout.session.completed', session);
}

/**
 * One submission of the hosted page. Card and PayPal payments settle at once (`paid`); a bank transfer
 * completes the session `unpaid` and waits for funds; a declined or mistyped card throws a 402 and leaves
 * the session open.
 */
export function payCheckoutSession(
  ctx: EmulatorContext,
  sessionId: string,
  submission: CheckoutSubmission,
): Stripe.Checkout.Session {
  const session = requireSession(ctx, sessionId);
  if (session.status === 'open' && session.expires_at <= unixNow()) expireSession(ctx, sessionId);
  if (session.status !== 'open') {
    throw new StripeApiError(409, {
      type: 'invalid_request_error',
      code: 'checkout_session_not_open',
      message: `This Checkout Session is ${session.status === 'expired' ? 'expired' : 'already complete'}.`,
    });
  }
  const extras = extrasOf(ctx, sessionId);
  const type = pageMethods[submission.payment_method];
  if (!type || !extras.offered.includes(type)) {
    throw invalidRequest(`This Checkout Session does not offer ${submission.payment_method}.`, {
      param: 'payment_method',
    });
  }
  const email = submission.email?.trim() || null;
  if (type === 'card') {
    const number = normaliseCardNumber(submission.card_number ?? '');
    const outcome = cardOutcome(number);
    // A mistyped number never leaves the page on Stripe: no intent, no charge.
    if (outcome.kind === 'invalid') throw cardError(outcome.decline);
    const intent = intentOf(ctx, session);
    const method = createCardMethod(ctx, {
      number,
      expMonth: submission.exp_month ?? 12,
      expYear: submission.exp_year ?? new Date(unixNow() * 1000).getUTCFullYear() + 3,
      behaviour: outcome.kind === 'pays' ? outcome.later : 'succeeds',
      email,
    });
    if (outcome.kind === 'declined') throw declinePayment(ctx, intent, method, outcome.decline);
    if (needsCustomer(session, intent, type)) ensureCustomer(ctx, session, intent, email);
    saveMethodIfAsked(ctx, intent, method);
    succeedPayment(ctx, intent, method, { authenticated: outcome.authenticated });
    complete(ctx, session, 'paid', email);
    return session;
  }
  const intent = intentOf(ctx, session);
  if (needsCustomer(session, intent, type)) ensureCustomer(ctx, session, intent, email);
  if (type === 'paypal') {
    const method = createPaypalMethod(ctx, submission.paypal_email?.trim() || email || 'buyer@example.com');
    saveMethodIfAsked(ctx, intent, method);
    succeedPayment(ctx, intent, method);
    complete(ctx, session, 'paid', email);
    return session;
  }
  awaitBankTransfer(ctx, intent, createCustomerBalanceMethod(ctx), extras.bankTransferType);
  complete(ctx, session, 'unpaid', email);
  return session;
}

/** `success_url` with `{CHECKOUT_SESSION_ID}` filled in, as Stripe redirects. */
export function successRedirect(session: Stripe.Checkout.Session): string | null {
  return session.success_url?.replaceAll('{CHECKOUT_SESSION_ID}', session.id) ?? null;
}
