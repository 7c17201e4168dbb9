// Stripe emulator: PaymentMethods. Created by the hosted checkout page (card, PayPal, bank transfer),
// attached to a customer when the payment saves them, detached through the API, and refreshed by the card
// updater (`payment_method.automatically_updated`).
import { createHash } from 'node:crypto';
import type Stripe from 'stripe';
import type { EmulatorContext } from '../context.ts';
import { invalidRequest } from '../errors.ts';
import { newId, randomToken, unixNow } from '../ids.ts';
import type { CardBehaviour } from '../store.ts';
import { requireCustomer, requirePaymentMethod } from './lookup.ts';

const emptyAddress: Stripe.Address = {
  city: null,
  country: null,
  line1: null,
  line2: null,
  postal_code: null,
  state: null,
};

function base(type: Stripe.PaymentMethod.Type, email: string | null): Stripe.PaymentMethod {
  return {
    id: newId('pm'),
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: { address: { ...emptyAddress }, email, name: null, phone: null, tax_id: null },
    created: unixNow(),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type,
  };
}

function cardBrand(number: string): string {
  if (number.startsWith('4')) return 'visa';
  if (/^5[1-5]/.test(number)) return 'mastercard';
  if (/^3[47]/.test(number)) return 'amex';
  return 'unknown';
}

export function createCardMethod(
  ctx: EmulatorContext,
  card: { number: string; expMonth: number; expYear: number; behaviour: CardBehaviour; email: string | null },
): Stripe.PaymentMethod {
  const brand = cardBrand(card.number);
  const method: Stripe.PaymentMethod = {
    ...base('card', card.email),
    card: {
      brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
      country: 'US',
      display_brand: brand,
      exp_month: card.expMonth,
      exp_year: card.expYear,
      fingerprint: createHash('sha256').update(card.number).digest('base64url').slice(0, 16),
      funding: 'credit',
      generated_from: null,
      last4: card.number.slice(-4),
      networks: { available: [brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
  };
  ctx.store.paymentMethods.set(method.id, method);
  ctx.store.cardBehaviour.set(method.id, card.behaviour);
  return method;
}

export function createPaypalMethod(ctx: EmulatorContext, payerEmail: string): Stripe.PaymentMethod {
  const method: Stripe.PaymentMethod = {
    ...base('paypal', payerEmail),
    paypal: { country: 'US', payer_email: payerEmail, payer_id: randomToken(13).toUpperCase() },
  };
  ctx.store.paymentMethods.set(method.id, method);
  return method;
}

export function createCustomerBalanceMethod(ctx: EmulatorContext): Stripe.PaymentMethod {
  const method: Stripe.PaymentMethod = { ...base('customer_balance', null), customer_balance: {} };
  ctx.store.paymentMethods.set(method.id, method);
  return method;
}

export function attachPaymentMethod(
  ctx: EmulatorContext,
  method: Stripe.PaymentMethod,
  customerId: string,
): Stripe.PaymentMethod {
  requireCustomer(ctx, customerId, 'customer');
  if (method.customer === customerId) return method;
  if (method.customer) {
    throw invalidRequest('The payment method you provided has already been attached to a customer.', {
      code: 'payment_method_unexpected_state',
    });
  }
  method.customer = customerId;
  ctx.events.emit('payment_method.attached', method);
  return method;
}

export function detachPaymentMethod(ctx: EmulatorContext, id: string): Stripe.PaymentMethod {
  const method = requirePaymentMethod(ctx, id);
  const customerId = typeof method.customer === 'string' ? method.customer : method.customer?.id;
  if (!customerId) {
    throw invalidRequest(
      'The payment method you provided is not attached to a customer so detachment is impossible.',
      { code: 'payment_method_unexpected_state' },
    );
  }
  method.customer = null;
  const customer = ctx.store.customers.get(customerId);
  // Stripe forgets a detached method as the customer's default too.
  if (customer && customer.invoice_settings.default_payment_method === id) {
    const previous = { invoice_settings: { default_payment_method: id } };
    customer.invoice_settings.default_payment_method = null;
    ctx.events.emit('customer.updated', customer, previous);
  }
  ctx.events.emit('payment_method.detached', method, { customer: customerId });
  return method;
}

/** The card updater: the network reports a new expiry (and maybe number) for a saved card. */
export function updateCardDetails(
  ctx: EmulatorContext,
  id: string,
  update: { exp_month?: number; exp_year?: number; last4?: string },
): Stripe.PaymentMethod {
  const method = requirePaymentMethod(ctx, id);
  const card = method.card;
  if (!card) throw invalidRequest(`PaymentMethod ${id} is not a card.`);
  if (update.last4 !== undefined && !/^\d{4}$/.test(update.last4)) {
    throw invalidRequest('last4 must be four digits.', { param: 'last4' });
  }
  if (update.exp_month !== undefined && !(update.exp_month >= 1 && update.exp_month <= 12)) {
    throw invalidRequest('exp_month must be 1..12.', { param: 'exp_month' });
  }
  const previous = { card: { exp_month: card.exp_month, exp_year: card.exp_year, last4: card.last4 } };
  card.exp_month = update.exp_month ?? card.exp_month;
  card.exp_year = update.exp_year ?? (update.exp_month === undefined ? card.exp_year + 3 : card.exp_year);
  card.last4 = update.last4 ?? card.last4;
  ctx.events.emit('payment_method.automatically_updated', method, previous);
  return method;
}

export function paymentMethodsOf(
  ctx: EmulatorContext,
  customerId: string,
  type?: string,
): Stripe.PaymentMethod[] {
  return [...ctx.store.paymentMethods.values()]
    .filter((method) => method.customer === customerId && (!type || method.type === type))
    .reverse();
}
