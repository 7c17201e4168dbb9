// Stripe emulator contract: events and webhook delivery (signatures, retries, resend, the events API,
// timestamps on the shared clock).
import { createHmac } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nowMs, resetClock, setClock } from '#shared/clock.ts';
import { type Harness, objectId, startHarness, WEBHOOK_SECRET } from './harness.ts';

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

describe('webhook delivery', () => {
  it('signs each delivery like Stripe: t=<unix>,v1=<HMAC-SHA256 of "t.body">', async () => {
    const customer = await h.stripe.customers.create({ name: 'Signed' });
    const delivery = await h.receiver.waitFor('customer.created', objectId(customer.id));
    const [t, v1] = delivery.signature.split(',').map((part) => part.split('=')[1]);
    const expected = createHmac('sha256', WEBHOOK_SECRET).update(`${t}.${delivery.raw}`).digest('hex');
    expect(v1).toBe(expected);
    const verifier = new Stripe('sk_test_unused', { telemetry: false });
    expect(() => verifier.webhooks.constructEvent(delivery.raw, delivery.signature, 'whsec_other')).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
    // Re-serialising the parsed body (a common bug) breaks the signature, as it does with Stripe.
    expect(() =>
      verifier.webhooks.constructEvent(
        JSON.stringify(JSON.parse(delivery.raw)),
        delivery.signature,
        WEBHOOK_SECRET,
      ),
    ).toThrow(Stripe.errors.StripeSignatureVerificationError);
  });

  it('retries a delivery answered 500 with backoff until the receiver answers 2xx', async () => {
    h.receiver.failNext(3);
    const customer = await h.stripe.customers.create({ name: 'Retried' });
    const delivered = await h.receiver.waitFor('customer.created', objectId(customer.id));
    const attempts = h.receiver.deliveries.filter((d) => d.event.id === delivered.event.id);
    expect(attempts.map((d) => d.status)).toEqual([500, 500, 500, 200]);
    await h.emulator.control.idle();
    const recorded = h.emulator.control.deliveries(delivered.event.id);
    expect(recorded.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
    expect(recorded.at(-1)).toMatchObject({ delivered: true, status: 200 });
    // 20 ms base: waits of 20, 40 and 80 ms between the attempts.
    expect(recorded[3]!.at - recorded[0]!.at).toBeGreaterThanOrEqual(130);
    const event = await h.stripe.events.retrieve(delivered.event.id);
    expect(event.pending_webhooks).toBe(0);
  });

  it('gives up after the last attempt and retries a receiver that refuses connections', async () => {
    const lonely = await startHarness({ webhookMaxAttempts: 3 });
    try {
      lonely.emulator.setWebhookUrl('http://127.0.0.1:9/webhooks/stripe');
      const customer = await lonely.stripe.customers.create({ name: 'Unreachable' });
      const [event] = lonely.emulator.control.events('customer.created');
      await lonely.emulator.control.idle();
      const attempts = lonely.emulator.control.deliveries(event!.id);
      expect(attempts).toHaveLength(3);
      expect(attempts.every((a) => !a.delivered && a.error !== undefined)).toBe(true);
      expect((await lonely.stripe.events.retrieve(event!.id)).pending_webhooks).toBe(1);
      expect(customer.id).toMatch(/^cus_/);
    } finally {
      await lonely.stop();
    }
  });

  it('resends an event with the same body through the control endpoint', async () => {
    const customer = await h.stripe.customers.create({ name: 'Resent' });
    const first = await h.receiver.waitFor('customer.created', objectId(customer.id));
    const before = h.receiver.deliveries.length;
    const answer = await fetch(`${h.emulator.url}/__emulator/events/${first.event.id}/resend`, {
      method: 'POST',
    });
    expect(answer.status).toBe(200);
    await h.emulator.control.idle();
    const again = h.receiver.deliveries.slice(before).filter((d) => d.event.id === first.event.id);
    expect(again).toHaveLength(1);
    expect(again[0]!.raw).toBe(first.raw);
  });
});

describe('events', () => {
  it('records each state change with a snapshot, retrievable and listable through the API', async () => {
    const customer = await h.stripe.customers.create({ name: 'Before' });
    await h.stripe.customers.update(customer.id, { name: 'After' });
    const updated = h.emulator.control.events('customer.updated').find(objectId(customer.id));
    expect(updated).toMatchObject({
      object: 'event',
      type: 'customer.updated',
      livemode: false,
      api_version: Stripe.API_VERSION,
      data: { object: { name: 'After' }, previous_attributes: { name: 'Before' } },
      request: { id: expect.stringMatching(/^req_/), idempotency_key: expect.any(String) },
    });
    const created = h.emulator.control.events('customer.created').find(objectId(customer.id));
    // A snapshot: the later update does not rewrite the earlier event.
    expect(created?.data.object).toMatchObject({ name: 'Before' });

    const fetched = await h.stripe.events.retrieve(updated!.id);
    expect(fetched.data.object).toMatchObject({ name: 'After' });
    const listed = await h.stripe.events.list({ type: 'customer.updated', limit: 100 });
    expect(listed.data.map((e) => e.id)).toContain(updated!.id);
    expect(listed.data.every((e) => e.type === 'customer.updated')).toBe(true);
  });

  it('stamps events, objects and signatures with the shared clock when it is moved', async () => {
    const future = new Date('2031-03-31T23:59:00Z');
    setClock(future);
    const customer = await h.stripe.customers.create({ name: 'Time traveller' });
    expect(customer.created).toBe(Math.floor(future.getTime() / 1000));
    const delivery = await h.receiver.waitFor('customer.created', objectId(customer.id));
    expect(Math.abs(delivery.event.created - Math.floor(future.getTime() / 1000))).toBeLessThanOrEqual(1);
    const t = Number(delivery.signature.split(',')[0]!.split('=')[1]);
    expect(Math.abs(t - Math.floor(nowMs() / 1000))).toBeLessThanOrEqual(2);
  });

  it('expires a session when the moved clock passes its expires_at', async () => {
    const session = await h.stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [
        { quantity: 1, price_data: { currency: 'usd', unit_amount: 900, product_data: { name: 'x' } } },
      ],
      expires_at: Math.floor(nowMs() / 1000) + 31 * 60,
    });
    setClock(new Date(nowMs() + 32 * 60_000));
    const expired = await h.stripe.checkout.sessions.retrieve(session.id);
    expect(expired.status).toBe('expired');
    await h.receiver.waitFor('checkout.session.expired', objectId(session.id));
  });
});
