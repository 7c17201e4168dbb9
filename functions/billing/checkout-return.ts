// GET /billing/return: where Stripe sends the customer after paying. Unauthenticated, so the session is
// matched against a stored purchase first: an id this deployment never made gets a 404 page and costs no
// Stripe call. A known one is followed up with Stripe (the same exactly-once fulfilment as the webhook,
// which it may race) unless it is already paid, and a short page is shown that leads back to the dashboard
// view the payment started from (`view`: Buy, or auto-refill for a top-up the bank wanted confirmed).
import * as z from 'zod/mini';
import { type ApiResult, header } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { escapeHtml, htmlPage } from '#shared/http/html.ts';
import { RETURN_VIEWS, type ReturnView } from '#shared/payments/checkout.ts';
import { dashboardUrl } from '#shared/payments/dashboard-url.ts';
import { fulfilCheckoutSession } from '#shared/payments/fulfilment.ts';
import { purchaseOfSession } from '#shared/payments/purchases.ts';
import { reportUnknownReturn } from '#shared/payments/refusals.ts';

export const returnQuery = z.object({
  purchase_id: z.string().check(z.regex(/^pur_[0-9A-Z]{26}$/)),
  session_id: z.string().check(z.regex(/^cs_[A-Za-z0-9_]{1,200}$/)),
  view: z.optional(z.enum(RETURN_VIEWS)),
});

const viewNames: Record<ReturnView, string> = { buy: 'Buy credits', 'auto-refill': 'Auto-refill' };

type Way = { href: string; elsewhere: string | undefined; view: ReturnView };

/**
 * The way back: a link to the dashboard view (same origin when this deployment names no dashboard URL, as
 * locally), carrying the purchase so the view follows it. When the dashboard is on another host name than
 * this page, the customer is told where it is and that it asks for the billing token again there.
 */
async function wayBack(host: string | undefined, view: ReturnView, purchaseId?: string): Promise<Way> {
  const dashboard = await dashboardUrl();
  const query = purchaseId ? `?purchase_id=${purchaseId}&view=${view}` : '';
  const elsewhere = dashboard && host && new URL(dashboard).host !== host ? dashboard : undefined;
  return { href: `${dashboard ?? ''}/${query}#${view}`, elsewhere, view };
}

function page(title: string, message: string, way: Way | undefined, status = 200): ApiResult {
  const back = way
    ? `<p><a href="${escapeHtml(way.href)}">Back to ${escapeHtml(viewNames[way.view])} in the billing dashboard</a></p>${
        way.elsewhere
          ? `<p>The dashboard is at <a href="${escapeHtml(way.elsewhere)}/">${escapeHtml(way.elsewhere)}</a>: if it asks, sign in there again with your billing token.</p>`
          : '<p>If the dashboard asks, sign in again with your billing token: a sign-in is kept per browser tab and per address.</p>'
      }`
    : '';
  return htmlPage(title, `<p role="status">${escapeHtml(message)}</p>${back}`, status);
}

export const handler = apiRoute({ auth: 'none' }, async (event) => {
  const host = header(event, 'host');
  const parsed = returnQuery.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) {
    return page('Unknown payment', 'This link does not name a payment.', await wayBack(host, 'buy'), 400);
  }
  const { purchase_id, session_id, view = 'buy' } = parsed.data;
  const purchase = await purchaseOfSession(session_id);
  if (purchase?.purchase_id !== purchase_id) {
    reportUnknownReturn(session_id);
    return page(
      'Unknown payment',
      'This link does not name a payment of this service.',
      await wayBack(host, view),
      404,
    );
  }
  const way = await wayBack(host, view, purchase_id);
  if (purchase.status === 'paid') return page('Payment received', 'Your credits are on your account.', way);
  const outcome = await fulfilCheckoutSession(purchase, session_id);
  return outcome === 'credited' || outcome === 'already_credited'
    ? page('Payment received', 'Your credits are on your account.', way)
    : page(
        'Payment pending',
        'Your payment is being processed; credits appear as soon as it completes.',
        way,
      );
});
