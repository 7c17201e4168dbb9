// Operator API: GET /admin/marketplace/reconciliation?begin=&end=[&account_id=]: units reported to AWS
// Marketplace against the ledger, per buyer, to the unit.
import * as z from 'zod/mini';
import { ValidationError } from '#shared/errors.ts';
import { json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { zodProblems } from '#shared/http/validation.ts';
import { reconcileMarketplace } from '#shared/marketplace/reconcile.ts';

const instant = z.pipe(
  z
    .string()
    .check(
      z.regex(/^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2})?)?Z)?$/, 'must be YYYY-MM-DD or an ISO UTC time'),
    ),
  z.transform((text) => new Date(text.length === 10 ? `${text}T00:00:00Z` : text)),
);

export const reconciliationQuery = z
  .object({
    begin: instant,
    end: instant,
    account_id: z.optional(z.string().check(z.regex(/^acct_[0-9A-Z]{26}$/, 'is not an account id'))),
  })
  .check(
    z.refine((q) => q.begin < q.end && q.end.getTime() - q.begin.getTime() <= 92 * 86_400_000, {
      message: 'end must be after begin, at most 92 days later',
      path: ['end'],
    }),
  );

export const handler = apiRoute({ auth: 'admin' }, async (event) => {
  const parsed = reconciliationQuery.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) throw new ValidationError(zodProblems(parsed.error));
  const { begin, end, account_id: accountId } = parsed.data;
  return json(200, await reconcileMarketplace({ begin, end, ...(accountId ? { accountId } : {}) }));
});
