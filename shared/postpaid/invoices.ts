// The customer's view of its postpaid invoices (`GET /v1/billing/invoices`), from the period items.
import * as z from 'zod/mini';
import { nowIso } from '../clock.ts';
import { isoTime, usd } from '../http/validation.ts';
import { fromCents, toWire } from '../money.ts';
import { listInvoicedPeriods, type PeriodItem } from './store.ts';

export const invoiceSchema = z.object({
  id: z.string(),
  number: z.optional(z.string()),
  period: z.string().check(z.describe('The UTC month invoiced, YYYY-MM')),
  amount: usd,
  currency: z.literal('USD'),
  status: z.string().check(z.describe("Stripe's invoice status: draft, open, paid, uncollectible, void")),
  due_date: z.nullable(isoTime),
  hosted_invoice_url: z.optional(z.string()),
  /** Open past its due date (Stripe has no such status: the invoice stays `open`). */
  overdue: z.boolean(),
  paid_at: z.optional(isoTime),
});

export type InvoiceView = z.output<typeof invoiceSchema>;

export function invoiceView(item: PeriodItem): InvoiceView {
  return {
    id: String(item.stripe_invoice_id),
    ...(item.invoice_number ? { number: item.invoice_number } : {}),
    period: item.period,
    amount: toWire(fromCents(Number(item.invoice_total_cents ?? item.invoice?.cents ?? 0))),
    currency: 'USD',
    status: String(item.invoice_status),
    due_date: item.due_date ?? null,
    ...(item.hosted_invoice_url ? { hosted_invoice_url: item.hosted_invoice_url } : {}),
    overdue:
      item.invoice_status === 'open' &&
      (item.overdue_at !== undefined || (item.due_date !== undefined && item.due_date <= nowIso())),
    ...(item.paid_at ? { paid_at: item.paid_at } : {}),
  };
}

export async function listInvoices(accountId: string): Promise<InvoiceView[]> {
  return (await listInvoicedPeriods(accountId)).map(invoiceView);
}
