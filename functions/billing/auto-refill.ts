// GET / PUT /v1/billing/auto-refill: the settings, the payment method on file, the safeguards' state and
// the last attempt, in plain words (billing scope).
import * as z from 'zod/mini';
import type { Account } from '#shared/accounts/repository.ts';
import { requireAccount } from '#shared/accounts/service.ts';
import { autoRefillView, updateSettings } from '#shared/auto-refill/settings.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf, callerOf } from '#shared/http/middleware.ts';
import { usdAmount } from '#shared/http/validation.ts';
import { logger } from '#shared/observability/powertools.ts';
import { purchaseAmount } from '#shared/payments/limits.ts';
import { getPurchase } from '#shared/payments/purchases.ts';

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

/**
 * The settings as shown, without a top-up link that can no longer be used: the top-up purchase it opened
 * (`pur_<refill id>`) is paid, failed or expired. When the purchase cannot be read now, the link stays.
 */
export async function currentView(account: Account): Promise<ReturnType<typeof autoRefillView>> {
  const view = autoRefillView(account);
  const attempt = account.auto_refill?.last_attempt;
  if (!attempt?.top_up_url || !view.last_attempt?.top_up_url) return view;
  try {
    const topUp = await getPurchase(account.account_id, `pur_${attempt.refill_id}`);
    if (topUp && topUp.status !== 'pending') {
      const { top_up_url: _used, ...rest } = view.last_attempt;
      return { ...view, last_attempt: rest };
    }
  } catch (error) {
    logger.warn('could not read the top-up purchase; its link is shown', { error });
  }
  return view;
}

export const handler = byRoute({
  'GET /v1/billing/auto-refill': apiRoute({ auth: 'billing' }, async (_event, context) =>
    json(200, await currentView(await requireAccount(callerOf(context).accountId))),
  ),
  'PUT /v1/billing/auto-refill': apiRoute({ auth: 'billing', body: settings }, async (_event, context) => {
    const input = bodyOf<z.infer<typeof settings>>(context);
    const { accountId, actor } = callerOf(context);
    const view = await updateSettings(
      accountId,
      {
        enabled: input.enabled,
        threshold: input.threshold,
        amount: input.amount,
        monthly_cap: input.monthly_cap ?? null,
      },
      actor,
    );
    return json(200, view);
  }),
});
