// A postpaid invoice after it is sent, through the real SDK, the emulator and the signed webhook route:
// statuses never move backwards whatever the order or repetition of events; one billing event per payment,
// failure and overdue; GET /v1/billing/invoices; the operator's overdue block, on and off. Periods here are
// in 2039 (the clock is moved), apart from every other test file's.

import type Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getAccount } from '#shared/accounts/repository.ts';
import { nowMs, resetClock, setClock } from '#shared/clock.ts';
import type { BillingEventType } from '#shared/events/outbox.ts';
import { invoicePeriod } from '#shared/postpaid/invoicing.ts';
import { recordInvoiceStatus } from '#shared/postpaid/lifecycle.ts';
import { getPeriod } from '#shared/postpaid/store.ts';
import { call } from '../support/api.ts';
import { eventsOf } from '../support/assertions.ts';
import { deliverWebhook, type Payments, startPayments } from '../support/payments.ts';
import { accrue, postpaidAccount } from '../support/postpaid.ts';

let payments: Payments;

beforeAll(async () => {
  payments = await startPayments();
});

afterEach(() => {
  resetClock();
  delete process.env.POSTPAID_OVERDUE_BLOCK_GRACE_DAYS;
  payments.emulator.setWebhookUrl(payments.webhookUrl);
});

afterAll(async () => {
  await payments?.stop();
});

const settled = () => payments.emulator.control.idle();

function busEvents(accountId: string, type: BillingEventType) {
  return eventsOf(accountId, type);
}

/** A postpaid account with one invoiced period (`period`, cost in micros), its invoice sent. */
async function invoiced(period: string, cost: number, account?: { accountId: string; token: string }) {
  const owner = account ?? (await postpaidAccount());
  await accrue(owner.accountId, period, 'echo', cost, cost / 2_000);
  const [year, month] = period.split('-').map(Number);
  setClock(new Date(Date.UTC(year!, month!, 1, 0, 20)));
  const report = await invoicePeriod(owner.accountId, period);
  expect(report.outcome).toBe('invoiced');
  await settled();
  const invoice = await payments.stripe.invoices.retrieve(report.invoice_id!);
  return { ...owner, invoice };
}

function signed(event: Stripe.Event) {
  const raw = JSON.stringify(event);
  const signature = payments.stripe.webhooks.generateTestHeaderString({
    payload: raw,
    secret: payments.webhookSecret,
    timestamp: Math.floor(nowMs() / 1000),
  });
  return { raw, signature };
}

function eventsFor(invoiceId: string, type?: string) {
  return payments.emulator.control
    .events(type)
    .filter((event) => (event.data.object as { id?: string }).id === invoiceId);
}

async function pageAnswer(invoice: Stripe.Invoice, cardNumber: string) {
  const response = await fetch(invoice.hosted_invoice_url!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: `card_number=${cardNumber}`,
  });
  return response.status;
}

describe('invoice webhooks: order-independent', () => {
  it('records paid once; repeated and late older events change nothing and publish nothing more', async () => {
    const { accountId, invoice } = await invoiced('2039-01', 250_000);
    expect(await getPeriod(accountId, '2039-01')).toMatchObject({ invoice_status: 'open' });

    payments.emulator.control.payInvoice(invoice.id);
    await settled();
    for (const event of [
      ...eventsFor(invoice.id, 'invoice.paid'),
      ...eventsFor(invoice.id, 'invoice.finalized'),
    ]) {
      payments.emulator.control.resend(event.id);
      payments.emulator.control.resend(event.id);
    }
    await settled();

    expect(await getPeriod(accountId, '2039-01')).toMatchObject({ invoice_status: 'paid', status_rank: 3 });
    // Issued once: recorded open by the invoicing routine, whatever `invoice.finalized` deliveries followed.
    expect(await busEvents(accountId, 'credits.invoice.issued')).toEqual([
      expect.objectContaining({ invoice_id: invoice.id, period: '2039-01', amount: 0.25, status: 'open' }),
    ]);
    expect(await busEvents(accountId, 'credits.invoice.paid')).toHaveLength(1);
    expect((await busEvents(accountId, 'credits.invoice.paid'))[0]).toMatchObject({
      invoice_id: invoice.id,
      period: '2039-01',
      amount: 0.25,
    });
  });

  it('applies events delivered in reverse order, concurrently and repeatedly, ending in the newest state', async () => {
    payments.emulator.setWebhookUrl(undefined); // hold every delivery back
    const { accountId, invoice } = await invoiced('2039-02', 40_000);
    await payments.stripe.invoices.markUncollectible(invoice.id);
    payments.emulator.control.payInvoice(invoice.id);
    const held = payments.emulator.control
      .events()
      .filter(
        (event) =>
          event.type.startsWith('invoice.') && (event.data.object as { id: string }).id === invoice.id,
      )
      .reverse();
    expect(held.map((event) => event.type)).toEqual(
      expect.arrayContaining(['invoice.paid', 'invoice.marked_uncollectible', 'invoice.finalized']),
    );

    const answers = await Promise.all(
      [...held, ...held].map((event) => {
        const { raw, signature } = signed(event);
        return deliverWebhook(raw, signature);
      }),
    );

    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(await getPeriod(accountId, '2039-02')).toMatchObject({ invoice_status: 'paid' });
    expect(await busEvents(accountId, 'credits.invoice.paid')).toHaveLength(1);
  });

  it('never lets an older snapshot overwrite a newer status (the rank condition itself)', async () => {
    const { accountId, invoice } = await invoiced('2039-03', 30_000);
    const open = await payments.stripe.invoices.retrieve(invoice.id);
    payments.emulator.setWebhookUrl(undefined); // the voided webhook would record it first
    const voided = await payments.stripe.invoices.voidInvoice(invoice.id);

    expect(await recordInvoiceStatus(voided)).toBe(true);
    expect(await recordInvoiceStatus(open)).toBe(false);
    expect(await recordInvoiceStatus(voided)).toBe(false);

    expect(await getPeriod(accountId, '2039-03')).toMatchObject({ invoice_status: 'void' });
  });

  it('publishes one payment_failed per failed attempt, and one overdue once the due date passes', async () => {
    const { accountId, invoice } = await invoiced('2039-04', 60_000);

    expect(await pageAnswer(invoice, '4000000000009995')).toBe(402);
    await settled();
    for (const event of eventsFor(invoice.id, 'invoice.payment_failed'))
      payments.emulator.control.resend(event.id);
    await settled();
    setClock(new Date(invoice.due_date! * 1000 + 60_000));
    payments.emulator.control.runDue();
    await settled();
    for (const event of eventsFor(invoice.id, 'invoice.overdue')) payments.emulator.control.resend(event.id);
    await settled();

    expect(await busEvents(accountId, 'credits.invoice.payment_failed')).toHaveLength(1);
    expect(await busEvents(accountId, 'credits.invoice.overdue')).toHaveLength(1);
    expect(await getPeriod(accountId, '2039-04')).toMatchObject({ invoice_status: 'open' });
    expect((await getPeriod(accountId, '2039-04'))?.overdue_at).toBeDefined();
  });
});

