// Operator API: open accounts, read them, grant or correct credits, set the billing mode.
import { z } from 'zod';
import {
  adjustCredits,
  createAccount,
  operatorView,
  requireAccount,
  setBillingMode,
} from '#shared/accounts/service.ts';
import { ValidationError } from '#shared/errors.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf } from '#shared/http/middleware.ts';
import { usdAmount } from '#shared/http/validation.ts';
import { toWire } from '#shared/money.ts';

const newAccount = z
  .object({ name: z.string().trim().min(1).max(200), email: z.email().max(320).optional() })
  .strict();

const creditChange = z.object({ amount: usdAmount, reason: z.string().trim().min(1).max(500) }).strict();

const billingMode = z
  .object({
    mode: z.enum(['prepaid', 'postpaid']),
    payment_terms_days: z.number().int().min(1).max(365).optional(),
  })
  .strict();

function accountIdOf(pathParameters: Record<string, string | undefined> | undefined): string {
  const id = pathParameters?.id ?? '';
  if (!/^acct_[0-9A-Z]{26}$/.test(id))
    throw new ValidationError([{ field: 'id', problem: 'is not an account id' }]);
  return id;
}

export const handler = byRoute({
  'POST /admin/accounts': apiRoute(
    { auth: 'admin', body: newAccount, idempotent: true },
    async (_event, context) => {
      const { account, token } = await createAccount(bodyOf<z.infer<typeof newAccount>>(context));
      return json(201, { account_id: account.account_id, token });
    },
  ),
  'GET /admin/accounts/{id}': apiRoute({ auth: 'admin' }, async (event) =>
    json(200, operatorView(await requireAccount(accountIdOf(event.pathParameters)))),
  ),
  'POST /admin/accounts/{id}/credits': apiRoute(
    { auth: 'admin', body: creditChange, idempotent: true },
    async (event, context) => {
      const { amount, reason } = bodyOf<z.infer<typeof creditChange>>(context);
      if (amount === 0) throw new ValidationError([{ field: 'amount', problem: 'must not be zero' }]);
      const { api } = context;
      const entry = await adjustCredits({
        accountId: accountIdOf(event.pathParameters),
        amount,
        reason,
        entryId: api.entryId,
        requestId: api.requestId,
        ...(api.idempotencyReference ? { guard: { reference: api.idempotencyReference } } : {}),
      });
      return json(201, {
        id: entry.entry_id,
        type: entry.type,
        amount: toWire(entry.amount),
        reason: entry.reason,
        created_at: entry.created_at,
        request_id: api.requestId,
      });
    },
  ),
  'PUT /admin/accounts/{id}/billing': apiRoute(
    { auth: 'admin', body: billingMode },
    async (event, context) => {
      const { mode } = bodyOf<z.infer<typeof billingMode>>(context);
      return json(200, operatorView(await setBillingMode(accountIdOf(event.pathParameters), mode)));
    },
  ),
});
