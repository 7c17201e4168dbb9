// Stripe emulator contract: Checkout Sessions and the hosted page, per test card and payment method, with
// the webhooks Stripe sends for each outcome (verified with `stripe.webhooks.constructEvent`).
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, objectId, openSession, startHarness, submitPage } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

describe('checkout with a card', () => {
  it('4242 pays: session complete and paid, PaymentIntent succeeded, card saved, events delivered', async () => {
    const { customer, session } = await openSession(h.stripe);
    expect(session).toMatchObject({
      status: 'open',
      payment_status: 'unpaid',
      payment_intent: null,
      amount_total: 2500,
      currency: 'usd',
      url: `${h.emulator.url}/checkout/${session.id}`,
      payment_method_types: ['card', 'paypal', 'customer_balance'],
    });

    const page = await fetch(session.url!);
    expect(page.status).toBe(200);
    const markup = await page.text();
    expect(markup).toContain('$25.00');
    expect(markup).toMatch(/<label[^>]*for="card_number"/);

    const paid = await submitPage(
      session,
      { payment_method: 'card', card_number: '4242 4242 4242 4242' },
      'html',
    );
    expect(paid.status).toBe(303);
    expect(paid.headers.get('location')).toBe(
      `https://app.example.com/billing/return?session_id=${session.id}`,
    );

    const done = await h.stripe.checkout.sessions.retrieve(session.id, {
      expand: ['payment_intent.latest_charge', 'payment_intent.payment_method'],
    });
    expect(done).toMatchObject({ status: 'complete', payment_status: 'paid' });
    const intent = done.payment_intent as Stripe.PaymentIntent;
    expect(intent).toMatchObject({
      status: 'succeeded',
      amount: 2500,
      amount_received: 2500,
      customer: customer.id,
      metadata: { account_id: 'acc_1', purchase_id: 'pur_1' },
      // Per-method saving shows on the method's options; the intent's own setup_future_usage stays null.
      setup_future_usage: null,
      payment_method_options: { card: { setup_future_usage: 'off_session' } },
    });
    expect(intent.latest_charge).toMatchObject({
      object: 'charge',
      status: 'succeeded',
      paid: true,
      amount: 2500,
    });
    const method = intent.payment_method as Stripe.PaymentMethod;
    expect(method).toMatchObject({
      type: 'card',
      customer: customer.id,
      card: { brand: 'visa', last4: '4242' },
    });
    expect(method.card?.exp_year).toBeGreaterThan(new Date().getUTCFullYear());

    const saved = await h.stripe.customers.listPaymentMethods(customer.id);
    expect(saved.data.map((m) => m.id)).toEqual([method.id]);
    const updated = await h.stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: method.id },
    });
    expect(updated.invoice_settings.default_payment_method).toBe(method.id);

    const completed = await h.receiver.waitFor('checkout.session.completed', objectId(session.id));
    expect(completed.event.data.object).toMatchObject({ payment_status: 'paid', status: 'complete' });
    const succeeded = await h.receiver.waitFor('payment_intent.succeeded', objectId(intent.id));
    expect(succeeded.event.data.object).toMatchObject({
      status: 'succeeded',
      latest_charge: expect.stringMatching(/^ch_/),
    });
    await h.receiver.waitFor(
      'charge.succeeded',
      (e) => (e.data.object as Stripe.Charge).payment_intent === intent.id,
    );
    await h.receiver.waitFor('payment_method.attached', objectId(method.id));
    expect(completed.event).toMatchObject({
      object: 'event',
      livemode: false,
      api_version: expect.any(String),
    });
    // Stripe's bodies are pretty-printed JSON; the signature covers exactly those bytes.
    expect(completed.raw).toContain('\n  "id": "evt_');
    expect(h.receiver.rejected).toEqual([]);
  });

  it('9995 is declined: the page re-renders with the error, the session stays open, a second try pays', async () => {
    const { session } = await openSession(h.stripe);
    const declined = await submitPage(
      session,
      { payment_method: 'card', card_number: '4000000000009995' },
      'html',
    );
    expect(declined.status).toBe(402);
    const markup = await declined.text();
    expect(markup).toContain('role="alert"');
    expect(markup).toContain('insufficient funds');

    const open = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    expect(open.status).toBe('open');
    const intent = open.payment_intent as Stripe.PaymentIntent;
    expect(intent).toMatchObject({
      status: 'requires_payment_method',
      last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' },
    });
    await h.receiver.waitFor('payment_intent.payment_failed', objectId(intent.id));

    const json = await submitPage(session, { payment_method: 'card', card_number: '4000000000009995' });
    expect(json.status).toBe(402);
    expect(await json.json()).toMatchObject({
      error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' },
      status: 'open',
    });

    const retry = await submitPage(session, { payment_method: 'card', card_number: '4242424242424242' });
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({
      status: 'complete',
      payment_status: 'paid',
      redirect: `https://app.example.com/billing/return?session_id=${session.id}`,
      payment_intent: intent.id,
    });
  });

  it('any other number is refused as incorrect, with no PaymentIntent created', async () => {
    const { session } = await openSession(h.stripe);
    const wrong = await submitPage(session, { payment_method: 'card', card_number: '4111111111111112' });
    expect(wrong.status).toBe(402);
    expect(await wrong.json()).toMatchObject({ error: { code: 'incorrect_number' } });
    const still = await h.stripe.checkout.sessions.retrieve(session.id);
    expect(still).toMatchObject({ status: 'open', payment_intent: null });
  });

  it('paying a completed or expired session is refused with 409', async () => {
    const { session } = await openSession(h.stripe);
    await submitPage(session, { payment_method: 'card', card_number: '4242424242424242' });
    const twice = await submitPage(
      session,
      { payment_method: 'card', card_number: '4242424242424242' },
      'html',
    );
    expect(twice.status).toBe(409);

    const { session: other } = await openSession(h.stripe);
    await h.stripe.checkout.sessions.expire(other.id);
    const late = await submitPage(other, { payment_method: 'card', card_number: '4242424242424242' });
    expect(late.status).toBe(409);
    expect(await late.json()).toMatchObject({ status: 'expired' });
  });
});

