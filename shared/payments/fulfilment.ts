// Turning Stripe's payment facts into credits, exactly once per PaymentIntent (and once per refund and per
// dispute), whatever arrives first (webhook, redirect, poll), how often, and in which order. Every path
// re-reads the object from Stripe and acts on its current state, never on an event body; the ledger's
// permanent reference guard (`stripe:pi:…`) makes the credit itself exactly-once. Money not in USD, objects
// Stripe does not know and objects this deployment never created change nothing (shared/payments/refusals).
import type Stripe from 'stripe';
import { reactivate } from '../auto-refill/store.ts';
import { nowIso } from '../clock.ts';
import { billingEvent } from '../events/outbox.ts';
import { newUlid } from '../ids.ts';
import { applyCredit } from '../ledger/ledger.ts';
import { fromCents, toWire } from '../money.ts';
import { logger } from '../observability/powertools.ts';
import { describeMethod, rememberPaymentMethod } from './payment-methods.ts';
import {
  advancePurchase,
  missingLinks,
  notePendingMethod,
  type Purchase,
  type PurchaseLinks,
  recordPurchaseLinks,
} from './purchases.ts';
import { invoiceLinks, invoiceOfPurchase, paymentMethodText, receiptUrlOf } from './receipts.ts';
import { ignoreUnknown, refusedCurrency, reread } from './refusals.ts';
import { stripe } from './stripe-client.ts';
import { type TakeBackOutcome, takeBack } from './take-back.ts';

function idOf(value: string | { id: string } | null | undefined): string | undefined {
  if (!value) return undefined;
  return typeof value === 'string' ? value : value.id;
}

function paymentMethodType(intent: Stripe.PaymentIntent): string | undefined {
  const method = intent.payment_method;
  if (method && typeof method !== 'string') return method.type;
  return intent.payment_method_types?.[0];
}

export type FulfilOutcome = 'credited' | 'already_credited' | 'not_paid' | 'not_ours' | 'refused';

/**
 * Credits a succeeded PaymentIntent once; records the purchase as paid (with its receipt and invoice links)
 * and the saved method on file. `invoice`: the purchase's invoice when the caller has just read it (from
 * the Checkout Session); otherwise it is looked up, best effort. Links never hold up the credit: one not
 * known now is written by any later call for the same payment.
 */
export async function fulfilPaymentIntent(
  paymentIntentId: string,
  known: { invoice?: string | Stripe.Invoice | null } = {},
): Promise<FulfilOutcome> {
  const intent = await reread('payment_intent', paymentIntentId, async () =>
    (await stripe()).paymentIntents.retrieve(paymentIntentId, {
      expand: ['latest_charge', 'payment_method'],
    }),
  );
  if (!intent) return 'not_ours';
  const accountId = intent.metadata?.account_id;
  if (!accountId) return ignoreUnknown('payment_intent', intent.id, 'no account in its metadata');
  if (intent.status !== 'succeeded') return 'not_paid';
  if (refusedCurrency('payment_intent', intent, accountId)) return 'refused';
  const amount = fromCents(intent.amount_received);
  const at = nowIso();
  const entryId = newUlid();
  const methodType = paymentMethodType(intent);
  const methodText = paymentMethodText(intent);
  const purchaseId = intent.metadata.purchase_id;
  const links: PurchaseLinks = {
    ...(receiptUrlOf(intent) ? { receipt_url: receiptUrlOf(intent) } : {}),
    ...(purchaseId
      ? known.invoice !== undefined
        ? invoiceLinks(known.invoice)
        : await invoiceOfPurchase(accountId, purchaseId)
      : {}),
  };
  const outcome = await applyCredit({
    accountId,
    entryId,
    type: intent.metadata.refill_id ? 'auto_refill' : 'purchase',
    amount,
    at,
    reason: intent.metadata.purchase_id ? 'Credit purchase' : 'Automatic refill',
    ...(methodText ? { paymentMethod: methodText } : {}),
    ...(links.receipt_url ? { receiptUrl: links.receipt_url } : {}),
    guard: { reference: `stripe:pi:${intent.id}` },
    events: [
      billingEvent(
        'credits.purchase.succeeded',
        accountId,
        {
          amount: toWire(amount),
          payment_intent: intent.id,
          ...(purchaseId ? { purchase_id: purchaseId } : {}),
          ...(methodType ? { payment_method_type: methodType } : {}),
          // What the receipt email shows: "Visa •••• 4242" (or the method's type), and Stripe's links.
          ...(methodText ? { payment_method: methodText } : {}),
          ...(links.receipt_url ? { receipt_url: links.receipt_url } : {}),
          ...(links.invoice_url ? { invoice_url: links.invoice_url } : {}),
          entry_id: entryId,
        },
        at,
      ),
    ],
  });
  // A credit is refused only when its account does not exist: a payment made for another deployment.
  if (outcome.status === 'insufficient') {
    return ignoreUnknown('payment_intent', intent.id, 'its account is not in this deployment');
  }
  if (purchaseId) {
    const advanced = await advancePurchase(accountId, purchaseId, 'paid', at, {
      payment_intent_id: intent.id,
      credited_at: at,
      ...(methodType ? { payment_method_type: methodType } : {}),
      ...links,
    });
    // Already paid (a redelivery, the redirect, the other webhook): fill in the links learnt since.
    if (!advanced) await recordPurchaseLinks(accountId, purchaseId, links);
  }
  // A method saved for later (setup_future_usage) ends up attached to the customer: that is the one on file.
  const method = intent.payment_method;
  if (method && typeof method !== 'string' && method.customer && !intent.metadata.refill_id) {
    if (await rememberPaymentMethod(accountId, describeMethod(method, intent.created)))
      await reactivate(accountId);
  }
  return outcome.status === 'applied' ? 'credited' : 'already_credited';
}

