// Turning Stripe's payment facts into credits, exactly once per PaymentIntent (and once per refund and per
// dispute), whatever arrives first (webhook, redirect, poll), how often, and in which order. Every path
// re-reads the object from Stripe and acts on its current state; the ledger's permanent reference guard
// (`stripe:pi:…`) makes the credit itself exactly-once.
import type Stripe from 'stripe';
import { reactivate } from '../auto-refill/store.ts';
import { nowIso } from '../clock.ts';
import { publish } from '../events/bus.ts';
import { newUlid } from '../ids.ts';
import { applyCredit } from '../ledger/ledger.ts';
import { fromCents, negate, toWire } from '../money.ts';
import { logger } from '../observability/powertools.ts';
import { describeMethod, rememberPaymentMethod } from './payment-methods.ts';
import { advancePurchase } from './purchases.ts';
import { stripe } from './stripe-client.ts';

function idOf(value: string | { id: string } | null | undefined): string | undefined {
  if (!value) return undefined;
  return typeof value === 'string' ? value : value.id;
}

function paymentMethodType(intent: Stripe.PaymentIntent): string | undefined {
  const method = intent.payment_method;
  if (method && typeof method !== 'string') return method.type;
  return intent.payment_method_types?.[0];
}

export type FulfilOutcome = 'credited' | 'already_credited' | 'not_paid' | 'not_ours';

/** Credits a succeeded PaymentIntent once; records the purchase as paid and the saved method on file. */
export async function fulfilPaymentIntent(paymentIntentId: string): Promise<FulfilOutcome> {
  const intent = await (await stripe()).paymentIntents.retrieve(paymentIntentId, {
    expand: ['payment_method'],
  });
  const accountId = intent.metadata?.account_id;
  if (!accountId) return 'not_ours';
  if (intent.status !== 'succeeded') return 'not_paid';
  const amount = fromCents(intent.amount_received);
  const at = nowIso();
  const outcome = await applyCredit({
    accountId,
    entryId: newUlid(),
    type: intent.metadata.refill_id ? 'auto_refill' : 'purchase',
    amount,
    at,
    reason: intent.metadata.purchase_id ? 'Credit purchase' : 'Automatic refill',
    guard: { reference: `stripe:pi:${intent.id}` },
  });
  const methodType = paymentMethodType(intent);
  const purchaseId = intent.metadata.purchase_id;
  if (purchaseId) {
    await advancePurchase(accountId, purchaseId, 'paid', at, {
      payment_intent_id: intent.id,
      credited_at: at,
      ...(methodType ? { payment_method_type: methodType } : {}),
    });
  }
  // A method saved for later (setup_future_usage) ends up attached to the customer: that is the one on file.
  const method = intent.payment_method;
  if (method && typeof method !== 'string' && method.customer && !intent.metadata.refill_id) {
    if (await rememberPaymentMethod(accountId, describeMethod(method, intent.created)))
      await reactivate(accountId);
  }
  if (outcome.status === 'applied') {
    await publish('credits.purchase.succeeded', accountId, {
      amount: toWire(amount),
      payment_intent: intent.id,
      ...(purchaseId ? { purchase_id: purchaseId } : {}),
      ...(methodType ? { payment_method_type: methodType } : {}),
      entry_id: outcome.entry.entry_id,
    });
    return 'credited';
  }
  return 'already_credited';
}

