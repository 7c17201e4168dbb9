// Stripe emulator contract: the postpaid invoice lifecycle (draft → open → paid / void / uncollectible).
import type Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nowMs, resetClock, setClock } from '#shared/clock.ts';
import { type Harness, objectId, startHarness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterEach(() => {
  resetClock();
});

afterAll(async () => {
  await h?.stop();
});

async function draftInvoice(amount: number) {
  const customer = await h.stripe.customers.create({ name: 'Postpaid', email: 'billing@example.com' });
  const invoice = await h.stripe.invoices.create({
    customer: customer.id,
    collection_method: 'send_invoice',
    days_until_due: 30,
    pending_invoice_items_behavior: 'exclude',
    metadata: { account_id: 'acc_post', period: '2026-10' },
  });
  await h.stripe.invoiceItems.create({
    customer: customer.id,
    invoice: invoice.id,
    amount,
    currency: 'usd',
    description: 'API usage, October 2026',
  });
  return { customer, invoice };
}

describe('invoices', () => {
  it('finalizes, sends and is paid on the hosted invoice page', async () => {
    const { customer, invoice } = await draftInvoice(12_345);
    expect(invoice).toMatchObject({
      status: 'draft',
      collection_method: 'send_invoice',
      due_date: invoice.created + 30 * 86_400,
    });
    const finalized = await h.stripe.invoices.finalizeInvoice(invoice.id);
    expect(finalized).toMatchObject({ status: 'open', amount_due: 12_345, total: 12_345 });
    expect(finalized.number).toMatch(/^[A-Z0-9]+-0001$/);
    expect(finalized.lines.data[0]).toMatchObject({ amount: 12_345, description: 'API usage, October 2026' });
    await h.receiver.waitFor('invoice.finalized', objectId(invoice.id));
    await h.stripe.invoices.sendInvoice(invoice.id);
    await h.receiver.waitFor('invoice.sent', objectId(invoice.id));

    const page = await fetch(finalized.hosted_invoice_url!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('$123.45');
    const paid = await fetch(finalized.hosted_invoice_url!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'card_number=4242424242424242',
    });
    expect(await paid.json()).toEqual({ status: 'paid' });
    const event = await h.receiver.waitFor('invoice.paid', objectId(invoice.id));
    expect(event.event.data.object).toMatchObject({
      status: 'paid',
      amount_paid: 12_345,
      amount_remaining: 0,
    });

    const listed = await h.stripe.invoices.list({ customer: customer.id });
    expect(listed.data.map((i: Stripe.Invoice) => i.id)).toEqual([invoice.id]);
  });

  it('voids, marks uncollectible, and reports overdue when the clock passes the due date', async () => {
    const { invoice } = await draftInvoice(500);
    await h.stripe.invoices.finalizeInvoice(invoice.id);
    setClock(new Date(nowMs() + 31 * 86_400_000));
    h.emulator.control.runDue();
    await h.receiver.waitFor('invoice.overdue', objectId(invoice.id));
    const uncollectible = await h.stripe.invoices.markUncollectible(invoice.id);
    expect(uncollectible.status).toBe('uncollectible');
    const voided = await h.stripe.invoices.voidInvoice(invoice.id);
    expect(voided.status).toBe('void');
    await h.receiver.waitFor('invoice.voided', objectId(invoice.id));
    const late = await h.stripe.invoiceItems
      .create({ customer: voided.customer as string, invoice: invoice.id, amount: 1, currency: 'usd' })
      .catch((e: unknown) => e);
    expect(late).toMatchObject({ statusCode: 400, code: 'invoice_not_editable' });
  });
});