describe('checkout with PayPal', () => {
  it('pays and saves the PayPal method for off-session use', async () => {
    const { customer, session } = await openSession(h.stripe);
    const answer = await submitPage(session, { payment_method: 'paypal', paypal_email: 'payer@example.com' });
    expect(answer.status).toBe(200);
    const done = await h.stripe.checkout.sessions.retrieve(session.id, {
      expand: ['payment_intent.payment_method'],
    });
    expect(done.payment_status).toBe('paid');
    const method = (done.payment_intent as Stripe.PaymentIntent).payment_method as Stripe.PaymentMethod;
    expect(method).toMatchObject({
      type: 'paypal',
      customer: customer.id,
      paypal: { payer_email: 'payer@example.com' },
    });

    const later = await h.stripe.paymentIntents.create({
      amount: 1500,
      currency: 'usd',
      customer: customer.id,
      payment_method: method.id,
      off_session: true,
      confirm: true,
    });
    expect(later.status).toBe('succeeded');
  });
});

describe('checkout with a bank transfer', () => {
  it('completes unpaid with funding instructions, then is funded after the delay', async () => {
    const { session } = await openSession(h.stripe);
    const answer = await submitPage(session, { payment_method: 'bank_transfer' });
    expect(await answer.json()).toMatchObject({ status: 'complete', payment_status: 'unpaid' });

    const completed = await h.receiver.waitFor('checkout.session.completed', objectId(session.id));
    expect(completed.event.data.object).toMatchObject({ payment_status: 'unpaid' });
    const waiting = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    const intent = waiting.payment_intent as Stripe.PaymentIntent;
    expect(intent).toMatchObject({
      status: 'requires_action',
      next_action: {
        type: 'display_bank_transfer_instructions',
        display_bank_transfer_instructions: {
          amount_remaining: 2500,
          currency: 'usd',
          type: 'us_bank_transfer',
        },
      },
    });

    await h.receiver.waitFor('checkout.session.async_payment_succeeded', objectId(session.id));
    const funded = await h.receiver.waitFor('payment_intent.succeeded', objectId(intent.id));
    expect(funded.event.data.object).toMatchObject({ status: 'succeeded', amount_received: 2500 });
    const after = await h.stripe.checkout.sessions.retrieve(session.id);
    expect(after.payment_status).toBe('paid');
  });

  it('is partially funded, then funded, through the test control', async () => {
    const manual = await startHarness({ fundingDelayMs: Number.POSITIVE_INFINITY });
    try {
      const { session } = await openSession(manual.stripe);
      await submitPage(session, { payment_method: 'bank_transfer' });
      const intentId = (await manual.stripe.checkout.sessions.retrieve(session.id)).payment_intent as string;

      const partial = await fetch(`${manual.emulator.url}/__emulator/payment_intents/${intentId}/fund`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 1000 }),
      });
      expect(partial.status).toBe(200);
      expect(await partial.json()).toMatchObject({
        status: 'requires_action',
        next_action: { display_bank_transfer_instructions: { amount_remaining: 1500 } },
      });
      const event = await manual.receiver.waitFor('payment_intent.partially_funded', objectId(intentId));
      expect(event.event.data.object).toMatchObject({
        next_action: { display_bank_transfer_instructions: { amount_remaining: 1500 } },
      });
      expect((await manual.stripe.checkout.sessions.retrieve(session.id)).payment_status).toBe('unpaid');

      expect(manual.emulator.control.fund(intentId).status).toBe('succeeded');
      await manual.receiver.waitFor('checkout.session.async_payment_succeeded', objectId(session.id));
    } finally {
      await manual.stop();
    }
  });

  it('reports a transfer that never arrives as async_payment_failed', async () => {
    const manual = await startHarness({ fundingDelayMs: Number.POSITIVE_INFINITY });
    try {
      const { session } = await openSession(manual.stripe);
      await submitPage(session, { payment_method: 'bank_transfer' });
      const intentId = (await manual.stripe.checkout.sessions.retrieve(session.id)).payment_intent as string;
      expect(manual.emulator.control.failFunding(intentId).status).toBe('requires_payment_method');
      await manual.receiver.waitFor('checkout.session.async_payment_failed', objectId(session.id));
      await manual.receiver.waitFor('payment_intent.payment_failed', objectId(intentId));
    } finally {
      await manual.stop();
    }
  });
});