/**
 * Fills in the links a paid purchase still lacks (a Stripe failure or the webhook order left them out),
 * by following its payment again; never throws (logged), so a reader of the purchase is never held up.
 */
export async function completePurchaseLinks(purchase: Purchase): Promise<void> {
  if (!missingLinks(purchase) || !purchase.payment_intent_id) return;
  try {
    await fulfilPaymentIntent(purchase.payment_intent_id);
  } catch (error) {
    logger.warn('purchase links not filled in; left for later', {
      accountId: purchase.account_id,
      purchaseId: purchase.purchase_id,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * The Checkout Session of a stored purchase, re-read from Stripe; undefined (counted) when Stripe does not
 * know it or it names another purchase. Callers find the purchase first, so an unknown id costs no Stripe call.
 */
async function sessionOf(purchase: Purchase, sessionId: string) {
  const session = await reread('checkout_session', sessionId, async () =>
    (await stripe()).checkout.sessions.retrieve(sessionId, { expand: ['invoice'] }),
  );
  if (!session) return undefined;
  if (
    session.metadata?.account_id !== purchase.account_id ||
    session.metadata?.purchase_id !== purchase.purchase_id
  ) {
    ignoreUnknown('checkout_session', sessionId, 'it names another purchase');
    return undefined;
  }
  return session;
}

/** Follows a purchase's Checkout Session to its current outcome: credit when paid, record expiry or failure. */
export async function fulfilCheckoutSession(purchase: Purchase, sessionId: string): Promise<FulfilOutcome> {
  const session = await sessionOf(purchase, sessionId);
  if (!session) return 'not_ours';
  const { account_id: accountId, purchase_id: purchaseId } = purchase;
  const intentId = idOf(session.payment_intent);
  if (session.payment_status === 'paid' && intentId) {
    return fulfilPaymentIntent(intentId, { invoice: session.invoice });
  }
  if (session.status === 'expired') {
    await advancePurchase(accountId, purchaseId, 'expired', nowIso());
    return 'not_paid';
  }
  if (intentId) {
    const intent = await reread('payment_intent', intentId, async () =>
      (await stripe()).paymentIntents.retrieve(intentId, { expand: ['payment_method'] }),
    );
    // A delayed method (bank transfer) that can no longer succeed: the purchase failed.
    if (
      intent &&
      (intent.status === 'canceled' ||
        (session.status === 'complete' && intent.status === 'requires_payment_method'))
    ) {
      await markFailed(accountId, purchaseId, intent.last_payment_error?.message ?? 'payment failed');
    } else if (intent && session.status === 'complete') {
      // Chosen but not paid yet (a bank transfer waiting for its funds): the purchase says how it is paid.
      // Only the chosen method's own type: the intent's list of allowed types says nothing of the choice.
      const method = intent.payment_method;
      if (method && typeof method !== 'string') await notePendingMethod(accountId, purchaseId, method.type);
    }
  }
  return 'not_paid';
}

async function markFailed(accountId: string, purchaseId: string, reason: string): Promise<void> {
  await advancePurchase(accountId, purchaseId, 'failed', nowIso(), { failure_reason: reason }, [
    billingEvent('credits.purchase.failed', accountId, { purchase_id: purchaseId, reason }),
  ]);
}

/** Records an async payment failure reported by Stripe, after re-reading the session. */
export async function failCheckoutSession(purchase: Purchase, sessionId: string): Promise<FulfilOutcome> {
  const session = await sessionOf(purchase, sessionId);
  if (!session) return 'not_ours';
  if (session.payment_status === 'paid') return 'not_paid';
  await markFailed(purchase.account_id, purchase.purchase_id, 'the payment failed');
  return 'not_paid';
}

type ChargeCredit = { accountId: string; paymentIntentId: string };

/** The account and PaymentIntent a charge credited, from the charge or its PaymentIntent's metadata. */
async function creditOfCharge(charge: Stripe.Charge): Promise<ChargeCredit | undefined> {
  const paymentIntentId = idOf(charge.payment_intent);
  if (!paymentIntentId) return undefined;
  if (charge.metadata?.account_id) return { accountId: charge.metadata.account_id, paymentIntentId };
  const intent = await reread('payment_intent', paymentIntentId, async () =>
    (await stripe()).paymentIntents.retrieve(paymentIntentId),
  );
  const accountId = intent?.metadata?.account_id;
  return accountId ? { accountId, paymentIntentId } : undefined;
}

async function chargeToTakeBackFrom(
  chargeId: string,
): Promise<{ charge: Stripe.Charge; credit: ChargeCredit } | 'not_ours' | 'refused'> {
  const charge = await reread('charge', chargeId, async () => (await stripe()).charges.retrieve(chargeId));
  if (!charge) return 'not_ours';
  const credit = await creditOfCharge(charge);
  if (!credit) return ignoreUnknown('charge', chargeId, 'no account in its metadata');
  if (refusedCurrency('charge', charge, credit.accountId)) return 'refused';
  return { charge, credit };
}

export type TakeBackSummary = { applied: number; outcome: TakeBackOutcome | 'refused' | 'none' };

/**
 * Takes back the credits of every succeeded refund of a charge, once per refund, re-read from Stripe and
 * bounded by what the payment credited (shared/payments/take-back.ts).
 */
export async function applyRefunds(chargeId: string): Promise<TakeBackSummary> {
  const found = await chargeToTakeBackFrom(chargeId);
  if (typeof found === 'string') return { applied: 0, outcome: found };
  const { credit } = found;
  let applied = 0;
  let last: TakeBackSummary['outcome'] = 'none';
  for await (const refund of (await stripe()).refunds.list({ charge: chargeId, limit: 100 })) {
    if (refund.status !== 'succeeded') continue;
    if (refusedCurrency('refund', refund, credit.accountId)) {
      last = 'refused';
      continue;
    }
    last = await takeBack({
      ...credit,
      chargeId,
      kind: 'refund',
      objectId: refund.id,
      requested: fromCents(refund.amount),
      reason: 'Payment refunded',
    });
    if (last === 'applied') applied++;
  }
  return { applied, outcome: last };
}

/**
 * Takes back a disputed payment once per dispute (the money is withheld while it is disputed). The dispute
 * is re-read from Stripe: its amount in an event body is never used.
 */
export async function applyDispute(disputeId: string): Promise<TakeBackOutcome | 'refused'> {
  const dispute = await reread('dispute', disputeId, async () =>
    (await stripe()).disputes.retrieve(disputeId),
  );
  if (!dispute) return 'not_ours';
  const chargeId = idOf(dispute.charge);
  if (!chargeId) return ignoreUnknown('dispute', disputeId, 'it names no charge');
  const found = await chargeToTakeBackFrom(chargeId);
  if (typeof found === 'string') return found;
  if (refusedCurrency('dispute', dispute, found.credit.accountId)) return 'refused';
  const outcome = await takeBack({
    ...found.credit,
    chargeId,
    kind: 'dispute',
    objectId: dispute.id,
    requested: fromCents(dispute.amount),
    reason: `Payment disputed (${dispute.reason})`,
  });
  if (outcome === 'applied') {
    logger.warn('dispute opened; credits taken back', {
      accountId: found.credit.accountId,
      dispute: dispute.id,
    });
  }
  return outcome;
}
