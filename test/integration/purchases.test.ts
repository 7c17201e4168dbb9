// Buying credits through Stripe, end to end through the real SDK and the emulator: credited exactly once
// per PaymentIntent whatever arrives first, how often and in which order; refunds and disputes taken back;
// forged webhooks refused with nothing changed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getAccount } from '#shared/accounts/repository.ts';
import { nowMs } from '#shared/clock.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { eventsOf } from '../support/assertions.ts';
import { deliverWebhook, type Payments, startPayments } from '../support/payments.ts';

let payments: Payments;

beforeAll(async () => {
  payments = await startPayments();
});

afterAll(async () => {
  await payments?.stop();
});

afterEach(() => {
  payments.emulator.setWebhookUrl(payments.webhookUrl);
});

async function checkout(token: string, amount: number, key?: string) {
  const response = await call('POST', '/v1/billing/checkout', {
    token,
    body: { amount },
    ...(key ? { headers: { 'idempotency-key': key } } : {}),
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  const { purchase_id, checkout_url } = response.body as { purchase_id: string; checkout_url: string };
  return { purchaseId: purchase_id, sessionId: checkout_url.split('/').pop()! };
}

function pay(
  sessionId: string,
  submission: Parameters<Payments['emulator']['control']['completeCheckout']>[1],
) {
  return payments.emulator.control.completeCheckout(sessionId, submission);
}

const card = (card_number: string) => ({ payment_method: 'card' as const, card_number });

async function settled() {
  await payments.emulator.control.idle();
}

async function purchase(token: string, purchaseId: string) {
  return (await call('GET', `/v1/billing/purchases/${purchaseId}`, { token })).body;
}

function purchaseEntries(entries: Awaited<ReturnType<typeof ledgerEntries>>) {
  return entries.filter((e) => e.type === 'purchase');
}

describe('buying credits by card', () => {
  it('credits exactly the amount once when 4242 pays, and saves the card for auto-refill', async () => {
    const { accountId, token } = await fundedAccount(0);
    const { purchaseId, sessionId } = await checkout(token, 25);
    expect(await purchase(token, purchaseId)).toMatchObject({
      purchase_id: purchaseId,
      amount: 25,
      status: 'pending',
    });

    pay(sessionId, card('4242424242424242'));
    await settled();

    expect((await accountMoney(accountId)).balance).toBe(25_000_000);
    const entries = await ledgerEntries(accountId);
    expect(purchaseEntries(entries)).toHaveLength(1);
    expect(purchaseEntries(entries)[0]!.reference).toMatch(/^stripe:pi:pi_/);
    expect(await purchase(token, purchaseId)).toMatchObject({ status: 'paid', payment_method_type: 'card' });
    const autoRefill = await call('GET', '/v1/billing/auto-refill', { token });
    expect(autoRefill.body.payment_method).toEqual({ type: 'card', brand: 'visa', last4: '4242' });
    expect(await eventsOf(accountId, 'credits.purchase.succeeded')).toHaveLength(1);
  });

  it('credits nothing for a declined card, and the same session can then be paid', async () => {
    const { accountId, token } = await fundedAccount(0);
    const { purchaseId, sessionId } = await checkout(token, 25);

    expect(() => pay(sessionId, card('4000000000009995'))).toThrow();
    await settled();
    expect((await accountMoney(accountId)).balance).toBe(0);
    expect((await purchase(token, purchaseId)).status).toBe('pending');

    pay(sessionId, card('4242424242424242'));
    await settled();
    expect((await accountMoney(accountId)).balance).toBe(25_000_000);
    expect((await purchase(token, purchaseId)).status).toBe('paid');
  });

  it('pays by PayPal and keeps PayPal on file', async () => {
    const { accountId, token } = await fundedAccount(0);
    const { purchaseId, sessionId } = await checkout(token, 5);
    pay(sessionId, { payment_method: 'paypal' });
    await settled();
    expect((await accountMoney(accountId)).balance).toBe(5_000_000);
    expect(await purchase(token, purchaseId)).toMatchObject({
      status: 'paid',
      payment_method_type: 'paypal',
    });
    expect((await call('GET', '/v1/billing/auto-refill', { token })).body.payment_method.type).toBe('paypal');
  });

  it('keeps a bank transfer pending until it is funded, then credits it', async () => {
    const { accountId, token } = await fundedAccount(0);
    const { purchaseId, sessionId } = await checkout(token, 30);
    const { session } = pay(sessionId, { payment_method: 'bank_transfer' });
    await settled();
    expect(session.payment_status).toBe('unpaid');
    // Pending, and known to be a bank transfer: the dashboard says it waits for the transfer.
    expect(await purchase(token, purchaseId)).toMatchObject({
      status: 'pending',
      payment_method_type: 'customer_balance',
    });
    expect((await accountMoney(accountId)).balance).toBe(0);

    const intentId = String(session.payment_intent);
    payments.emulator.control.fund(intentId, 1_000); // $10 of $30: partially funded, still pending
    await settled();
    expect((await purchase(token, purchaseId)).status).toBe('pending');
    payments.emulator.control.fund(intentId);
    await settled();

    expect((await accountMoney(accountId)).balance).toBe(30_000_000);
    expect((await purchase(token, purchaseId)).status).toBe('paid');
  });

  it('marks a purchase expired when its session expires, and failed when a transfer never arrives', async () => {
    const { token } = await fundedAccount(0);
    const expiring = await checkout(token, 10);
    await payments.stripe.checkout.sessions.expire(expiring.sessionId);
    await settled();
    expect((await purchase(token, expiring.purchaseId)).status).toBe('expired');

    const transfer = await checkout(token, 10);
    const { session } = pay(transfer.sessionId, { payment_method: 'bank_transfer' });
    payments.emulator.control.failFunding(String(session.payment_intent));
    await settled();
    expect((await purchase(token, transfer.purchaseId)).status).toBe('failed');
  });
});

describe('exactly once, whatever arrives first, how often and in which order', () => {
  it('credits once when every event is delivered three more times and concurrently', async () => {
    const { accountId, token } = await fundedAccount(0);
    const { sessionId } = await checkout(token, 25);
    pay(sessionId, card('4242424242424242'));
    await settled();
    const events = payments.emulator.control.events().filter((e) => JSON.stringify(e).includes(accountId));
    for (let i = 0; i < 3; i++) for (const e of events) payments.emulator.control.resend(e.id);
    await settled();
    const raw = JSON.stringify(events.find((e) => e.type === 'checkout.session.completed'));
    const signature = payments.stripe.webhooks.generateTestHeaderString({
      payload: raw,
      secret: payments.webhookSecret,
      timestamp: Math.floor(nowMs() / 1000),
    });
    const answers = await Promise.all(Array.from({ length: 10 }, () => deliverWebhook(raw, signature)));

    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect((await accountMoney(accountId)).balance).toBe(25_000_000);
    expect(purchaseEntries(await ledgerEntries(accountId))).toHaveLength(1);
    expect(await eventsOf(accountId, 'credits.purchase.succeeded')).toHaveLength(1);
  });

  it('credits once when the async success arrives before the session completion', async () => {
    const { accountId, token } = await fundedAccount(0);
    payments.emulator.setWebhookUrl(undefined); // hold every delivery back
    const { purchaseId, sessionId } = await checkout(token, 30);
    const { session } = pay(sessionId, { payment_method: 'bank_transfer' });
    payments.emulator.control.fund(String(session.payment_intent));
    const mine = payments.emulator.control.events().filter((e) => JSON.stringify(e).includes(accountId));

    // Newest first: async_payment_succeeded and payment_intent.succeeded before checkout.session.completed.
    for (const event of [...mine].reverse()) {
      const raw = JSON.stringify(event);
      const signature = payments.stripe.webhooks.generateTestHeaderString({
        payload: raw,
        secret: payments.webhookSecret,
        timestamp: Math.floor(nowMs() / 1000),
      });
      expect((await deliverWebhook(raw, signature)).status).toBe(200);
    }

    expect(mine.map((e) => e.type)).toContain('checkout.session.async_payment_succeeded');
    expect((await accountMoney(accountId)).balance).toBe(30_000_000);
    expect((await purchase(token, purchaseId)).status).toBe('paid');
    expect(purchaseEntries(await ledgerEntries(accountId))).toHaveLength(1);
  });

  it('credits once when the success redirect races the webhook', async () => {
    const { accountId, token } = await fundedAccount(0);
    const { purchaseId, sessionId } = await checkout(token, 25);
    const { redirect } = pay(sessionId, card('4242424242424242'));
    const query = Object.fromEntries(new URL(redirect!).searchParams);
    const returns = await Promise.all(
      Array.from({ length: 5 }, () => call('GET', '/billing/return', { query })),
    );
    await settled();

    expect(returns.every((r) => r.status === 200)).toBe(true);
    expect((await accountMoney(accountId)).balance).toBe(25_000_000);
    expect(purchaseEntries(await ledgerEntries(accountId))).toHaveLength(1);
    expect((await purchase(token, purchaseId)).status).toBe('paid');
  });

  it('uses one Stripe customer for concurrent first purchases', async () => {
    const { accountId, token } = await fundedAccount(0);
    await Promise.all(Array.from({ length: 6 }, () => checkout(token, 5)));
    const customerId = (await getAccount(accountId))?.stripe_customer_id;
    const customers = await payments.stripe.customers.list({ limit: 100 });
    expect(customerId).toMatch(/^cus_/);
    expect(customers.data.filter((c) => c.metadata.account_id === accountId).map((c) => c.id)).toEqual([
      customerId,
    ]);
  });

  it('replays the same checkout for the same Idempotency-Key', async () => {
    const { token } = await fundedAccount(0);
    const first = await checkout(token, 7, 'buy-7');
    const again = await checkout(token, 7, 'buy-7');
    expect(again).toEqual(first);
  });
});

describe('taking credits back', () => {
  it('takes a refund back even after the credits were spent: the balance goes negative and usage stops', async () => {
    const { accountId, token } = await fundedAccount(0);
    const { sessionId } = await checkout(token, 5);
    const { session } = pay(sessionId, card('4242424242424242'));
    await settled();
    for (let i = 0; i < 3; i++) {
      expect((await call('POST', '/v1/demo/echo', { token, body: { text: 'spend' } })).status).toBe(200);
    }

    await payments.stripe.refunds.create({ payment_intent: String(session.payment_intent) });
    await settled();

    const account = await accountMoney(accountId);
    expect(account.balance).toBe(-6_000);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(-6_000);
    const refused = await call('POST', '/v1/demo/echo', { token, body: { text: 'more' } });
    expect(refused.status).toBe(402);
    expect(await eventsOf(accountId, 'credits.refund.applied')).toHaveLength(1);
  });

  it('takes back each partial refund once', async () => {
    const { accountId, token } = await fundedAccount(0);
    const { sessionId } = await checkout(token, 20);
    const { session } = pay(sessionId, card('4242424242424242'));
    await settled();
    await payments.stripe.refunds.create({ payment_intent: String(session.payment_intent), amount: 500 });
    await payments.stripe.refunds.create({ payment_intent: String(session.payment_intent), amount: 250 });
    await settled();
    expect((await accountMoney(accountId)).balance).toBe(12_500_000);
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'refund')).toHaveLength(2);
  });

  it('takes a disputed payment back once', async () => {
    const { accountId, token } = await fundedAccount(0);
    const { sessionId } = await checkout(token, 10);
    const { session } = pay(sessionId, card('4242424242424242'));
    await settled();
    const intent = await payments.stripe.paymentIntents.retrieve(String(session.payment_intent));
    const dispute = payments.emulator.control.dispute(String(intent.latest_charge));
    await settled();
    const created = payments.emulator.control
      .events('charge.dispute.created')
      .find((e) => (e.data.object as { id: string }).id === dispute.id)!;
    payments.emulator.control.resend(created.id);
    await settled();
    expect((await accountMoney(accountId)).balance).toBe(0);
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'dispute')).toHaveLength(1);
  });
});

