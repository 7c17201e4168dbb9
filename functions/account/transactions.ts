// GET /v1/transactions: the ledger entries that changed the balance, newest first, cursor-paginated.
import * as z from 'zod/mini';
import { ValidationError } from '#shared/errors.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { principalOf } from '#shared/http/middleware.ts';
import { zodProblems } from '#shared/http/validation.ts';
import { listTransactions } from '#shared/ledger/history.ts';

export const transactionsQuery = z.strictObject({
  limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(100)), 25),
  cursor: z.optional(z.string().check(z.maxLength(512))),
});

export const handler = apiRoute({ auth: 'api' }, async (event, context) => {
  const parsed = transactionsQuery.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) throw new ValidationError(zodProblems(parsed.error));
  const page = await listTransactions(principalOf(context).accountId, parsed.data.limit, parsed.data.cursor);
  return json(200, page);
});
