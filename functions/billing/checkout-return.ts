// GET /billing/return: where Stripe sends the customer after paying. Unauthenticated, so the session is
// matched against a stored purchase first: an id this deployment never made gets a 404 page and costs no
// Stripe call. A known one is followed up with Stripe (the same exactly-once fulfilment as the webhook,
// which it may race) unless it is already paid, and a short page is shown.
import * as z from 'zod/mini';
import type { ApiResult } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { escapeHtml, htmlPage } from '#shared/http/html.ts';
import { fulfilCheckoutSession } from '#shared/payments/fulfilment.ts';
import { purchaseOfSession } from '#shared/payments/purchases.ts';
import { reportUnknownReturn } from '#shared/payments/refusals.ts';

export const returnQuery = z.object({
  purchase_id: z.string().check(z.regex(/^pur_[0-9A-Z]{26}$/)),
  session_id: z.string().check(z.regex(/^cs_[A-Za-z0-9_]{1,200}$/)),
});

function page(title: string, message: string, status = 200): ApiResult {
  return htmlPage(title, `<p>${escapeHtml(message)}</p>`, status);
}

const received = () => page('Payment received', 'Your credits are on your account. You can close this page.');

export const handler = apiRoute({ auth: 'none' }, async (event) => {
  const parsed = returnQuery.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) return page('Unknown payment', 'This link does not name a payment.', 400);
  const { purchase_id, session_id } = parsed.data;
  const purchase = await purchaseOfSession(session_id);
  if (purchase?.purchase_id !== purchase_id) {
    reportUnknownReturn(session_id);
    return page('Unknown payment', 'This link does not name a payment of this service.', 404);
  }
  if (purchase.status === 'paid') return received();
  const outcome = await fulfilCheckoutSession(purchase, session_id);
  return outcome === 'credited' || outcome === 'already_credited'
    ? received()
    : page('Payment pending', 'Your payment is being processed; credits appear as soon as it completes.');
});
