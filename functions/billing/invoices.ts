// GET /v1/billing/invoices: the account's postpaid invoices, newest first (billing scope).
import { json } from '#shared/http/api.ts';
import { apiRoute } from '#shared/http/handler.ts';
import { callerOf } from '#shared/http/middleware.ts';
import { listInvoices } from '#shared/postpaid/invoices.ts';

export const handler = apiRoute({ auth: 'billing' }, async (_event, context) =>
  json(200, { data: await listInvoices(callerOf(context).accountId) }),
);
