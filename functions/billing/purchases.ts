// Buying credits: open a checkout (Idempotency-Key), follow a purchase, list purchases (billing scope).
import * as z from 'zod/mini';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf, callerOf, pathOf } from '#shared/http/middleware.ts';
import { openCheckout, requirePurchase } from '#shared/payments/checkout.ts';
import { completePurchaseLinks, fulfilCheckoutSession } from '#shared/payments/fulfilment.ts';
import { purchaseAmount } from '#shared/payments/limits.ts';
import { listPurchases, missingLinks, purchaseView } from '#shared/payments/purchases.ts';

export const checkout = z.strictObject({
  amount: purchaseAmount,
  // Its origin is checked by openCheckout: the dashboard's origin is read at run time.
  return_url: z.optional(z.url({ protocol: /^https?$/ }).check(z.maxLength(2000))),
});

export const purchasePath = z.object({
  id: z.string().check(z.regex(/^pur_[0-9A-Z]{26}$/, 'is not a purchase id')),
});

export const handler = byRoute({
  'POST /v1/billing/checkout': apiRoute(
    { auth: 'billing', body: checkout, idempotent: true },
    async (_event, context) => {
      const { amount, return_url } = bodyOf<z.infer<typeof checkout>>(context);
      const { accountId, actor } = callerOf(context);
      const answer = await openCheckout({
        accountId,
        purchaseId: `pur_${context.api.entryId}`,
        amount,
        returnUrl: return_url,
        actor,
      });
      return json(201, answer);
    },
  ),
  'GET /v1/billing/purchases': apiRoute({ auth: 'billing' }, async (_event, context) =>
    json(200, { data: (await listPurchases(callerOf(context).accountId)).map(purchaseView) }),
  ),
  'GET /v1/billing/purchases/{id}': apiRoute(
    { auth: 'billing', path: purchasePath },
    async (_event, context) => {
      const accountId = callerOf(context).accountId;
      const { id } = pathOf<z.infer<typeof purchasePath>>(context);
      let purchase = await requirePurchase(accountId, id);
      // A pending purchase (found above: an unknown id is a 404 before any Stripe call) is followed up with
      // Stripe here too, so a lost or late webhook never leaves a paid purchase uncredited; it races the
      // webhook safely (both credit through the same exactly-once path).
      if (purchase.status === 'pending' && purchase.checkout_session_id) {
        await fulfilCheckoutSession(purchase, purchase.checkout_session_id);
        purchase = await requirePurchase(accountId, id);
      }
      // A paid purchase whose receipt or invoice link could not be read when it was credited gets it now
      // (best effort: a Stripe failure answers the purchase as it is).
      if (missingLinks(purchase)) {
        await completePurchaseLinks(purchase);
        purchase = await requirePurchase(accountId, id);
      }
      return json(200, purchaseView(purchase));
    },
  ),
});