describe('GET /v1/billing/invoices', () => {
  it('lists the account’s invoices newest first in the contract’s shape; api tokens are refused', async () => {
    const first = await invoiced('2039-05', 123_400);
    await invoiced('2039-06', 2_000_000, first);
    payments.emulator.control.payInvoice(first.invoice.id);
    await settled();

    const answer = await call('GET', '/v1/billing/invoices', { token: first.token });

    expect(answer.status).toBe(200);
    const { data } = answer.body as { data: Record<string, unknown>[] };
    expect(data.map((invoice) => invoice.period)).toEqual(['2039-06', '2039-05']);
    expect(data[1]).toMatchObject({
      id: first.invoice.id,
      period: '2039-05',
      amount: 0.12,
      status: 'paid',
      due_date: new Date(first.invoice.due_date! * 1000).toISOString(),
      hosted_invoice_url: first.invoice.hosted_invoice_url,
    });
    expect(data[0]).toMatchObject({ period: '2039-06', amount: 2, status: 'open', overdue: false });
    for (const invoice of data) {
      expect(Object.keys(invoice)).toEqual(
        expect.arrayContaining(['id', 'period', 'amount', 'status', 'due_date', 'hosted_invoice_url']),
      );
    }

    const apiToken = await call('POST', '/v1/tokens', {
      token: first.token,
      body: { name: 'api only', scopes: ['api'] },
    });
    expect(apiToken.status).toBe(201);
    expect((await call('GET', '/v1/billing/invoices', { token: apiToken.body.token })).status).toBe(403);
  });

  it('is an empty list for an account without invoices', async () => {
    const { token } = await postpaidAccount();
    expect((await call('GET', '/v1/billing/invoices', { token })).body).toEqual({ data: [] });
  });
});

describe('overdue block (POSTPAID_OVERDUE_BLOCK_GRACE_DAYS)', () => {
  const blockAt = async (accountId: string) =>
    ((await getAccount(accountId)) as { overdue_block_at?: string } | undefined)?.overdue_block_at;
  const plusDays = (invoice: Stripe.Invoice, days: number) =>
    new Date((invoice.due_date! + days * 86_400) * 1000).toISOString();

  it('is off by default: an unpaid overdue invoice never blocks', async () => {
    const { accountId, invoice } = await invoiced('2039-07', 50_000);
    setClock(new Date(invoice.due_date! * 1000 + 10 * 86_400_000));
    payments.emulator.control.runDue();
    await settled();

    expect(await busEvents(accountId, 'credits.invoice.overdue')).toHaveLength(1);
    expect(await blockAt(accountId)).toBeUndefined();
  });

  it('when on, blocks from the earliest unpaid due date plus the grace; uncollectible keeps it, paying or voiding lifts it', async () => {
    process.env.POSTPAID_OVERDUE_BLOCK_GRACE_DAYS = '3';
    const august = await invoiced('2039-08', 50_000);
    const september = await invoiced('2039-09', 70_000, august);
    const { accountId } = august;

    expect(await blockAt(accountId)).toBe(plusDays(august.invoice, 3));

    await payments.stripe.invoices.markUncollectible(august.invoice.id);
    await settled();
    expect(await blockAt(accountId)).toBe(plusDays(august.invoice, 3));

    payments.emulator.control.payInvoice(august.invoice.id);
    await settled();
    expect(await blockAt(accountId)).toBe(plusDays(september.invoice, 3));

    await payments.stripe.invoices.voidInvoice(september.invoice.id);
    await settled();
    expect(await blockAt(accountId)).toBeUndefined();
    expect((await getAccount(accountId)) as unknown).toMatchObject({ open_invoices: {} });
  });
});
