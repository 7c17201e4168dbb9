// Stripe emulator contract: the wire protocol as the real SDK meets it (form encoding, auth, errors,
// idempotency, expand, lists).
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseForm } from '../../local/stripe/form.ts';
import { type Harness, openSession, startHarness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

describe('form encoding', () => {
  it.each([
    ['metadata[account_id]=a&metadata[purchase_id]=p', { metadata: { account_id: 'a', purchase_id: 'p' } }],
    ['expand[0]=payment_intent&expand[1]=customer', { expand: { 0: 'payment_intent', 1: 'customer' } }],
    ['a[]=x&a[]=y', { a: { 0: 'x', 1: 'y' } }],
    [
      'payment_method_options[card][setup_future_usage]=off_session',
      { payment_method_options: { card: { setup_future_usage: 'off_session' } } },
    ],
    ['line_items%5B0%5D%5Bquantity%5D=2', { line_items: { 0: { quantity: '2' } } }],
    ['name=Ada%20Lovelace&email=ada%2Bx%40example.com', { name: 'Ada Lovelace', email: 'ada+x@example.com' }],
    ['metadata=', { metadata: '' }],
  ])('parses %s', (text, expected) => {
    expect(parseForm(text)).toEqual(expected);
  });

  it('round-trips nested params and metadata through the SDK', async () => {
    const { session } = await openSession(h.stripe, {
      metadata: { account_id: 'acc_9', 'odd key': 'value with spaces & symbols=?' },
    });
    const fetched = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items'] });
    expect(fetched.metadata).toEqual({ account_id: 'acc_9', 'odd key': 'value with spaces & symbols=?' });
    expect(fetched.payment_method_options?.card?.setup_future_usage).toBe('off_session');
    expect(fetched.payment_method_options?.customer_balance).toMatchObject({
      funding_type: 'bank_transfer',
      bank_transfer: { type: 'us_bank_transfer' },
    });
    expect(fetched.line_items?.data[0]).toMatchObject({
      object: 'item',
      description: 'API credits',
      quantity: 1,
      amount_total: 2500,
      currency: 'usd',
    });
    expect(fetched).toMatchObject({ object: 'checkout.session', livemode: false, amount_total: 2500 });
    expect(fetched.created).toBeTypeOf('number');
  });

  it('refuses parameters it does not know, as Stripe does', async () => {
    const error = await h.stripe.customers
      .create({ name: 'x', nickname: 'y' } as Stripe.CustomerCreateParams)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ code: 'parameter_unknown', param: 'nickname', statusCode: 400 });
  });
});

describe('authentication and errors', () => {
  it('answers a wrong or missing key with a 401 StripeAuthenticationError', async () => {
    const wrong = new Stripe('sk_test_emulator_wrong', {
      ...h.emulator.stripeClientOptions,
      telemetry: false,
    });
    const error = await wrong.customers.create({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error).toMatchObject({ statusCode: 401, type: 'StripeAuthenticationError' });
    const raw = await fetch(`${h.emulator.url}/v1/customers`);
    expect(raw.status).toBe(401);
    expect(await raw.json()).toMatchObject({
      error: { type: 'invalid_request_error', message: expect.any(String) },
    });
  });

  it('answers an unknown id with 404 resource_missing', async () => {
    const error = await h.stripe.paymentIntents.retrieve('pi_missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it('names the parameter when an id passed as one does not exist', async () => {
    const error = await h.stripe.checkout.sessions
      .create({
        mode: 'payment',
        customer: 'cus_missing',
        line_items: [
          { quantity: 1, price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'x' } } },
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'customer' });
  });

  it('validates like Stripe: missing params, minimum amounts, expiry window', async () => {
    const missing = await h.stripe.checkout.sessions.create({ mode: 'payment' }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'parameter_missing', param: 'line_items' });
    const small = await h.stripe.paymentIntents
      .create({ amount: 20, currency: 'usd' })
      .catch((e: unknown) => e);
    expect(small).toMatchObject({ code: 'amount_too_small', param: 'amount' });
    const soon = await openSession(h.stripe, { expires_at: Math.floor(Date.now() / 1000) + 60 }).catch(
      (e: unknown) => e,
    );
    expect(soon).toMatchObject({ param: 'expires_at', statusCode: 400 });
  });
});

describe('idempotency', () => {
  it('replays the first answer for the same key and parameters', async () => {
    const params = { name: 'Ada', metadata: { account_id: 'acc_idem' } };
    const first = await h.stripe.customers.create(params, { idempotencyKey: 'customer-acc_idem' });
    const again = await h.stripe.customers.create(params, { idempotencyKey: 'customer-acc_idem' });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    const created = h.emulator.control
      .events('customer.created')
      .filter((e) => (e.data.object as { id: string }).id === first.id);
    expect(created).toHaveLength(1);
  });

  it('raises StripeIdempotencyError when the key comes back with other parameters', async () => {
    await h.stripe.customers.create({ name: 'One' }, { idempotencyKey: 'key-reused' });
    const error = await h.stripe.customers
      .create({ name: 'Two' }, { idempotencyKey: 'key-reused' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error).toMatchObject({ statusCode: 400, type: 'StripeIdempotencyError' });
  });

  it('keeps no answer for a request that failed validation, so a fixed retry is judged on its own', async () => {
    const customer = await h.stripe.customers.create({ name: 'No card' });
    const params = {
      amount: 1000,
      currency: 'usd',
      customer: customer.id,
      payment_method: 'pm_missing',
      confirm: true,
    };
    const first = await h.stripe.paymentIntents
      .create(params, { idempotencyKey: 'pi-missing' })
      .catch((e) => e);
    // Validation failures are not kept: the same key may be retried once the request is fixed.
    expect(first).toMatchObject({ statusCode: 400, code: 'resource_missing' });
    const fixed = await h.stripe.paymentIntents.create(
      { amount: 1000, currency: 'usd', customer: customer.id },
      { idempotencyKey: 'pi-missing' },
    );
    expect(fixed.status).toBe('requires_payment_method');
  });
});

describe('expand and lists', () => {
  it('expands nested paths and pages lists newest first', async () => {
    const customers = [];
    for (const name of ['L1', 'L2', 'L3'])
      customers.push(await h.stripe.customers.create({ name, email: 'list@example.com' }));
    const page = await h.stripe.customers.list({ email: 'list@example.com', limit: 2 });
    expect(page).toMatchObject({ object: 'list', has_more: true, url: '/v1/customers' });
    expect(page.data.map((c) => c.name)).toEqual(['L3', 'L2']);
    const all = [];
    for await (const customer of h.stripe.customers.list({ email: 'list@example.com', limit: 1 }))
      all.push(customer.name);
    expect(all).toEqual(['L3', 'L2', 'L1']);
    const bad = await h.stripe.customers
      .retrieve(customers[0]!.id, { expand: ['nothing_here'] })
      .catch((e) => e);
    expect(bad).toMatchObject({ statusCode: 400, param: 'expand' });
  });
});
