// Receipts and invoices of prepaid purchases, end to end through the real SDK and the emulator: a paid
// checkout has Stripe's receipt and invoice linked from the purchase history and named in the
// credits.purchase.succeeded event (enough for the receipt email); a Stripe failure while reading the links
// never holds up or doubles the credit, and the missing link is filled in later.
import type Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nowMs } from '#shared/clock.ts';
import type { BillingEvent } from '#shared/events/outbox.ts';
import { caughtMail } from '#shared/notifications/mailer.ts';
import { notifyEvent } from '#shared/notifications/notify.ts';
import { accountMoney, fundedAccount, ledgerEntries } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { eventsOf } from '../support/assertions.ts';
import { deliverWebhook, type Payments, startPayments } from '../support/payments.ts';

let payments: Payments;

type Sink = { __localNotify?: (events: BillingEvent[]) => Promise<void> | void };
const sink = globalThis as Sink;
let previousNotify: Sink['__localNotify'];

beforeAll(async () => {
  payments = await startPayments();
  // The notification queue's stand-in: each event the outbox delivers reaches the notify worker.
  previousNotify = sink.__localNotify;
  sink.__localNotify = async (events) => {
    for (const event of events) await notifyEvent(event);
  };
});

afterAll(async () => {
  sink.__localNotify = previousNotify;
  await payments?.stop();
});

afterEach(() => {
  payments.emulator.setWebhookUrl(payments.webhookUrl);
});

type PurchaseItem = {
  purchase_id: string;
  status: string;
  receipt_url: string | null;
  invoice_url: string | null;
};

async function checkout(token: string, amount: number) {
  const response = await call('POST', '/v1/billing/checkout', { token, body: { amount } });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  const { purchase_id, checkout_url } = response.body as { purchase_id: string; checkout_url: string };
  return { purchaseId: purchase_id, sessionId: checkout_url.split('/').pop()! };
}

function payByCard(sessionId: string) {
  return payments.emulator.control.completeCheckout(sessionId, {
    payment_method: 'card',
    card_number: '4242424242424242',
  });
}

/** The purchase as the history lists it (no Stripe call on this route). */
async function listed(token: string, purchaseId: string): Promise<PurchaseItem | undefined> {
  const response = await call('GET', '/v1/billing/purchases', { token });
  expect(response.status).toBe(200);
  return (response.body as { data: PurchaseItem[] }).data.find((p) => p.purchase_id === purchaseId);
}

async function purchase(token: string, purchaseId: string) {
  return call('GET', `/v1/billing/purchases/${purchaseId}`, { token });
}

async function deliver(event: Stripe.Event) {
  const raw = JSON.stringify(event);
  const signature = payments.stripe.webhooks.generateTestHeaderString({
    payload: raw,
    secret: payments.webhookSecret,
    timestamp: Math.floor(nowMs() / 1000),
  });
  return deliverWebhook(raw, signature);
}

/** The held events of one account, oldest first. */
function eventsOfAccount(accountId: string): Stripe.Event[] {
  return payments.emulator.control.events().filter((e) => JSON.stringify(e).includes(accountId));
}

const purchaseEntries = async (accountId: string) =>
  (await ledgerEntries(accountId)).filter((e) => e.type === 'purchase');

