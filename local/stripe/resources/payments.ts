// Stripe emulator: what one payment attempt does to a PaymentIntent: succeed (charge, `succeeded`), be
// declined (failed charge, back to `requires_payment_method`, a 402 for the caller) or ask for
// authentication; and saving the method for later when the intent asked for it.
import type Stripe from 'stripe';
import type { EmulatorContext } from '../context.ts';
import { cardError, type Decline, type StripeApiError } from '../errors.ts';
import { snapshot } from '../events.ts';
import { newId, randomToken, unixNow } from '../ids.ts';
import { recordCharge } from './charges.ts';
import { idOf } from './lookup.ts';
import { attachPaymentMethod } from './payment-methods.ts';

export type IntentInit = {
  amount: number;
  currency: string;
  customer: string | null;
  description: string | null;
  metadata: Record<string, string>;
  paymentMethodTypes: string[];
  automaticPaymentMethods: boolean;
  paymentMethodOptions: Stripe.PaymentIntent.PaymentMethodOptions | null;
  setupFutureUsage: Stripe.PaymentIntent.SetupFutureUsage | null;
  receiptEmail: string | null;
  statementDescriptor: string | null;
};

export function newPaymentIntent(ctx: EmulatorContext, init: IntentInit): Stripe.PaymentIntent {
  const id = newId('pi');
  const intent: Stripe.PaymentIntent = {
    id,
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: init.amount,
    amount_capturable: 0,
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: init.automaticPaymentMethods ? { enabled: true } : null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: 'automatic_async',
    client_secret: `${id}_secret_${randomToken(25)}`,
    confirmation_method: 'automatic',
    created: unixNow(),
    currency: init.currency,
    customer: init.customer,
    customer_account: null,
    description: init.description,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: init.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: null,
    payment_method_configuration_details: null,
    payment_method_options: init.paymentMethodOptions,
    payment_method_types: init.paymentMethodTypes,
    payment_record: null,
    processing: null,
    receipt_email: init.receiptEmail,
    review: null,
    setup_future_usage: init.setupFutureUsage,
    shipping: null,
    source: null,
    statement_descriptor: init.statementDescriptor,
    statement_descriptor_suffix: null,
    status: 'requires_payment_method',
    transfer_group: null,
  };
  ctx.store.paymentIntents.set(intent.id, intent);
  ctx.events.emit('payment_intent.created', intent);
  return intent;
}

/** The `setup_future_usage` that applies to `type`: per method first, then the intent's own. */
export function futureUsageFor(intent: Stripe.PaymentIntent, type: string): string | null {
  const options = intent.payment_method_options as Record<
    string,
    { setup_future_usage?: string } | undefined
  > | null;
  return options?.[type]?.setup_future_usage ?? intent.setup_future_usage ?? null;
}

/**
 * Saves the method on the intent's customer when the intent asked for it (`off_session` / `on_session`),
 * as a confirmed payment does on Stripe. Without it the method stays unattached and cannot be reused.
 */
export function saveMethodIfAsked(
  ctx: EmulatorContext,
  intent: Stripe.PaymentIntent,
  method: Stripe.PaymentMethod,
): void {
  const usage = futureUsageFor(intent, method.type);
  const customer = idOf(intent.customer);
  if (customer && (usage === 'off_session' || usage === 'on_session')) {
    attachPaymentMethod(ctx, method, customer);
  }
}

export function succeedPayment(
  ctx: EmulatorContext,
  intent: Stripe.PaymentIntent,
  method: Stripe.PaymentMethod,
  options: { authenticated?: boolean } = {},
): Stripe.PaymentIntent {
  const charge = recordCharge(ctx, intent, method, options);
  intent.status = 'succeeded';
  intent.amount_received = intent.amount;
  intent.latest_charge = charge.id;
  intent.payment_method = method.id;
  intent.last_payment_error = null;
  intent.next_action = null;
  intent.processing = null;
  ctx.events.emit('payment_intent.succeeded', intent);
  return intent;
}

/**
 * A declined attempt: a failed charge, the intent back to `requires_payment_method` with
 * `last_payment_error`, and the 402 `card_error` (with `payment_intent`) the caller answers.
 */
export function declinePayment(
  ctx: EmulatorContext,
  intent: Stripe.PaymentIntent,
  method: Stripe.PaymentMethod,
  decline: Decline,
): StripeApiError {
  const charge = recordCharge(ctx, intent, method, { decline });
  intent.status = 'requires_payment_method';
  intent.latest_charge = charge.id;
  intent.payment_method = null;
  intent.next_action = null;
  intent.last_payment_error = {
    type: 'card_error',
    code: decline.code,
    ...(decline.decline_code ? { decline_code: decline.decline_code } : {}),
    message: decline.message,
    charge: charge.id,
    doc_url: `https://docs.stripe.com/error-codes/${decline.code.replaceAll('_', '-')}`,
    payment_method: snapshot(method),
    payment_method_type: method.type,
  };
  ctx.events.emit('payment_intent.payment_failed', intent);
  return cardError(decline, {
    payment_intent: snapshot(intent),
    payment_method: snapshot(method),
    charge: charge.id,
  });
}

/** An on-session confirmation of a card that needs 3-D Secure: the customer must act (Stripe.js). */
export function requireAuthentication(
  ctx: EmulatorContext,
  intent: Stripe.PaymentIntent,
  method: Stripe.PaymentMethod,
): Stripe.PaymentIntent {
  intent.status = 'requires_action';
  intent.payment_method = method.id;
  intent.next_action = { type: 'use_stripe_sdk', use_stripe_sdk: {} };
  ctx.events.emit('payment_intent.requires_action', intent);
  return intent;
}

/** A failed PaymentIntent attempt has Stripe's "expired" shape for bank transfers that never arrived. */
export function paymentAttemptExpired(method: Stripe.PaymentMethod): Stripe.PaymentIntent.LastPaymentError {
  return {
    type: 'invalid_request_error',
    code: 'payment_intent_payment_attempt_expired',
    message: 'The bank transfer for this payment did not arrive in time.',
    payment_method: snapshot(method),
    payment_method_type: method.type,
  };
}

export function cancelIntent(
  ctx: EmulatorContext,
  intent: Stripe.PaymentIntent,
  reason: Stripe.PaymentIntent.CancellationReason | null,
): Stripe.PaymentIntent {
  intent.status = 'canceled';
  intent.canceled_at = unixNow();
  intent.cancellation_reason = reason;
  intent.next_action = null;
  ctx.store.pendingTransfers.delete(intent.id);
  ctx.events.emit('payment_intent.canceled', intent);
  return intent;
}
