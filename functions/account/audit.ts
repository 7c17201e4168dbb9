// GET /v1/audit: the account's audit trail of billing changes, newest first, cursor-paginated
// (shared/audit/trail.ts). Owners read it (a billing token, or an owner's session).
import * as z from 'zod/mini';
import { AUDIT_PAGE_DEFAULT, listAudit } from '#shared/audit/trail.ts';
import { ValidationError } from '#shared/errors.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { callerOf } from '#shared/http/middleware.ts';
import { zodProblems } from '#shared/http/validation.ts';

export const auditQuery = z.strictObject({
  limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(100)), AUDIT_PAGE_DEFAULT),
  cursor: z.optional(z.string().check(z.maxLength(512))),
});

export const handler = apiRoute({ auth: 'billing' }, async (event, context) => {
  const parsed = auditQuery.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) throw new ValidationError(zodProblems(parsed.error));
  return json(200, await listAudit(callerOf(context).accountId, parsed.data));
});
