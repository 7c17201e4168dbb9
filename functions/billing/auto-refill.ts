// GET / PUT /v1/billing/auto-refill: the settings, the payment method on file, the safeguards' state and
// the last attempt, in plain words (billing scope).
import * as z from 'zod/mini';
import { requireAccount } from '#shared/accounts/service.ts';
import { autoRefillView, updateSettings } from '#shared/auto-refill/settings.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf, principalOf } from '#shared/http/middleware.ts';
import { usdAmount } from '#shared/http/validation.ts';
import { purchaseAmount } from '#shared/payments/limits.ts';

export const settings = z
  .strictObject({
    enabled: z.boolean(),
    threshold: usdAmount.check(z.refine((amount) => amount >= 0, 'must not be negative')),
    amount: purchaseAmount,
    monthly_cap: z.optional(z.nullable(usdAmount)),
  })
  .check(
    z.refine((value) => value.monthly_cap == null || value.monthly_cap >= value.amount, {
      message: 'must be at least the refill amount',
      path: ['monthly_cap'],
    }),
  );

export const handler = byRoute({
  'GET /v1/billing/auto-refill': apiRoute({ auth: 'billing' }, async (_event, context) =>
    json(200, autoRefillView(await requireAccount(principalOf(context).accountId))),
  ),
  'PUT /v1/billing/auto-refill': apiRoute({ auth: 'billing', body: settings }, async (_event, context) => {
    const input = bodyOf<z.infer<typeof settings>>(context);
    const view = await updateSettings(principalOf(context).accountId, {
      enabled: input.enabled,
      threshold: input.threshold,
      amount: input.amount,
      monthly_cap: input.monthly_cap ?? null,
    });
    return json(200, view);
  }),
});
