// PUT /v1/billing/spend-limit: a postpaid account's monthly spend limit (billing scope); `null` removes it.
import * as z from 'zod/mini';
import { postpaidView, setSpendLimit } from '#shared/accounts/billing-mode.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { bodyOf, callerOf } from '#shared/http/middleware.ts';
import { usdAmount } from '#shared/http/validation.ts';

export const spendLimit = z.strictObject({
  monthly_spend_limit: z.nullable(usdAmount.check(z.refine((amount) => amount >= 0, 'must not be negative'))),
});

export const handler = apiRoute({ auth: 'billing', body: spendLimit }, async (_event, context) => {
  const { monthly_spend_limit } = bodyOf<z.infer<typeof spendLimit>>(context);
  const { accountId, actor } = callerOf(context);
  const account = await setSpendLimit(accountId, monthly_spend_limit, actor);
  return json(200, postpaidView(account));
});
