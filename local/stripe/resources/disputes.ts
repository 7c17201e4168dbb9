// Stripe emulator: Disputes. Opened only by a test control (a cardholder's bank does it on Stripe), then
// accepted through the API (`disputes.close`, lost) or decided by a test control (won or lost).
import type Stripe from 'stripe';
import type { EmulatorContext } from '../context.ts';
import { invalidRequest } from '../errors.ts';
import { newId, unixNow } from '../ids.ts';
import { idOf, requireCharge, requireDispute } from './lookup.ts';

const DAY = 86_400;
/** Stripe's largest amount in the smallest currency unit. */
const MAX_AMOUNT = 99_999_999;

const evidence: Stripe.Dispute.Evidence = {
  access_activity_log: null,
  billing_address: null,
  cancellation_policy: null,
  cancellation_policy_disclosure: null,
  cancellation_rebuttal: null,
  customer_communication: null,
  customer_email_address: null,
  customer_name: null,
  customer_purchase_ip: null,
  customer_signature: null,
  duplicate_charge_documentation: null,
  duplicate_charge_explanation: null,
  duplicate_charge_id: null,
  enhanced_evidence: {},
  product_description: null,
  receipt: null,
  refund_policy: null,
  refund_policy_disclosure: null,
  refund_refusal_explanation: null,
  service_date: null,
  service_documentation: null,
  shipping_address: null,
  shipping_carrier: null,
  shipping_date: null,
  shipping_documentation: null,
  shipping_tracking_number: null,
  uncategorized_file: null,
  uncategorized_text: null,
};

function methodDetails(charge: Stripe.Charge): Stripe.Dispute.PaymentMethodDetails {
  const details = charge.payment_method_details;
  if (details?.paypal) return { type: 'paypal', paypal: { case_id: newId('PP'), reason_code: null } };
  const brand = details?.card?.brand ?? 'visa';
  return {
    type: 'card',
    card: { brand, case_type: 'chargeback', network: brand, network_reason_code: '10.4' },
  };
}

export function openDispute(
  ctx: EmulatorContext,
  chargeId: string,
  options: { amount?: number; reason?: string } = {},
): Stripe.Dispute {
  const charge = requireCharge(ctx, chargeId);
  if (charge.status !== 'succeeded')
    throw invalidRequest(`Charge ${chargeId} did not succeed; it cannot be disputed.`);
  if (charge.disputed) throw invalidRequest(`Charge ${chargeId} is already disputed.`);
  if (charge.payment_method_details?.type === 'customer_balance') {
    throw invalidRequest('Bank transfers cannot be disputed.');
  }
  // The bank names the amount. Usually what is left after refunds, but Stripe's docs say it can differ
  // (currency fluctuation, part of an order): a given amount may exceed the charge, as on Stripe.
  const amount = options.amount ?? charge.amount - charge.amount_refunded;
  if (!Number.isSafeInteger(amount) || amount < 1 || amount > MAX_AMOUNT) {
    throw invalidRequest(`amount must be between 1 and ${MAX_AMOUNT}.`, { param: 'amount' });
  }
  const created = unixNow();
  const dispute: Stripe.Dispute = {
    id: newId('dp'),
    object: 'dispute',
    amount,
    balance_transactions: [],
    charge: charge.id,
    created,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: structuredClone(evidence),
    evidence_details: {
      due_by: created + 7 * DAY,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
      submission_method: 'not_submitted',
    },
    intended_submission_method: null,
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    payment_intent: idOf(charge.payment_intent),
    payment_method_details: methodDetails(charge),
    reason: options.reason ?? 'fraudulent',
    status: 'needs_response',
  };
  ctx.store.disputes.set(dispute.id, dispute);
  charge.disputed = true;
  ctx.events.emit('charge.dispute.created', dispute);
  ctx.events.emit('charge.dispute.funds_withdrawn', dispute);
  return dispute;
}

/** Ends a dispute: `won` returns the funds (`charge.dispute.funds_reinstated`), `lost` keeps them away. */
export function decideDispute(ctx: EmulatorContext, id: string, status: 'won' | 'lost'): Stripe.Dispute {
  const dispute = requireDispute(ctx, id);
  if (dispute.status === 'won' || dispute.status === 'lost') {
    throw invalidRequest(`Dispute ${id} is already closed (${dispute.status}).`);
  }
  const previous = { status: dispute.status };
  dispute.status = status;
  ctx.events.emit('charge.dispute.closed', dispute, previous);
  if (status === 'won') ctx.events.emit('charge.dispute.funds_reinstated', dispute);
  return dispute;
}

export function listDisputes(
  ctx: EmulatorContext,
  filter: { charge?: string; payment_intent?: string },
): Stripe.Dispute[] {
  return [...ctx.store.disputes.values()]
    .filter(
      (dispute) =>
        (!filter.charge || dispute.charge === filter.charge) &&
        (!filter.payment_intent || dispute.payment_intent === filter.payment_intent),
    )
    .reverse();
}
