// /v1/tokens: create (the secret is shown once), list and revoke the account's API tokens (billing scope).
import * as z from 'zod/mini';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf, principalOf } from '#shared/http/middleware.ts';
import { createToken, listTokens, revokeAccountToken } from '#shared/tokens/service.ts';

export const newToken = z.strictObject({
  name: z.string().check(z.trim(), z.minLength(1), z.maxLength(100)),
  scopes: z._default(z.array(z.enum(['api', 'billing'])).check(z.minLength(1)), ['api']),
});

export const handler = byRoute({
  // Safe to retry with an Idempotency-Key: a replay answers the same token with `token: null`, since the
  // secret is shown exactly once and never stored.
  'POST /v1/tokens': apiRoute(
    { auth: 'billing', body: newToken, idempotent: { redact: ['token'] } },
    async (_event, context) => {
      const { name, scopes } = bodyOf<z.infer<typeof newToken>>(context);
      return json(201, await createToken(principalOf(context).accountId, name, scopes));
    },
  ),
  'GET /v1/tokens': apiRoute({ auth: 'billing' }, async (_event, context) =>
    json(200, { data: await listTokens(principalOf(context).accountId) }),
  ),
  'DELETE /v1/tokens/{id}': apiRoute({ auth: 'billing' }, async (event, context) => {
    await revokeAccountToken(principalOf(context).accountId, event.pathParameters?.id ?? '');
    return json(204, null);
  }),
});
