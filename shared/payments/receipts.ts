// Receipts and invoices of prepaid purchases: what a receipt says about the payment method, and where
// Stripe's hosted receipt (the charge's `receipt_url`) and invoice (Checkout's `invoice_creation`) live.
// Links are a courtesy: finding them never holds up a credit; one not found now is filled in by a later
// fulfilment of the same purchase (a webhook redelivery, checkout.session.completed, the purchase read).
import type Stripe from 'stripe';
import { logger } from '../observability/powertools.ts';
import { getPurchase, type PurchaseLinks } from './purchases.ts';
import { stripe } from './stripe-client.ts';

const BRANDS: Record<string, string> = {
  amex: 'American Express',
  cartes_bancaires: 'Cartes Bancaires',
  diners: 'Diners Club',
  discover: 'Discover',
  eftpos_au: 'eftpos',
  jcb: 'JCB',
  link: 'Link',
  mastercard: 'Mastercard',
  unionpay: 'UnionPay',
  visa: 'Visa',
};

const TYPES: Record<string, string> = {
  paypal: 'PayPal',
  customer_balance: 'Bank transfer',
  us_bank_account: 'US bank account',
  sepa_debit: 'SEPA Direct Debit',
  link: 'Link',
};

/** How a payment method reads on a receipt: "Visa •••• 4242", "PayPal", "Bank transfer", or its type. */
export function paymentMethodText(intent: Stripe.PaymentIntent): string | undefined {
  const method = typeof intent.payment_method === 'object' ? intent.payment_method : null;
  const charge = typeof intent.latest_charge === 'object' ? intent.latest_charge : null;
  const card = method?.card ?? charge?.payment_method_details?.card ?? null;
  if (card?.last4) {
    const brand = card.brand ? (BRANDS[card.brand] ?? card.brand) : 'Card';
    return `${brand} •••• ${card.last4}`;
  }
  const type = method?.type ?? charge?.payment_method_details?.type ?? intent.payment_method_types?.[0];
  return type ? (TYPES[type] ?? type) : undefined;
}

/** The hosted receipt of the intent's successful charge (`latest_charge` expanded), if Stripe made one. */
export function receiptUrlOf(intent: Stripe.PaymentIntent): string | undefined {
  const charge = intent.latest_charge;
  return charge && typeof charge === 'object' ? (charge.receipt_url ?? undefined) : undefined;
}

/** The links an invoice (expanded, or only its id) gives a purchase. */
export function invoiceLinks(invoice: string | Stripe.Invoice | null | undefined): PurchaseLinks {
  if (!invoice) return {};
  if (typeof invoice === 'string') return { invoice_id: invoice };
  return {
    invoice_id: invoice.id,
    ...(invoice.hosted_invoice_url ? { invoice_url: invoice.hosted_invoice_url } : {}),
  };
}

/**
 * The invoice Checkout made for a purchase, read from its session: what is stored when it is already
 * known, `{}` when there is none yet (Stripe makes it after the payment) or when reading fails (logged;
 * a later fulfilment fills it in). Never throws.
 */
export async function invoiceOfPurchase(accountId: string, purchaseId: string): Promise<PurchaseLinks> {
  try {
    const purchase = await getPurchase(accountId, purchaseId);
    if (!purchase?.checkout_session_id || !purchase.invoice_creation) return {};
    if (purchase.invoice_url) return { invoice_id: purchase.invoice_id, invoice_url: purchase.invoice_url };
    const session = await (await stripe()).checkout.sessions.retrieve(purchase.checkout_session_id, {
      expand: ['invoice'],
    });
    return invoiceLinks(session.invoice);
  } catch (error) {
    logger.warn('purchase invoice link not read; left for a later fulfilment', {
      accountId,
      purchaseId,
      error: error instanceof Error ? error.message : String(error),
    });
    return {};
  }
}
