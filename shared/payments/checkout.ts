// Buying credits: a purchase record, then a Stripe Checkout Session for it (card with Apple Pay / Google Pay,
// PayPal and bank transfer; card and PayPal saved for off-session auto-refill). Prepaid accounts only.
import * as z from 'zod/mini';
import { WrongBillingModeError } from '../accounts/billing-mode.ts';
import { getAccount } from '../accounts/repository.ts';
import { auditItem } from '../audit/trail.ts';
import type { Actor } from '../auth/caller.ts';
import { nowIso } from '../clock.ts';
import { config, MissingConfigurationError, optional } from '../config.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { type Micros, toCents, toWire } from '../money.ts';
import { ensureCustomer } from './customers.ts';
import { dashboardUrl } from './dashboard-url.ts';
import { attachCheckoutSession, createPurchase, getPurchase, type Purchase } from './purchases.ts';
import { stripe } from './stripe-client.ts';

/**
 * The dashboard view a checkout started from, when no caller's page is given: the return page links back to
 * it (an auto-refill top-up returns to the auto-refill view, not to Buy).
 */
export const RETURN_VIEWS = ['buy', 'auto-refill'] as const;
export type ReturnView = (typeof RETURN_VIEWS)[number];

/** Where Stripe sends the customer after paying: the caller's page, or this deployment's return page. */
function successUrl(
  purchaseId: string,
  returnUrl: string | undefined,
  base: string,
  view: ReturnView | undefined,
): string {
  const page = returnUrl ?? `${base}/billing/return${view ? `?view=${view}` : ''}`;
  const separator = page.includes('?') ? '&' : '?';
  return `${page}${separator}purchase_id=${purchaseId}&session_id={CHECKOUT_SESSION_ID}`;
}

function publicBaseUrl(): string {
  const url = optional('PUBLIC_BASE_URL');
  if (!url) throw new MissingConfigurationError('PUBLIC_BASE_URL is not set');
  return url.replace(/\/$/, '');
}

/**
 * The base of Stripe's default pages. Without a given public base URL, PUBLIC_BASE_URL is the API's own
 * endpoint, whose `/` is no page at all: the dashboard's URL serves the page and forwards `/billing/return`.
 */
async function defaultPagesBase(): Promise<string> {
  const dashboard = optional('RETURN_PAGES_ON_DASHBOARD') === 'true' ? await dashboardUrl() : undefined;
  return dashboard ?? publicBaseUrl();
}

/**
 * A caller's `return_url` must be on this deployment's own origin: Stripe sends the payer there straight
 * after paying, so any other origin would make the checkout an open redirect. Its own origins are
 * PUBLIC_BASE_URL's and the dashboard's (the dashboard serves the API on its domain too).
 */
async function isOwnOrigin(url: string): Promise<boolean> {
  const own = new URL(publicBaseUrl());
  const origins = [own.origin];
  // Locally the stack answers on localhost and 127.0.0.1 alike: both are its own origin.
  if (config.localMode && own.hostname === 'localhost') {
    own.hostname = '127.0.0.1';
    origins.push(own.origin);
  }
  const dashboard = await dashboardUrl();
  if (dashboard) origins.push(dashboard);
  return origins.includes(new URL(url).origin);
}

export const checkoutSchema = z.object({
  purchase_id: z.string(),
  checkout_url: z.string().check(z.describe("Stripe Checkout's hosted page: send the customer there")),
  status: z.literal('pending'),
});

export type CheckoutAnswer = z.output<typeof checkoutSchema>;

/**
 * Opens a checkout for `amount`. The purchase id comes from the request id, so an Idempotency-Key replay
 * (or a retried attempt) finds the same purchase and the same Stripe session.
 */
export async function openCheckout(input: {
  accountId: string;
  purchaseId: string;
  amount: Micros;
  returnUrl: string | undefined;
  /** Without `returnUrl`: the dashboard view the return page leads back to (Buy when not given). */
  returnView?: ReturnView;
  /** Who started the purchase (absent for the system's own top-ups): recorded with the purchase. */
  actor?: Actor;
}): Promise<CheckoutAnswer> {
  // Before anything is read or created: a refused return URL leaves no trace, here or at Stripe.
  if (input.returnUrl !== undefined && !(await isOwnOrigin(input.returnUrl))) {
    throw new ValidationError([{ field: 'return_url', problem: "must be on this deployment's own origin" }]);
  }
  const account = await getAccount(input.accountId);
  if (!account) throw new NotFoundError('Account not found');
  // Postpaid and marketplace usage never draws on the balance: credits bought there could never be spent.
  if (account.billing_mode !== 'prepaid') {
    throw new WrongBillingModeError(
      `Credits are bought by prepaid accounts only; this account is billed in "${account.billing_mode}" mode`,
    );
  }
  const customer = await ensureCustomer(input.accountId);
  const existing = await getPurchase(input.accountId, input.purchaseId);
  if (!existing) {
    await createPurchase(
      {
        purchase_id: input.purchaseId,
        account_id: input.accountId,
        amount: input.amount,
        created_at: nowIso(),
      },
      input.actor &&
        auditItem(input.accountId, input.actor, 'purchase.started', {
          target: input.purchaseId,
          details: { amount: toWire(input.amount), purchase_id: input.purchaseId },
        }),
    );
  }
  const base = await defaultPagesBase();
  const metadata = { account_id: input.accountId, purchase_id: input.purchaseId };
  const session = await (await stripe()).checkout.sessions.create(
    {
      mode: 'payment',
      customer,
      line_items: [
        {
          quantity: 1,
          price_data: {
            currency: 'usd',
            unit_amount: toCents(input.amount),
            product_data: { name: 'API credits' },
          },
        },
      ],
      // Methods are switched on in the Stripe Dashboard; these options shape the ones offered.
      payment_method_options: {
        card: { setup_future_usage: 'off_session' },
        paypal: { setup_future_usage: 'off_session' },
        customer_balance: { funding_type: 'bank_transfer', bank_transfer: { type: 'us_bank_transfer' } },
      },
      metadata,
      payment_intent_data: { metadata },
      // Once paid, Stripe makes a paid invoice for the purchase, made out to the account's customer (its
      // name and email); its hosted page and PDF are linked from the purchase history.
      invoice_creation: {
        enabled: true,
        invoice_data: {
          description: `Prepaid API credits (purchase ${input.purchaseId})`,
          metadata,
        },
      },
      success_url: successUrl(input.purchaseId, input.returnUrl, base, input.returnView),
      cancel_url: input.returnUrl ?? `${base}/${input.returnView ? `#${input.returnView}` : ''}`,
    },
    { idempotencyKey: `checkout-${input.purchaseId}` },
  );
  if (!session.url) throw new Error('Stripe returned a checkout session without a URL');
  await attachCheckoutSession(input.accountId, input.purchaseId, session.id, { invoiceCreation: true });
  return { purchase_id: input.purchaseId, checkout_url: session.url, status: 'pending' };
}

export async function requirePurchase(accountId: string, purchaseId: string): Promise<Purchase> {
  const purchase = await getPurchase(accountId, purchaseId);
  if (!purchase) throw new NotFoundError('Purchase not found');
  return purchase;
}
