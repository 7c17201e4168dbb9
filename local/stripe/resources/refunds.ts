// Stripe emulator: Refunds, full or partial, of a charge or of a PaymentIntent's charge. Each one updates
// the charge (`amount_refunded`, `refunded`) and emits `refund.created` and `charge.refunded` (the charge).
import type Stripe from 'stripe';
import type { EmulatorContext } from '../context.ts';
import { invalidRequest } from '../errors.ts';
import { mergeMetadata, type ParamReader } from '../form.ts';
import { newId, unixNow } from '../ids.ts';
import { idOf, requireCharge, requirePaymentIntent } from './lookup.ts';

function money(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

function chargeToRefund(ctx: EmulatorContext, params: ParamReader): Stripe.Charge {
  const chargeId = params.string('charge');
  const intentId = params.string('payment_intent');
  if (!chargeId && !intentId) {
    throw invalidRequest('One of `charge` or `payment_intent` is required.', { code: 'parameter_missing' });
  }
  if (intentId) {
    const intent = requirePaymentIntent(ctx, intentId, 'payment_intent');
    const latest = idOf(intent.latest_charge);
    if (intent.status !== 'succeeded' || !latest) {
      throw invalidRequest(`This PaymentIntent (${intentId}) does not have a successful charge to refund.`, {
        param: 'payment_intent',
        code: 'charge_not_refundable',
      });
    }
    if (chargeId && chargeId !== latest) {
      throw invalidRequest(`Charge ${chargeId} does not belong to PaymentIntent ${intentId}.`, {
        param: 'charge',
      });
    }
    return requireCharge(ctx, latest, 'payment_intent');
  }
  return requireCharge(ctx, chargeId!, 'charge');
}

export function createRefund(ctx: EmulatorContext, params: ParamReader): Stripe.Refund {
  params.allow<Stripe.RefundCreateParams>(['charge', 'payment_intent', 'amount', 'reason', 'metadata']);
  const charge = chargeToRefund(ctx, params);
  if (charge.status !== 'succeeded') {
    throw invalidRequest(`Charge ${charge.id} did not succeed; there is nothing to refund.`, {
      code: 'charge_not_refundable',
    });
  }
  if (charge.disputed) {
    throw invalidRequest(`Charge ${charge.id} has been charged back; cannot issue a refund.`, {
      code: 'charge_disputed',
    });
  }
  const refundable = charge.amount - charge.amount_refunded;
  if (refundable === 0) {
    throw invalidRequest(`Charge ${charge.id} has already been refunded.`, {
      code: 'charge_already_refunded',
    });
  }
  const amount = params.integer('amount', { min: 1 }) ?? refundable;
  if (amount > refundable) {
    throw invalidRequest(
      `Refund amount (${money(amount, charge.currency)}) is greater than unrefunded amount on charge (${money(refundable, charge.currency)})`,
      { param: 'amount', code: 'amount_too_large' },
    );
  }
  const refund: Stripe.Refund = {
    id: newId('re'),
    object: 'refund',
    amount,
    balance_transaction: newId('txn'),
    charge: charge.id,
    created: unixNow(),
    currency: charge.currency,
    customer: idOf(charge.customer),
    customer_account: null,
    metadata: mergeMetadata({}, params.metadata()),
    payment_intent: idOf(charge.payment_intent),
    payment_method: charge.payment_method,
    reason: params.oneOf('reason', ['duplicate', 'fraudulent', 'requested_by_customer']) ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
  ctx.store.refunds.set(refund.id, refund);
  const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded === charge.amount;
  ctx.events.emit('refund.created', refund);
  ctx.events.emit('charge.refunded', charge, previous);
  return refund;
}

export function listRefunds(ctx: EmulatorContext, params: ParamReader): Stripe.Refund[] {
  const charge = params.string('charge');
  const intent = params.string('payment_intent');
  return [...ctx.store.refunds.values()]
    .filter(
      (refund) => (!charge || refund.charge === charge) && (!intent || refund.payment_intent === intent),
    )
    .reverse();
}
