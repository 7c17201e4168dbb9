// Operator API: open accounts (with `email`, that person is the first owner member and gets an invitation),
// read them, grant or correct credits, set the billing mode and balance shards.
import * as z from 'zod/mini';
import { setBillingMode } from '#shared/accounts/billing-mode.ts';
import { adjustCredits, createAccount, operatorView, requireAccount } from '#shared/accounts/service.ts';
import { OPERATOR } from '#shared/audit/trail.ts';
import { type ApiContext, json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf, pathOf } from '#shared/http/middleware.ts';
import { isoTime, usd, usdAmount } from '#shared/http/validation.ts';
import { setBalanceShards } from '#shared/ledger/balance-shards.ts';
import { MAX_BALANCE_SHARDS, MIN_BALANCE_SHARDS } from '#shared/ledger/shards.ts';
import { sendInvitation } from '#shared/members/service.ts';
import { toWire } from '#shared/money.ts';

export const newAccount = z.strictObject({
  name: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
  email: z.optional(z.email().check(z.maxLength(320))),
});

export const creditChange = z.strictObject({
  amount: usdAmount.check(z.refine((amount) => amount !== 0, 'must not be zero')),
  reason: z.string().check(z.trim(), z.minLength(1), z.maxLength(500)),
});

/** Checked before the Idempotency-Key is claimed, so a malformed id does not use the key up. */
export const accountPath = z.object({
  id: z.string().check(z.regex(/^acct_[0-9A-Z]{26}$/, 'is not an account id')),
});

export const billingMode = z
  .strictObject({
    mode: z.enum(['prepaid', 'postpaid']),
    payment_terms_days: z.optional(z.number().check(z.int(), z.gte(1), z.lte(365))),
  })
  .check(
    z.refine((body) => body.mode === 'postpaid' || body.payment_terms_days === undefined, {
      message: 'applies to postpaid accounts only',
      path: ['payment_terms_days'],
    }),
  );

/** How many balance items a prepaid account's spendable balance is split across (hot accounts). */
export const balanceShards = z.strictObject({
  count: z.number().check(z.int(), z.gte(MIN_BALANCE_SHARDS), z.lte(MAX_BALANCE_SHARDS)),
});

/** The `billing` token is shown once: an Idempotency-Key replay answers it as null. */
export const createdAccount = z.object({ account_id: z.string(), token: z.nullable(z.string()) });

/** The ledger entry a grant or correction made. */
export const creditEntry = z.object({
  id: z.string(),
  type: z.enum(['grant', 'correction']),
  amount: usd,
  reason: z.optional(z.string()),
  created_at: isoTime,
  request_id: z.string(),
});

const accountIdOf = (context: ApiContext) => pathOf<z.infer<typeof accountPath>>(context).id;

export const handler = byRoute({
  'POST /admin/accounts': apiRoute(
    // The token is a secret shown once: a replay answers the same account with `token: null`.
    { auth: 'admin', body: newAccount, idempotent: { redact: ['token'] } },
    async (_event, context) => {
      const { account, token, owner } = await createAccount(bodyOf<z.infer<typeof newAccount>>(context));
      // The first owner is told where to sign in; a replay of the key sends nothing again.
      if (owner) await sendInvitation(owner, account.name);
      const answer: z.output<typeof createdAccount> = { account_id: account.account_id, token };
      return json(201, answer);
    },
  ),
  'GET /admin/accounts/{id}': apiRoute({ auth: 'admin', path: accountPath }, async (_event, context) =>
    json(200, operatorView(await requireAccount(accountIdOf(context)))),
  ),
  'POST /admin/accounts/{id}/credits': apiRoute(
    { auth: 'admin', path: accountPath, body: creditChange, idempotent: true },
    async (_event, context) => {
      const { amount, reason } = bodyOf<z.infer<typeof creditChange>>(context);
      const { api } = context;
      const entry = await adjustCredits({
        accountId: accountIdOf(context),
        amount,
        reason,
        entryId: api.entryId,
        requestId: api.requestId,
        ...(api.idempotencyReference ? { guard: { reference: api.idempotencyReference } } : {}),
        actor: OPERATOR,
      });
      const answer: z.output<typeof creditEntry> = {
        id: entry.entry_id,
        type: entry.type === 'grant' ? 'grant' : 'correction',
        amount: toWire(entry.amount),
        reason: entry.reason,
        created_at: entry.created_at,
        request_id: api.requestId,
      };
      return json(201, answer);
    },
  ),
  'PUT /admin/accounts/{id}/billing': apiRoute(
    { auth: 'admin', path: accountPath, body: billingMode },
    async (_event, context) => {
      const { mode, payment_terms_days } = bodyOf<z.infer<typeof billingMode>>(context);
      const account = await setBillingMode(accountIdOf(context), mode, payment_terms_days, OPERATOR);
      return json(200, operatorView(account));
    },
  ),
  'PUT /admin/accounts/{id}/balance-shards': apiRoute(
    { auth: 'admin', path: accountPath, body: balanceShards },
    async (_event, context) => {
      const { count } = bodyOf<z.infer<typeof balanceShards>>(context);
      await setBalanceShards(accountIdOf(context), count, OPERATOR);
      return json(200, operatorView(await requireAccount(accountIdOf(context))));
    },
  ),
});
