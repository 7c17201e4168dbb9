// GET /billing/return: where Stripe sends the customer after paying. It follows the session up with Stripe
// (the same exactly-once fulfilment as the webhook, which it may race) and shows a short page.
import * as z from 'zod/mini';
import type { ApiResult } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { escapeHtml, htmlPage } from '#shared/http/html.ts';
import { fulfilCheckoutSession } from '#shared/payments/fulfilment.ts';

export const returnQuery = z.object({
  purchase_id: z.string().check(z.regex(/^pur_[0-9A-Z]{26}$/)),
  session_id: z.string().check(z.regex(/^cs_[A-Za-z0-9_]{1,200}$/)),
});

function page(title: string, message: string, status = 200): ApiResult {
  return htmlPage(title, `<p>${escapeHtml(message)}</p>`, status);
}

export const handler = apiRoute({ auth: 'none' }, async (event) => {
  const parsed = returnQuery.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) return page('Unknown payment', 'This link does not name a payment.', 400);
  const outcome = await fulfilCheckoutSession(parsed.data.session_id);
  return outcome === 'credited' || outcome === 'already_credited'
    ? page('Payment received', 'Your credits are on your account. You can close this page.')
    : page('Payment pending', 'Your payment is being processed; credits appear as soon as it completes.');
});