/** Follows a Checkout Session to its current outcome: credit when paid, record expiry or async failure. */
export async function fulfilCheckoutSession(sessionId: string): Promise<FulfilOutcome> {
  const session = await (await stripe()).checkout.sessions.retrieve(sessionId);
  const accountId = session.metadata?.account_id;
  const purchaseId = session.metadata?.purchase_id;
  if (!accountId || !purchaseId) return 'not_ours';
  const intentId = idOf(session.payment_intent);
  if (session.payment_status === 'paid' && intentId) return fulfilPaymentIntent(intentId);
  if (session.status === 'expired') {
    await advancePurchase(accountId, purchaseId, 'expired', nowIso());
    return 'not_paid';
  }
  if (intentId) {
    const intent = await (await stripe()).paymentIntents.retrieve(intentId);
    // A delayed method (bank transfer) that can no longer succeed: the purchase failed.
    if (
      intent.status === 'canceled' ||
      (session.status === 'complete' && intent.status === 'requires_payment_method')
    ) {
      await markFailed(accountId, purchaseId, intent.last_payment_error?.message ?? 'payment failed');
    }
  }
  return 'not_paid';
}

async function markFailed(accountId: string, purchaseId: string, reason: string): Promise<void> {
  if (await advancePurchase(accountId, purchaseId, 'failed', nowIso(), { failure_reason: reason })) {
    await publish('credits.purchase.failed', accountId, { purchase_id: purchaseId, reason });
  }
}

/** Records an async payment failure reported by Stripe, after re-reading the session. */
export async function failCheckoutSession(sessionId: string): Promise<void> {
  const session = await (await stripe()).checkout.sessions.retrieve(sessionId);
  const accountId = session.metadata?.account_id;
  const purchaseId = session.metadata?.purchase_id;
  if (!accountId || !purchaseId || session.payment_status === 'paid') return;
  await markFailed(accountId, purchaseId, 'the payment failed');
}

async function accountOfCharge(charge: Stripe.Charge): Promise<string | undefined> {
  if (charge.metadata?.account_id) return charge.metadata.account_id;
  const intentId = idOf(charge.payment_intent);
  if (!intentId) return undefined;
  const intent = await (await stripe()).paymentIntents.retrieve(intentId);
  return intent.metadata?.account_id;
}

/**
 * Takes back the credits of every succeeded refund of a charge, once per refund. Credits already spent
 * make the balance negative, which blocks usage until it is repaid.
 */
export async function applyRefunds(chargeId: string): Promise<number> {
  const client = await stripe();
  const charge = await client.charges.retrieve(chargeId);
  const accountId = await accountOfCharge(charge);
  if (!accountId) return 0;
  let applied = 0;
  for await (const refund of client.refunds.list({ charge: chargeId, limit: 100 })) {
    if (refund.status !== 'succeeded') continue;
    const amount = negate(fromCents(refund.amount));
    const outcome = await applyCredit({
      accountId,
      entryId: newUlid(),
      type: 'refund',
      amount,
      at: nowIso(),
      reason: 'Payment refunded',
      guard: { reference: `stripe:re:${refund.id}` },
      allowNegative: true,
    });
    if (outcome.status === 'applied') {
      applied++;
      await publish('credits.refund.applied', accountId, {
        amount: toWire(amount),
        refund: refund.id,
        charge: chargeId,
        kind: 'refund',
      });
    }
  }
  return applied;
}

/** Takes back a disputed charge's amount once per dispute (the money is withheld while it is disputed). */
export async function applyDispute(dispute: Stripe.Dispute): Promise<boolean> {
  const client = await stripe();
  const chargeId = idOf(dispute.charge);
  if (!chargeId) return false;
  const charge = await client.charges.retrieve(chargeId);
  const accountId = await accountOfCharge(charge);
  if (!accountId) return false;
  const amount = negate(fromCents(dispute.amount));
  const outcome = await applyCredit({
    accountId,
    entryId: newUlid(),
    type: 'dispute',
    amount,
    at: nowIso(),
    reason: `Payment disputed (${dispute.reason})`,
    guard: { reference: `stripe:dp:${dispute.id}` },
    allowNegative: true,
  });
  if (outcome.status !== 'applied') return false;
  logger.warn('dispute opened; credits taken back', { accountId, dispute: dispute.id });
  await publish('credits.refund.applied', accountId, {
    amount: toWire(amount),
    dispute: dispute.id,
    charge: chargeId,
    kind: 'dispute',
  });
  return true;
}