describe('expiry', () => {
  it('expires an open session (and cancels the intent of a declined attempt)', async () => {
    const { session } = await openSession(h.stripe);
    await submitPage(session, { payment_method: 'card', card_number: '4000000000009995' });
    const expired = await h.stripe.checkout.sessions.expire(session.id);
    expect(expired.status).toBe('expired');
    const intent = await h.stripe.paymentIntents.retrieve(expired.payment_intent as string);
    expect(intent.status).toBe('canceled');
    await h.receiver.waitFor('checkout.session.expired', objectId(session.id));

    const again = await h.stripe.checkout.sessions.expire(session.id).catch((e: unknown) => e);
    expect(again).toMatchObject({ statusCode: 400 });
  });

  it('completes without HTTP through control.completeCheckout', async () => {
    const { session } = await openSession(h.stripe);
    const result = h.emulator.control.completeCheckout(session.id, {
      payment_method: 'card',
      card_number: '4242424242424242',
    });
    expect(result.session).toMatchObject({ status: 'complete', payment_status: 'paid' });
    expect(result.redirect).toBe(`https://app.example.com/billing/return?session_id=${session.id}`);
  });
});

describe('invoice creation', () => {
  const invoiceCreation = {
    invoice_creation: {
      enabled: true,
      invoice_data: { description: 'Prepaid API credits', metadata: { purchase_id: 'pur_1' } },
    },
  };

  it('a paid card session gets a paid invoice with a hosted page and a PDF, and its charge a receipt', async () => {
    const { customer, session } = await openSession(h.stripe, invoiceCreation);
    expect(session.invoice_creation).toMatchObject({
      enabled: true,
      invoice_data: { metadata: { purchase_id: 'pur_1' } },
    });
    expect(session.invoice).toBeNull();
    await submitPage(session, { payment_method: 'card', card_number: '4242424242424242' });

    const completed = await h.receiver.waitFor('checkout.session.completed', objectId(session.id));
    const invoiceId = (completed.event.data.object as Stripe.Checkout.Session).invoice as string;
    expect(invoiceId).toMatch(/^in_/);
    await h.receiver.waitFor('invoice.paid', objectId(invoiceId));
    const paid = await h.stripe.checkout.sessions.retrieve(session.id, {
      expand: ['invoice', 'payment_intent.latest_charge'],
    });
    const invoice = paid.invoice as Stripe.Invoice;
    expect(invoice).toMatchObject({
      status: 'paid',
      customer: customer.id,
      customer_name: 'Ada',
      customer_email: 'ada@example.com',
      description: 'Prepaid API credits',
      metadata: { purchase_id: 'pur_1' },
      amount_due: 2500,
      amount_paid: 2500,
      amount_remaining: 0,
      collection_method: 'charge_automatically',
      hosted_invoice_url: `${h.emulator.url}/invoices/${invoiceId}`,
      invoice_pdf: `${h.emulator.url}/invoices/${invoiceId}/pdf`,
    });
    expect(invoice.number).toMatch(/-0001$/);
    expect(invoice.lines.data.map((line) => [line.description, line.amount])).toEqual([
      ['API credits', 2500],
    ]);
    const page = await fetch(invoice.hosted_invoice_url!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('This invoice is paid.');
    const pdf = await fetch(invoice.invoice_pdf!);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(await pdf.text()).toMatch(/^%PDF-1\.4[\s\S]*\(Total: \$25\.00\)[\s\S]*%%EOF\n$/);

    const charge = (paid.payment_intent as Stripe.PaymentIntent).latest_charge as Stripe.Charge;
    expect(charge.receipt_url).toBe(`${h.emulator.url}/receipts/${charge.id}`);
    const receipt = await fetch(charge.receipt_url!);
    expect(receipt.status).toBe(200);
    expect(await receipt.text()).toContain('Visa •••• 4242');
  });

  it('a bank transfer session is invoiced when the transfer arrives, not before', async () => {
    const manual = await startHarness({ fundingDelayMs: Number.POSITIVE_INFINITY });
    try {
      const { session } = await openSession(manual.stripe, invoiceCreation);
      await submitPage(session, { payment_method: 'bank_transfer' });
      const waiting = await manual.stripe.checkout.sessions.retrieve(session.id);
      expect(waiting).toMatchObject({ status: 'complete', payment_status: 'unpaid', invoice: null });

      manual.emulator.control.fund(String(waiting.payment_intent));
      const succeeded = await manual.receiver.waitFor(
        'checkout.session.async_payment_succeeded',
        objectId(session.id),
      );
      const invoiceId = (succeeded.event.data.object as Stripe.Checkout.Session).invoice as string;
      expect(invoiceId).toMatch(/^in_/);
      expect((await manual.stripe.invoices.retrieve(invoiceId)).status).toBe('paid');
    } finally {
      await manual.stop();
    }
  });

  it('is off unless asked for: no invoice, and a declined charge has no receipt', async () => {
    const { session } = await openSession(h.stripe);
    expect(session.invoice_creation).toMatchObject({ enabled: false });
    await submitPage(session, { payment_method: 'card', card_number: '4000000000009995' });
    await submitPage(session, { payment_method: 'card', card_number: '4242424242424242' });
    const paid = await h.stripe.checkout.sessions.retrieve(session.id);
    expect(paid.invoice).toBeNull();
    const charges = await h.stripe.charges.list({ payment_intent: String(paid.payment_intent) });
    expect(charges.data.map((charge) => [charge.status, charge.receipt_url === null])).toEqual([
      ['succeeded', false],
      ['failed', true],
    ]);
  });
});
