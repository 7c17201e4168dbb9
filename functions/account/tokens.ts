// /v1/tokens: create (the secret is shown once), list, change and revoke the account's API tokens (billing
// scope).
import * as z from 'zod/mini';
import { nowMs } from '#shared/clock.ts';
import { config } from '#shared/config.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf, callerOf } from '#shared/http/middleware.ts';
import { usdAmount } from '#shared/http/validation.ts';
import { changeAccountToken, createToken, listTokens, revokeAccountToken } from '#shared/tokens/service.ts';
import { LIMIT_RESETS } from '#shared/tokens/spend-limit.ts';

/** A token may be made to expire at most this far ahead (five years of 365.25 days). */
const MAX_TOKEN_LIFETIME_MS = 5 * 365.25 * 86_400_000;

const expiresAt = z
  .pipe(
    z.iso.datetime({ offset: true }),
    z.transform((text) => new Date(text).toISOString()),
  )
  .check(
    z.refine((iso) => Date.parse(iso) > nowMs(), 'must be in the future'),
    z.refine((iso) => Date.parse(iso) <= nowMs() + MAX_TOKEN_LIFETIME_MS, 'must be at most 5 years ahead'),
  );

/** A token's own rate limit: any values up to the operator's account ceiling (RATE_LIMIT_ACCOUNT_RPS/BURST). */
const rateLimit = z.strictObject({
  rps: z.number().check(
    z.positive(),
    z.refine((rps) => rps <= config.accountRateLimit.rps, {
      error: () => `must be at most ${config.accountRateLimit.rps}, the operator's maximum`,
    }),
  ),
  burst: z.int().check(
    z.gte(1),
    z.refine((burst) => burst <= config.accountRateLimit.burst, {
      error: () => `must be at most ${config.accountRateLimit.burst}, the operator's maximum`,
    }),
  ),
});

const spendLimit = z.strictObject({
  amount: usdAmount.check(z.refine((amount) => amount > 0, 'must be more than 0')),
  reset: z.enum(LIMIT_RESETS),
});

const tokenName = z.string().check(z.trim(), z.minLength(1), z.maxLength(100));

export const newToken = z.strictObject({
  name: tokenName,
  scopes: z._default(z.array(z.enum(['api', 'billing'])).check(z.minLength(1)), ['api']),
  expires_at: z.optional(expiresAt),
  spend_limit: z.optional(spendLimit),
  rate_limit: z.optional(rateLimit),
});

/** Only what is sent changes; `null` clears a limit (the rate limit goes back to the defaults) or the expiry. */
export const tokenChanges = z.strictObject({
  name: z.optional(tokenName),
  spend_limit: z.optional(z.nullable(spendLimit)),
  rate_limit: z.optional(z.nullable(rateLimit)),
  expires_at: z.optional(z.nullable(expiresAt)),
});

export const handler = byRoute({
  // Safe to retry with an Idempotency-Key: a replay answers the same token with `token: null`, since the
  // secret is shown exactly once and never stored.
  'POST /v1/tokens': apiRoute(
    { auth: 'billing', body: newToken, idempotent: { redact: ['token'] } },
    async (_event, context) => {
      const { name, scopes, expires_at, spend_limit, rate_limit } = bodyOf<z.infer<typeof newToken>>(context);
      const { accountId, actor } = callerOf(context);
      const created = await createToken(
        accountId,
        {
          name,
          scopes,
          ...(expires_at ? { expiresAt: expires_at } : {}),
          ...(spend_limit ? { spendLimit: spend_limit } : {}),
          ...(rate_limit ? { rateLimit: rate_limit } : {}),
        },
        actor,
      );
      return json(201, created);
    },
  ),
  'GET /v1/tokens': apiRoute({ auth: 'billing' }, async (_event, context) =>
    json(200, { data: await listTokens(callerOf(context).accountId) }),
  ),
  'PATCH /v1/tokens/{id}': apiRoute({ auth: 'billing', body: tokenChanges }, async (event, context) => {
    const { name, spend_limit, expires_at, rate_limit } = bodyOf<z.infer<typeof tokenChanges>>(context);
    const { accountId, actor } = callerOf(context);
    const token = await changeAccountToken(
      accountId,
      event.pathParameters?.id ?? '',
      {
        ...(name === undefined ? {} : { name }),
        ...(spend_limit === undefined ? {} : { spendLimit: spend_limit }),
        ...(expires_at === undefined ? {} : { validUntil: expires_at }),
        ...(rate_limit === undefined ? {} : { rateLimit: rate_limit }),
      },
      actor,
    );
    return json(200, token);
  }),
  'DELETE /v1/tokens/{id}': apiRoute({ auth: 'billing' }, async (event, context) => {
    const { accountId, actor } = callerOf(context);
    await revokeAccountToken(accountId, event.pathParameters?.id ?? '', actor);
    return json(204, null);
  }),
});
