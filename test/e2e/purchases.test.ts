// Buying credits as a new user would, over HTTP against the local stack with its Stripe emulator: the
// hosted checkout page is completed with a form POST, and the balance is read back through the API.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import { eventually } from '../support/eventually.ts';

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    adminApiKey: 'e2e-admin',
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `e2e-pay-${randomUUID().slice(0, 8)}`,
    seedDemo: true,
    runJobs: false,
    quiet: true,
    stripe: { fundingDelayMs: 300, webhookRetryBaseMs: 50 },
  });
});

afterAll(async () => {
  await stack?.stop();
});

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.demo!.token}`, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const balance = async () => (await api('GET', '/v1/credits')).body.balance as number;

/** Submits the hosted checkout page the way a browser form does. */
async function submit(checkoutUrl: string, fields: Record<string, string>) {
  const response = await fetch(checkoutUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
  await response.text();
  return response.status;
}

describe('buying credits on npm start', () => {
  it('declines 9995, then pays the same session with 4242: paid, and exactly +25', async () => {
    const before = await balance();
    const checkout = await api('POST', '/v1/billing/checkout', { amount: 25 });
    expect(checkout.status).toBe(201);
    const { purchase_id, checkout_url } = checkout.body;

    expect(await submit(checkout_url, { payment_method: 'card', card_number: '4000000000009995' })).toBe(402);
    expect((await api('GET', `/v1/billing/purchases/${purchase_id}`)).body.status).toBe('pending');
    expect(await balance()).toBe(before);

    expect(await submit(checkout_url, { payment_method: 'card', card_number: '4242424242424242' })).toBe(303);
    const paid = await eventually(
      () => api('GET', `/v1/billing/purchases/${purchase_id}`),
      (r) => r.body.status === 'paid',
    );
    expect(paid.body).toMatchObject({ status: 'paid', amount: 25, payment_method_type: 'card' });
    expect(await balance()).toBe(before + 25);
  });

  it('keeps a $30 bank transfer pending, then pays it when the money arrives', async () => {
    const before = await balance();
    const { purchase_id, checkout_url } = (await api('POST', '/v1/billing/checkout', { amount: 30 })).body;
    expect(await submit(checkout_url, { payment_method: 'bank_transfer' })).toBe(303);
    expect((await api('GET', `/v1/billing/purchases/${purchase_id}`)).body.status).toBe('pending');
    const paid = await eventually(
      () => api('GET', `/v1/billing/purchases/${purchase_id}`),
      (r) => r.body.status === 'paid',
    );
    expect(paid.body.status).toBe('paid');
    expect(await balance()).toBe(before + 30);
  });

  it('pays $5 by PayPal, and the ledger shows one entry per purchase with its payment reference', async () => {
    const before = await balance();
    const { purchase_id, checkout_url } = (await api('POST', '/v1/billing/checkout', { amount: 5 })).body;
    expect(await submit(checkout_url, { payment_method: 'paypal' })).toBe(303);
    await eventually(
      () => api('GET', `/v1/billing/purchases/${purchase_id}`),
      (r) => r.body.status === 'paid',
    );
    expect(await balance()).toBe(before + 5);
    const ledger = (await api('GET', '/v1/transactions?limit=100')).body.data as Array<{
      type: string;
      reference?: string;
      amount: number;
    }>;
    const purchases = ledger.filter((e) => e.type === 'purchase');
    expect(purchases.map((e) => e.amount).sort((a, b) => a - b)).toEqual([5, 25, 30]);
    for (const entry of purchases) expect(entry.reference).toMatch(/^stripe:pi:pi_/);
  });

  it('answers 400 to a forged webhook and changes nothing', async () => {
    const before = await balance();
    const response = await fetch(`${stack.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=forged' },
      body: JSON.stringify({
        id: 'evt_forged',
        type: 'payment_intent.succeeded',
        data: { object: { id: 'pi_x' } },
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'invalid_signature' });
    expect(await balance()).toBe(before);
  });

  it.each([[4.99], [10_000.01], [25.001], ['25'], [null]])(
    'refuses the amount %s with 400',
    async (amount) => {
      const response = await api('POST', '/v1/billing/checkout', { amount });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('invalid_request');
    },
  );
});
