// GET /v1/transactions: the ledger entries that changed the balance, newest first, cursor-paginated.
import { z } from 'zod';
import { ValidationError } from '#shared/errors.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { principalOf } from '#shared/http/middleware.ts';
import { zodProblems } from '#shared/http/validation.ts';
import { listTransactions } from '#shared/ledger/history.ts';

const params = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(25),
    cursor: z.string().max(512).optional(),
  })
  .strict();

export const handler = apiRoute({ auth: 'api' }, async (event, context) => {
  const parsed = params.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) throw new ValidationError(zodProblems(parsed.error));
  const page = await listTransactions(principalOf(context).accountId, parsed.data.limit, parsed.data.cursor);
  return json(200, page);
});
