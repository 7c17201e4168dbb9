// Stripe emulator contract: what happens after a checkout: off-session charges per saved test card,
// refunds, disputes, the card updater and detaching a saved method.
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, objectId, openSession, startHarness, submitPage } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

/** Pays a session with `cardNumber` and answers the saved method and the paid intent. */
async function paidWith(cardNumber: string, overrides: Partial<Stripe.Checkout.SessionCreateParams> = {}) {
  const { customer, session } = await openSession(h.stripe, overrides);
  const answer = await submitPage(session, { payment_method: 'card', card_number: cardNumber });
  expect(answer.status).toBe(200);
  const done = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
  const intent = done.payment_intent as Stripe.PaymentIntent;
  return { customer, intent, methodId: intent.payment_method as string };
}

function offSession(customer: string, paymentMethod: string, key?: string) {
  return h.stripe.paymentIntents.create(
    {
      amount: 2000,
      currency: 'usd',
      customer,
      payment_method: paymentMethod,
      off_session: true,
      confirm: true,
      metadata: { account_id: 'acc_1', refill_id: 'ref_1' },
    },
    key ? { idempotencyKey: key } : {},
  );
}

describe('off-session charges with a saved card', () => {
  it('4242: every later charge succeeds', async () => {
    const { customer, methodId } = await paidWith('4242424242424242');
    const charge = await offSession(customer.id, methodId, 'refill-4242');
    expect(charge).toMatchObject({ status: 'succeeded', amount_received: 2000, payment_method: methodId });
    expect(charge.latest_charge).toMatch(/^ch_/);
    const replay = await offSession(customer.id, methodId, 'refill-4242');
    expect(replay.id).toBe(charge.id);
    await h.receiver.waitFor('payment_intent.succeeded', objectId(charge.id));
  });

  it('3184: pays on the page, but later charges fail with authentication_required', async () => {
    const { customer, intent, methodId } = await paidWith('4000002760003184');
    expect(intent.status).toBe('succeeded');
    const error = await offSession(customer.id, methodId, 'refill-3184').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    const cardError = error as Stripe.errors.StripeCardError;
    expect(cardError).toMatchObject({ statusCode: 402, code: 'authentication_required' });
    expect(cardError.payment_intent).toMatchObject({
      status: 'requires_payment_method',
      last_payment_error: { code: 'authentication_required' },
    });
    const stored = await h.stripe.paymentIntents.retrieve(cardError.payment_intent!.id);
    expect(stored.status).toBe('requires_payment_method');
    await h.receiver.waitFor('payment_intent.payment_failed', objectId(stored.id));
    // The 402 is the key's answer: a retry with the same key replays it rather than charging again.
    const replay = await offSession(customer.id, methodId, 'refill-3184').catch((e: unknown) => e);
    expect((replay as Stripe.errors.StripeCardError).payment_intent?.id).toBe(stored.id);
  });

  it('0341: pays and is saved, but later charges are declined with card_declined', async () => {
    const { customer, methodId } = await paidWith('4000000000000341');
    const error = await offSession(customer.id, methodId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error).toMatchObject({ code: 'card_declined', decline_code: 'generic_decline' });
  });

  it('refuses a method that was not saved (no setup_future_usage) for a second charge', async () => {
    const { customer, methodId } = await paidWith('4242424242424242', { payment_method_options: {} });
    const methods = await h.stripe.customers.listPaymentMethods(customer.id);
    expect(methods.data).toEqual([]);
    const error = await offSession(customer.id, methodId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ param: 'payment_method' });
  });
});