describe('receipts and invoices of a purchase', () => {
  it('a $10 card purchase yields a receipt and an invoice, linked from the history and named in the event', async () => {
    const { accountId, token } = await fundedAccount(0, 'Receipts Inc');
    const settings = await call('PUT', '/v1/notifications', {
      token,
      body: {
        recipients: ['books@receipts.example'],
        low_balance_threshold: null,
        events: { low_balance: true, auto_refill: true, spend_limit: true, invoices: true, receipts: true },
      },
    });
    expect(settings.status).toBe(200);
    const { purchaseId, sessionId } = await checkout(token, 10);

    // The session asks Stripe for an invoice made out to the account's customer, naming the purchase.
    const session = await payments.stripe.checkout.sessions.retrieve(sessionId);
    expect(session.invoice_creation?.enabled).toBe(true);
    expect(session.invoice_creation?.invoice_data.metadata).toEqual({
      account_id: accountId,
      purchase_id: purchaseId,
    });
    expect(session.customer).toMatch(/^cus_/);

    payByCard(sessionId);
    await payments.emulator.control.idle();

    const item = await listed(token, purchaseId);
    expect(item).toMatchObject({ status: 'paid' });
    expect(item?.receipt_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/receipts\/ch_/);
    expect(item?.invoice_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/invoices\/in_/);
    const receiptPage = await fetch(item!.receipt_url!);
    expect(receiptPage.status).toBe(200);
    expect(await receiptPage.text()).toContain('Visa •••• 4242');
    const invoicePage = await fetch(item!.invoice_url!);
    expect(invoicePage.status).toBe(200);
    expect(await invoicePage.text()).toContain('This invoice is paid.');

    // The invoice itself: paid, $10, made out to the account's customer, with a PDF.
    const paid = await payments.stripe.checkout.sessions.retrieve(sessionId, { expand: ['invoice'] });
    const invoice = paid.invoice as Stripe.Invoice;
    expect(invoice).toMatchObject({
      status: 'paid',
      amount_paid: 1000,
      customer: session.customer,
      customer_name: 'Receipts Inc',
      hosted_invoice_url: item!.invoice_url,
      metadata: { account_id: accountId, purchase_id: purchaseId },
    });
    // Its invoice.* events are acknowledged as ignored (not a postpaid invoice), without a Stripe call.
    const invoiceEvents = payments.emulator.control
      .events()
      .filter((e) => e.type.startsWith('invoice.') && (e.data.object as Stripe.Invoice).id === invoice.id);
    expect(invoiceEvents.map((e) => e.type)).toContain('invoice.paid');
    for (const event of invoiceEvents) {
      expect((await deliver(event)).body).toMatchObject({ outcome: 'ignored' });
    }
    expect(
      payments.emulator.control.apiRequests().filter((r) => r.path === `/v1/invoices/${invoice.id}`),
    ).toEqual([]);
    const pdf = await fetch(invoice.invoice_pdf!);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect((await pdf.text()).startsWith('%PDF-')).toBe(true);

    // The event carries what the receipt email needs.
    const events = await eventsOf(accountId, 'credits.purchase.succeeded');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      amount: 10,
      purchase_id: purchaseId,
      payment_method_type: 'card',
      payment_method: 'Visa •••• 4242',
      receipt_url: item!.receipt_url,
      invoice_url: item!.invoice_url,
    });
    // …and the notify worker emails it: one receipt to the account's recipient, with the receipt link.
    const receipts = caughtMail().filter((mail) => mail.account_id === accountId);
    expect(receipts).toHaveLength(1);
    expect(receipts[0]).toMatchObject({
      to: ['books@receipts.example'],
      event: 'credits.purchase.succeeded',
      subject: 'Receipt for your $10.00 purchase',
    });
    expect(receipts[0]!.text).toContain('Visa •••• 4242');
    expect(receipts[0]!.text).toContain(item!.receipt_url!);
    expect(receipts[0]!.html).toContain(`href="${item!.receipt_url!}"`);
  });

  it('names the invoice in the event when checkout.session.completed arrives before payment_intent.succeeded', async () => {
    const { accountId, token } = await fundedAccount(0);
    payments.emulator.setWebhookUrl(undefined); // hold every delivery back
    const { purchaseId, sessionId } = await checkout(token, 10);
    payByCard(sessionId);
    const held = eventsOfAccount(accountId);

    const completed = held.find((e) => e.type === 'checkout.session.completed')!;
    expect((await deliver(completed)).status).toBe(200);
    for (const event of held) expect((await deliver(event)).status).toBe(200);

    const item = await listed(token, purchaseId);
    expect(item?.invoice_url).toMatch(/\/invoices\/in_/);
    const events = await eventsOf(accountId, 'credits.purchase.succeeded');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ invoice_url: item!.invoice_url, receipt_url: item!.receipt_url });
    expect(await purchaseEntries(accountId)).toHaveLength(1);
  });

  it('credits once without the invoice link when Stripe fails reading it, and fills the link in later', async () => {
    const { accountId, token } = await fundedAccount(0);
    payments.emulator.setWebhookUrl(undefined); // hold every delivery back
    const { purchaseId, sessionId } = await checkout(token, 10);
    payByCard(sessionId);
    const held = eventsOfAccount(accountId);

    // Every read of the session fails (the SDK's retry included) while payment_intent.succeeded is handled.
    payments.emulator.control.failRequests({ method: 'GET', path: /^\/v1\/checkout\/sessions\//, times: 2 });
    const succeeded = held.find((e) => e.type === 'payment_intent.succeeded')!;
    expect((await deliver(succeeded)).status).toBe(200);

    expect((await accountMoney(accountId)).balance).toBe(10_000_000);
    const [event] = await eventsOf(accountId, 'credits.purchase.succeeded');
    expect(event).toMatchObject({ payment_method: 'Visa •••• 4242', receipt_url: expect.any(String) });
    expect(event).not.toHaveProperty('invoice_url');
    expect(await listed(token, purchaseId)).toMatchObject({
      status: 'paid',
      receipt_url: event!.receipt_url,
      invoice_url: null,
    });

    // Reading the purchase tries again; Stripe still failing answers the purchase as it is.
    payments.emulator.control.failRequests({ method: 'GET', path: /^\/v1\/payment_intents\//, times: 2 });
    const unchanged = await purchase(token, purchaseId);
    expect(unchanged.status).toBe(200);
    expect(unchanged.body).toMatchObject({ status: 'paid', invoice_url: null });

    // Stripe is back: the next read fills the link in.
    const filled = await purchase(token, purchaseId);
    expect(filled.status).toBe(200);
    const invoiceUrl = (filled.body as PurchaseItem).invoice_url;
    expect(invoiceUrl).toMatch(/\/invoices\/in_/);
    expect((await fetch(invoiceUrl!)).status).toBe(200);
    expect((await listed(token, purchaseId))?.invoice_url).toBe(invoiceUrl);

    // Every held event delivered afterwards changes nothing: one credit, one event.
    for (const held_event of held) expect((await deliver(held_event)).status).toBe(200);
    expect((await accountMoney(accountId)).balance).toBe(10_000_000);
    expect(await purchaseEntries(accountId)).toHaveLength(1);
    expect(await eventsOf(accountId, 'credits.purchase.succeeded')).toHaveLength(1);
  });

  it('a webhook that fails reading the session is redelivered and then fills the invoice link', async () => {
    const { accountId, token } = await fundedAccount(0);
    payments.emulator.setWebhookUrl(undefined);
    const { purchaseId, sessionId } = await checkout(token, 10);
    payByCard(sessionId);
    const held = eventsOfAccount(accountId);
    payments.emulator.control.failRequests({ method: 'GET', path: /^\/v1\/checkout\/sessions\//, times: 4 });
    const succeeded = held.find((e) => e.type === 'payment_intent.succeeded')!;
    const completed = held.find((e) => e.type === 'checkout.session.completed')!;

    expect((await deliver(succeeded)).status).toBe(200); // credited, the invoice link left out
    expect((await deliver(completed)).status).toBeGreaterThanOrEqual(500); // Stripe retries it
    expect((await listed(token, purchaseId))?.invoice_url).toBeNull();
    expect((await deliver(completed)).status).toBe(200); // the retry

    expect((await listed(token, purchaseId))?.invoice_url).toMatch(/\/invoices\/in_/);
    expect((await accountMoney(accountId)).balance).toBe(10_000_000);
    expect(await purchaseEntries(accountId)).toHaveLength(1);
    expect(await eventsOf(accountId, 'credits.purchase.succeeded')).toHaveLength(1);
  });
});
