// GET /v1/credits: the caller's balance, available balance and billing mode.
import { creditsView, requireAccount } from '#shared/accounts/service.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { callerOf } from '#shared/http/middleware.ts';

export const handler = apiRoute({ auth: 'api' }, async (_event, context) => {
  const account = await requireAccount(callerOf(context).accountId);
  return json(200, creditsView(account));
});