describe('refunds', () => {
  it('refunds partially, then the rest, updating the charge and emitting charge.refunded', async () => {
    const { intent } = await paidWith('4242424242424242');
    const chargeId = intent.latest_charge as string;
    const partial = await h.stripe.refunds.create({ payment_intent: intent.id, amount: 1000 });
    expect(partial).toMatchObject({ object: 'refund', status: 'succeeded', amount: 1000, charge: chargeId });
    const first = await h.receiver.waitFor('charge.refunded', objectId(chargeId));
    expect(first.event.data.object).toMatchObject({ amount_refunded: 1000, refunded: false });

    const tooMuch = await h.stripe.refunds
      .create({ charge: chargeId, amount: 5000 })
      .catch((e: unknown) => e);
    expect(tooMuch).toMatchObject({ statusCode: 400, code: 'amount_too_large', param: 'amount' });

    const rest = await h.stripe.refunds.create({ charge: chargeId });
    expect(rest.amount).toBe(1500);
    const charge = await h.stripe.charges.retrieve(chargeId);
    expect(charge).toMatchObject({ amount_refunded: 2500, refunded: true, payment_intent: intent.id });
    await h.receiver.waitFor(
      'charge.refunded',
      (e) => (e.data.object as Stripe.Charge).id === chargeId && (e.data.object as Stripe.Charge).refunded,
    );
    const listed = [];
    for await (const refund of h.stripe.refunds.list({ charge: chargeId, limit: 1 })) listed.push(refund.id);
    expect(listed).toEqual([rest.id, partial.id]);

    const again = await h.stripe.refunds.create({ charge: chargeId }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'charge_already_refunded' });
  });
});

describe('disputes', () => {
  it('opens a dispute through the control endpoint: charge disputed, charge.dispute.created', async () => {
    const { intent } = await paidWith('4242424242424242');
    const chargeId = intent.latest_charge as string;
    const answer = await fetch(`${h.emulator.url}/__emulator/charges/${chargeId}/dispute`, {
      method: 'POST',
    });
    expect(answer.status).toBe(200);
    const dispute = (await answer.json()) as Stripe.Dispute;
    expect(dispute).toMatchObject({
      object: 'dispute',
      charge: chargeId,
      payment_intent: intent.id,
      amount: 2500,
      status: 'needs_response',
    });
    expect((await h.stripe.charges.retrieve(chargeId)).disputed).toBe(true);
    const event = await h.receiver.waitFor('charge.dispute.created', objectId(dispute.id));
    expect(event.event.data.object).toMatchObject({ charge: chargeId, amount: 2500 });
    const refund = await h.stripe.refunds.create({ charge: chargeId }).catch((e: unknown) => e);
    expect(refund).toMatchObject({ code: 'charge_disputed' });

    const closed = await h.stripe.disputes.close(dispute.id);
    expect(closed.status).toBe('lost');
    await h.receiver.waitFor('charge.dispute.closed', objectId(dispute.id));
  });
});

describe('saved methods', () => {
  it('the card updater reports new details with payment_method.automatically_updated', async () => {
    const { methodId } = await paidWith('4242424242424242');
    const answer = await fetch(`${h.emulator.url}/__emulator/payment_methods/${methodId}/update_card`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ exp_month: 4, exp_year: 2031, last4: '1881' }),
    });
    expect(answer.status).toBe(200);
    const event = await h.receiver.waitFor('payment_method.automatically_updated', objectId(methodId));
    expect(event.event.data.object).toMatchObject({ card: { exp_month: 4, exp_year: 2031, last4: '1881' } });
    const method = await h.stripe.paymentMethods.retrieve(methodId);
    expect(method.card).toMatchObject({ exp_month: 4, exp_year: 2031, last4: '1881' });
  });

  it('detaching forgets the method (and the customer default), with payment_method.detached', async () => {
    const { customer, methodId } = await paidWith('4242424242424242');
    await h.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: methodId } });
    const detached = await h.stripe.paymentMethods.detach(methodId);
    expect(detached.customer).toBeNull();
    const event = await h.receiver.waitFor('payment_method.detached', objectId(methodId));
    expect(event.event.data.previous_attributes).toEqual({ customer: customer.id });
    const after = await h.stripe.customers.retrieve(customer.id);
    expect((after as Stripe.Customer).invoice_settings.default_payment_method).toBeNull();
    const error = await offSession(customer.id, methodId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
  });
});
