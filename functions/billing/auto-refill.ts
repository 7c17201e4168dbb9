// GET /v1/billing/auto-refill: the auto-refill settings and the payment method on file (billing scope).
// The settings themselves arrive with the auto-refill issue; until then auto-refill is off.
import { requireAccount } from '#shared/accounts/service.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { principalOf } from '#shared/http/middleware.ts';
import { paymentMethodView } from '#shared/payments/payment-methods.ts';

export const handler = apiRoute({ auth: 'billing' }, async (_event, context) => {
  const account = await requireAccount(principalOf(context).accountId);
  return json(200, {
    enabled: false,
    threshold: null,
    amount: null,
    monthly_cap: null,
    status: 'off',
    payment_method: paymentMethodView(account.payment_method),
  });
});