describe('the payment method on file', () => {
  it('is forgotten when detached, and refreshed when Stripe updates the card', async () => {
    const { token } = await fundedAccount(0);
    const { sessionId } = await checkout(token, 5);
    const { session } = pay(sessionId, card('4242424242424242'));
    await settled();
    const intent = await payments.stripe.paymentIntents.retrieve(String(session.payment_intent));
    const methodId = String(intent.payment_method);

    payments.emulator.control.updateCard(methodId, { last4: '1881' });
    await settled();
    expect((await call('GET', '/v1/billing/auto-refill', { token })).body.payment_method.last4).toBe('1881');

    await payments.stripe.paymentMethods.detach(methodId);
    await settled();
    expect((await call('GET', '/v1/billing/auto-refill', { token })).body.payment_method).toBeNull();
  });
});

describe('the webhook endpoint', () => {
  async function signedCompletion() {
    const { accountId, token } = await fundedAccount(0);
    payments.emulator.setWebhookUrl(undefined);
    const { sessionId } = await checkout(token, 25);
    pay(sessionId, card('4242424242424242'));
    const event = payments.emulator.control
      .events('checkout.session.completed')
      .find((e) => JSON.stringify(e).includes(accountId))!;
    return { accountId, raw: JSON.stringify(event) };
  }

  it.each([
    ['a forged signature', (raw: string) => ({ raw, secret: 'whsec_forged', age: 0 })],
    ['a stale timestamp', (raw: string) => ({ raw, secret: payments.webhookSecret, age: 600 })],
    [
      'a tampered body',
      (raw: string) => ({ raw: raw.replace('"paid"', '"paid" '), secret: payments.webhookSecret, age: 0 }),
    ],
  ])('answers 400 to %s and changes nothing', async (_name, forge) => {
    const { accountId, raw } = await signedCompletion();
    const signedRaw = JSON.stringify(JSON.parse(raw));
    const { secret, age } = forge(signedRaw);
    const signature = payments.stripe.webhooks.generateTestHeaderString({
      payload: signedRaw,
      secret,
      timestamp: Math.floor(nowMs() / 1000) - age,
    });
    const answer = await deliverWebhook(forge(signedRaw).raw, signature);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: expect.any(String), code: 'invalid_signature' });
    expect((await accountMoney(accountId)).balance).toBe(0);
  });

  it('accepts a base64-encoded body, verified on its exact bytes', async () => {
    const { accountId, raw } = await signedCompletion();
    const signature = payments.stripe.webhooks.generateTestHeaderString({
      payload: raw,
      secret: payments.webhookSecret,
      timestamp: Math.floor(nowMs() / 1000),
    });
    const answer = await deliverWebhook(raw, signature, { base64: true });
    expect(answer.status).toBe(200);
    expect((await accountMoney(accountId)).balance).toBe(25_000_000);
  });

  it('acknowledges event types it does not act on', async () => {
    const raw = JSON.stringify({
      id: 'evt_x',
      object: 'event',
      type: 'customer.created',
      data: { object: { id: 'cus_x' } },
    });
    const signature = payments.stripe.webhooks.generateTestHeaderString({
      payload: raw,
      secret: payments.webhookSecret,
    });
    const answer = await deliverWebhook(raw, signature);
    expect(answer).toMatchObject({ status: 200, body: { received: true, outcome: 'ignored' } });
  });
});

describe('checkout validation', () => {
  it.each([
    ['below the minimum', 4.99],
    ['above the maximum', 10_000.01],
    ['more than 2 decimals', 25.001],
    ['a string', '25'],
    ['negative', -5],
  ])('refuses an amount %s with 400 and creates nothing', async (_name, amount) => {
    const { accountId, token } = await fundedAccount(0);
    const response = await call('POST', '/v1/billing/checkout', { token, body: { amount } });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('invalid_request');
    expect((await getAccount(accountId))?.stripe_customer_id).toBeUndefined();
  });

  it('needs the billing scope', async () => {
    const { token } = await fundedAccount(0);
    const apiOnly = await call('POST', '/v1/tokens', { token, body: { name: 'api', scopes: ['api'] } });
    const response = await call('POST', '/v1/billing/checkout', {
      token: apiOnly.body.token,
      body: { amount: 5 },
    });
    expect(response.status).toBe(403);
  });
});
