// Stripe emulator: Charges, the record of each payment attempt a PaymentIntent makes (succeeded or
// failed); refunds and disputes update them.
import type Stripe from 'stripe';
import type { EmulatorContext } from '../context.ts';
import type { Decline } from '../errors.ts';
import { newId, randomToken, unixNow } from '../ids.ts';
import { idOf } from './lookup.ts';

function methodDetails(
  method: Stripe.PaymentMethod,
  amount: number,
  authenticated: boolean,
): Stripe.Charge.PaymentMethodDetails {
  if (method.type === 'card' && method.card) {
    const card = method.card;
    return {
      type: 'card',
      card: {
        amount_authorized: amount,
        authorization_code: randomToken(6).toUpperCase(),
        brand: card.brand,
        checks: card.checks,
        country: card.country,
        electronic_commerce_indicator: authenticated ? '05' : null,
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        fingerprint: card.fingerprint ?? null,
        funding: card.funding,
        installments: null,
        last4: card.last4,
        mandate: null,
        network: card.brand,
        network_transaction_id: randomToken(15),
        regulated_status: card.regulated_status,
        three_d_secure: authenticated
          ? {
              authentication_flow: 'challenge',
              electronic_commerce_indicator: '05',
              exemption_indicator: null,
              result: 'authenticated',
              result_reason: null,
              transaction_id: randomToken(32),
              version: '2.2.0',
            }
          : null,
        transaction_link_id: null,
        wallet: null,
      },
    };
  }
  if (method.type === 'paypal' && method.paypal) {
    return {
      type: 'paypal',
      paypal: {
        country: method.paypal.country,
        payer_email: method.paypal.payer_email,
        payer_id: method.paypal.payer_id,
        payer_name: null,
        seller_protection: { dispute_categories: null, status: 'eligible' },
        transaction_id: randomToken(17).toUpperCase(),
      },
    };
  }
  return { type: method.type, customer_balance: {} };
}

function outcomeOf(decline: Decline | undefined): Stripe.Charge.Outcome {
  if (!decline) {
    return {
      advice_code: null,
      network_advice_code: null,
      network_decline_code: null,
      network_status: 'approved_by_network',
      reason: null,
      risk_level: 'normal',
      risk_score: 20,
      seller_message: 'Payment complete.',
      type: 'authorized',
    };
  }
  return {
    advice_code: decline.decline_code === 'insufficient_funds' ? 'try_again_later' : 'do_not_try_again',
    network_advice_code: null,
    network_decline_code: null,
    network_status: 'declined_by_network',
    reason: decline.decline_code ?? decline.code,
    risk_level: 'normal',
    risk_score: 20,
    seller_message: 'The bank did not return any further details with this decline.',
    type: 'issuer_declined',
  };
}

/** A charge for one attempt of `intent` with `method`: succeeded unless `decline` says otherwise. */
export function recordCharge(
  ctx: EmulatorContext,
  intent: Stripe.PaymentIntent,
  method: Stripe.PaymentMethod,
  options: { decline?: Decline; authenticated?: boolean } = {},
): Stripe.Charge {
  const succeeded = !options.decline;
  const id = newId('ch');
  const charge: Stripe.Charge = {
    id,
    object: 'charge',
    amount: intent.amount,
    amount_captured: succeeded ? intent.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: succeeded ? newId('txn') : null,
    billing_details: structuredClone(method.billing_details),
    calculated_statement_descriptor: 'STRIPE EMULATOR',
    captured: succeeded,
    created: unixNow(),
    currency: intent.currency,
    customer: idOf(intent.customer),
    description: intent.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: options.decline?.code ?? null,
    failure_message: options.decline?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: { ...intent.metadata },
    on_behalf_of: null,
    outcome: outcomeOf(options.decline),
    paid: succeeded,
    payment_intent: intent.id,
    payment_method: method.id,
    payment_method_details: methodDetails(method, intent.amount, options.authenticated ?? false),
    receipt_email: intent.receipt_email,
    receipt_number: null,
    // Stripe's hosted receipt of a successful payment (the emulator's page: local/stripe/receipt-page.ts).
    receipt_url: succeeded ? `${ctx.baseUrl}/receipts/${id}` : null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: succeeded ? 'succeeded' : 'failed',
    transfer_data: null,
    transfer_group: null,
  };
  ctx.store.charges.set(charge.id, charge);
  ctx.events.emit(succeeded ? 'charge.succeeded' : 'charge.failed', charge);
  return charge;
}

export function listCharges(
  ctx: EmulatorContext,
  filter: { customer?: string; payment_intent?: string },
): Stripe.Charge[] {
  return [...ctx.store.charges.values()]
    .filter(
      (charge) =>
        (!filter.customer || charge.customer === filter.customer) &&
        (!filter.payment_intent || charge.payment_intent === filter.payment_intent),
    )
    .reverse();
}
