// Stripe money is re-read and bounded, billing modes decide who may buy, and unknown ids cost nothing:
// through the real SDK against the emulator and DynamoDB Local. Metrics are read off the shared metrics
// object (publishing is off in tests), Stripe calls off the emulator's request log.
import { randomBytes } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type Stripe from 'stripe';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  type MockInstance,
  vi,
} from 'vitest';
import { getAccount } from '#shared/accounts/repository.ts';
import { nowIso, nowMs } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { newUlid } from '#shared/ids.ts';
import { micros } from '#shared/money.ts';
import { logger, metrics } from '#shared/observability/powertools.ts';
import { useDashboardUrlReader } from '#shared/payments/dashboard-url.ts';
import { attachCheckoutSession, createPurchase } from '#shared/payments/purchases.ts';
import { refusalMetrics } from '#shared/payments/refusals.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { deliverWebhook, type Payments, startPayments } from '../support/payments.ts';

let payments: Payments;
let addMetric: MockInstance<typeof metrics.addMetric>;
let logError: MockInstance<typeof logger.error>;

beforeAll(async () => {
  payments = await startPayments();
});

afterAll(async () => {
  await payments?.stop();
});

beforeEach(() => {
  addMetric = vi.spyOn(metrics, 'addMetric');
  logError = vi.spyOn(logger, 'error');
});

afterEach(() => {
  vi.restoreAllMocks();
  payments.emulator.setWebhookUrl(payments.webhookUrl);
});

const counted = (name: string) => addMetric.mock.calls.filter(([metric]) => metric === name).length;
const stripeCalls = () => payments.emulator.control.apiRequests().length;
const settled = () => payments.emulator.control.idle();

async function checkout(token: string, amount: number, returnUrl?: string) {
  const response = await call('POST', '/v1/billing/checkout', {
    token,
    body: { amount, ...(returnUrl ? { return_url: returnUrl } : {}) },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  const { purchase_id, checkout_url } = response.body as { purchase_id: string; checkout_url: string };
  return { purchaseId: purchase_id, sessionId: checkout_url.split('/').pop()! };
}

/** A prepaid account that bought `usd` by card (4242, saved): its PaymentIntent and charge. */
async function paidAccount(usd: number) {
  const { accountId, token } = await fundedAccount(0);
  const { sessionId } = await checkout(token, usd);
  const { session } = payments.emulator.control.completeCheckout(sessionId, {
    payment_method: 'card',
    card_number: '4242424242424242',
  });
  await settled();
  const intent = await payments.stripe.paymentIntents.retrieve(String(session.payment_intent));
  expect((await accountMoney(accountId)).balance).toBe(micros(usd * 1_000_000));
  return { accountId, token, intent, chargeId: String(intent.latest_charge) };
}

function sign(payload: string) {
  return payments.stripe.webhooks.generateTestHeaderString({
    payload,
    secret: payments.webhookSecret,
    timestamp: Math.floor(nowMs() / 1000),
  });
}

/** A Stripe-signed event with `object` as its body: what Stripe (or anyone with the secret) could send. */
function signedEvent(type: string, object: Record<string, unknown>) {
  const raw = JSON.stringify({
    id: `evt_${randomBytes(8).toString('hex')}`,
    object: 'event',
    type,
    created: Math.floor(nowMs() / 1000),
    data: { object },
  });
  return deliverWebhook(raw, sign(raw));
}

async function setMode(accountId: string, mode: 'postpaid' | 'marketplace') {
  await ddb().send(
    new UpdateCommand({
      TableName: process.env.TABLE_NAME,
      Key: keys.account(accountId),
      UpdateExpression: 'SET billing_mode = :mode',
      ExpressionAttributeValues: { ':mode': mode },
    }),
  );
}

const entriesOf = async (accountId: string, type: string) =>
  (await ledgerEntries(accountId)).filter((entry) => entry.type === type);

describe('disputes and refunds are re-read from Stripe and bounded by the payment', () => {
  it('a dispute whose event amount is 100,000× the $5 charge takes back $5, not $500,000', async () => {
    const { accountId, chargeId } = await paidAccount(5);
    payments.emulator.setWebhookUrl(undefined);
    const dispute = payments.emulator.control.dispute(chargeId);
    expect(dispute.amount).toBe(500);

    const forged = await signedEvent('charge.dispute.created', { ...dispute, amount: 500 * 100_000 });

    expect(forged.status).toBe(200);
    expect((await accountMoney(accountId)).balance).toBe(0);
    expect((await entriesOf(accountId, 'dispute')).map((entry) => entry.amount)).toEqual([-5_000_000]);
  });

  it('a dispute Stripe reports at 100,000× the $5 charge takes back $5 at most, capped and counted', async () => {
    const { accountId, chargeId } = await paidAccount(5);

    payments.emulator.control.dispute(chargeId, { amount: 500 * 100_000 });
    await settled();

    const account = await accountMoney(accountId);
    expect(account.balance).toBe(0);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(0);
    expect((await entriesOf(accountId, 'dispute')).map((entry) => entry.amount)).toEqual([-5_000_000]);
    expect(counted(refusalMetrics.takeBackCapped)).toBe(1);
  });

  it('a $15 refund and a $20 dispute of one $20 charge, delivered 5× each at once, take back $20, not $35', async () => {
    const { accountId, intent, chargeId } = await paidAccount(20);
    payments.emulator.setWebhookUrl(undefined);
    await payments.stripe.refunds.create({ payment_intent: intent.id, amount: 1500 });
    payments.emulator.control.dispute(chargeId, { amount: 2000 });
    const events = payments.emulator.control
      .events()
      .filter((e) => ['charge.refunded', 'charge.dispute.created'].includes(e.type))
      .filter((e) => JSON.stringify(e.data.object).includes(chargeId));
    expect(events).toHaveLength(2);

    const answers = await Promise.all(
      Array.from({ length: 5 }, () => events.map((e) => JSON.stringify(e)))
        .flat()
        .map((raw) => deliverWebhook(raw, sign(raw))),
    );

    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect((await accountMoney(accountId)).balance).toBe(0);
    const refunds = await entriesOf(accountId, 'refund');
    const disputes = await entriesOf(accountId, 'dispute');
    // Racing deliveries may apply either first: the refund then the dispute's remaining $5, or the whole $20
    // dispute and a refund that finds nothing left to take (no entry). Each is applied at most once.
    expect(refunds.length).toBeLessThanOrEqual(1);
    expect(disputes).toHaveLength(1);
    expect(ledgerSum([...refunds, ...disputes])).toBe(-20_000_000);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(0);
  });

  it('a refund of a payment this deployment never credited takes nothing', async () => {
    const { accountId, intent } = await paidAccount(5);
    // Its payment_intent.succeeded is held back: never credited here.
    payments.emulator.setWebhookUrl(undefined);
    const elsewhere = await payments.stripe.paymentIntents.create({
      amount: 700,
      currency: 'usd',
      customer: String(intent.customer),
      payment_method: String(intent.payment_method),
      off_session: true,
      confirm: true,
      metadata: { account_id: accountId },
    });
    await payments.stripe.refunds.create({ payment_intent: elsewhere.id });
    const refunded = payments.emulator.control
      .events('charge.refunded')
      .find((e) => (e.data.object as Stripe.Charge).payment_intent === elsewhere.id)!;

    const answer = await deliverWebhook(JSON.stringify(refunded), sign(JSON.stringify(refunded)));

    expect(answer).toMatchObject({ status: 200, body: { outcome: 'ignored' } });
    expect((await accountMoney(accountId)).balance).toBe(5_000_000);
    expect(await entriesOf(accountId, 'refund')).toEqual([]);
    expect(counted(refusalMetrics.unknownObject)).toBe(1);
  });
});

describe('money not in USD is never credited', () => {
  it('a EUR checkout of a stored purchase credits 0, answers Stripe 200 and is counted', async () => {
    const { accountId, token } = await fundedAccount(0);
    const purchaseId = `pur_${newUlid()}`;
    await createPurchase({
      purchase_id: purchaseId,
      account_id: accountId,
      amount: micros(25_000_000),
      created_at: nowIso(),
    });
    const metadata = { account_id: accountId, purchase_id: purchaseId };
    const session = await payments.stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [
        {
          quantity: 1,
          price_data: { currency: 'eur', unit_amount: 2500, product_data: { name: 'Credits' } },
        },
      ],
      metadata,
      payment_intent_data: { metadata },
      success_url: 'http://localhost:3000/billing/return?session_id={CHECKOUT_SESSION_ID}',
      cancel_url: 'http://localhost:3000/',
    });
    await attachCheckoutSession(accountId, purchaseId, session.id);

    payments.emulator.control.completeCheckout(session.id, {
      payment_method: 'card',
      card_number: '4242424242424242',
    });
    await settled();

    expect((await accountMoney(accountId)).balance).toBe(0);
    expect(await ledgerEntries(accountId)).toEqual([]);
    const purchase = await call('GET', `/v1/billing/purchases/${purchaseId}`, { token });
    expect(purchase.body.status).toBe('pending');
    const mine = payments.emulator.control.events().filter((e) => JSON.stringify(e).includes(accountId));
    const attempts = mine.flatMap((e) => payments.emulator.control.deliveries(e.id));
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.every((a) => a.status === 200)).toBe(true);
    expect(counted(refusalMetrics.currency)).toBeGreaterThanOrEqual(1);
    expect(logError).not.toHaveBeenCalled();
  });

  it('a EUR off-session payment naming the account credits 0', async () => {
    const { accountId, intent } = await paidAccount(5);
    payments.emulator.setWebhookUrl(undefined);
    const euros = await payments.stripe.paymentIntents.create({
      amount: 2500,
      currency: 'eur',
      customer: String(intent.customer),
      payment_method: String(intent.payment_method),
      off_session: true,
      confirm: true,
      metadata: { account_id: accountId, refill_id: `ref_${newUlid()}` },
    });

    const answer = await signedEvent('payment_intent.succeeded', { ...euros, currency: 'usd' });

    expect(answer).toMatchObject({ status: 200, body: { outcome: 'refused' } });
    expect((await accountMoney(accountId)).balance).toBe(5_000_000);
    expect(counted(refusalMetrics.currency)).toBe(1);
  });
});

describe('objects this deployment never created, or Stripe does not know', () => {
  it.each([
    ['charge.dispute.created', { id: 'dp_unknown1', object: 'dispute', amount: 50_000_000, charge: 'ch_x' }],
    ['charge.refunded', { id: 'ch_unknown1', object: 'charge', amount_refunded: 50_000_000 }],
    ['payment_intent.succeeded', { id: 'pi_unknown1', object: 'payment_intent', amount_received: 500 }],
    ['invoice.paid', { id: 'in_unknown1', object: 'invoice' }],
    ['payment_method.automatically_updated', { id: 'pm_unknown1', object: 'payment_method' }],
  ])(
    'a signed %s naming an object Stripe does not know → 200 ignored, nothing changed, counted',
    async (type, object) => {
      const { accountId } = await fundedAccount(5);
      const body = { ...object, metadata: { account_id: accountId } };

      const answer = await signedEvent(type, body);

      expect(answer).toMatchObject({ status: 200, body: { received: true, outcome: 'ignored' } });
      expect((await accountMoney(accountId)).balance).toBe(5_000_000);
      expect(await ledgerEntries(accountId)).toHaveLength(1);
      expect(counted(refusalMetrics.unknownObject)).toBe(1);
      expect(logError).not.toHaveBeenCalled();
    },
  );

  it('a signed checkout.session.completed for a session opened elsewhere → 200 ignored, 0 Stripe calls', async () => {
    const { accountId } = await fundedAccount(0);
    const metadata = { account_id: accountId, purchase_id: `pur_${newUlid()}` };
    const session = await payments.stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [
        {
          quantity: 1,
          price_data: { currency: 'usd', unit_amount: 2500, product_data: { name: 'Credits' } },
        },
      ],
      metadata,
      payment_intent_data: { metadata },
      success_url: 'https://elsewhere.example/return',
      cancel_url: 'https://elsewhere.example/',
    });
    const before = stripeCalls();

    const answer = await signedEvent('checkout.session.completed', { ...session, payment_status: 'paid' });

    expect(answer).toMatchObject({ status: 200, body: { outcome: 'ignored' } });
    expect(stripeCalls()).toBe(before);
    expect((await accountMoney(accountId)).balance).toBe(0);
    expect(counted(refusalMetrics.unknownObject)).toBe(1);
  });

  it('a payment for an account that is not in this deployment → 200 ignored, nothing written', async () => {
    const { intent } = await paidAccount(5);
    const stranger = `acct_${newUlid()}`;
    payments.emulator.setWebhookUrl(undefined);
    const elsewhere = await payments.stripe.paymentIntents.create({
      amount: 900,
      currency: 'usd',
      customer: String(intent.customer),
      payment_method: String(intent.payment_method),
      off_session: true,
      confirm: true,
      metadata: { account_id: stranger, refill_id: `ref_${newUlid()}` },
    });

    const answer = await signedEvent(
      'payment_intent.succeeded',
      elsewhere as unknown as Record<string, unknown>,
    );

    expect(answer).toMatchObject({ status: 200, body: { outcome: 'ignored' } });
    expect(await getAccount(stranger)).toBeUndefined();
    expect(await ledgerEntries(stranger)).toEqual([]);
    expect(counted(refusalMetrics.unknownObject)).toBe(1);
  });
});

describe('GET /billing/return matches a stored purchase before any Stripe call', () => {
  it('200 unknown-session returns → 0 Stripe calls, 0 5xx, 200 404 pages, no ERROR log', async () => {
    const before = stripeCalls();
    const answers = [];
    for (let batch = 0; batch < 10; batch++) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 20 }, () =>
            call('GET', '/billing/return', {
              query: {
                purchase_id: `pur_${newUlid()}`,
                session_id: `cs_test_${randomBytes(12).toString('hex')}`,
              },
            }),
          ),
        )),
      );
    }

    expect(stripeCalls()).toBe(before);
    expect(answers.filter((a) => a.status >= 500)).toHaveLength(0);
    expect(answers.filter((a) => a.status === 404)).toHaveLength(200);
    expect(answers[0]!.headers['content-type']).toMatch(/^text\/html/);
    expect(answers[0]!.body).toContain('Unknown payment');
    expect(counted(refusalMetrics.unknownReturn)).toBe(200);
    expect(logError).not.toHaveBeenCalled();
  });

  it('a real session with another purchase id is unknown too (404, 0 Stripe calls)', async () => {
    const { token } = await fundedAccount(0);
    const { sessionId } = await checkout(token, 5);
    const before = stripeCalls();

    const answer = await call('GET', '/billing/return', {
      query: { purchase_id: `pur_${newUlid()}`, session_id: sessionId },
    });

    expect(answer.status).toBe(404);
    expect(stripeCalls()).toBe(before);
  });

  it('a paid purchase shows its page without asking Stripe again', async () => {
    const { accountId, token } = await fundedAccount(0);
    const { purchaseId, sessionId } = await checkout(token, 5);
    payments.emulator.control.completeCheckout(sessionId, {
      payment_method: 'card',
      card_number: '4242424242424242',
    });
    await settled();
    const before = stripeCalls();

    const answer = await call('GET', '/billing/return', {
      query: { purchase_id: purchaseId, session_id: sessionId },
    });

    expect(answer.status).toBe(200);
    expect(answer.body).toContain('Payment received');
    expect(stripeCalls()).toBe(before);
    expect((await accountMoney(accountId)).balance).toBe(5_000_000);
  });
});

describe('billing-mode rules', () => {
  it.each(['postpaid', 'marketplace'] as const)(
    'a %s account cannot buy credits: 409 wrong_billing_mode, no Stripe customer, no session',
    async (mode) => {
      const { accountId, token } = await fundedAccount(0);
      await setMode(accountId, mode);
      const before = stripeCalls();

      const response = await call('POST', '/v1/billing/checkout', { token, body: { amount: 25 } });

      expect(response.status).toBe(409);
      expect(response.body.code).toBe('wrong_billing_mode');
      expect(stripeCalls()).toBe(before);
      expect((await getAccount(accountId))?.stripe_customer_id).toBeUndefined();
      expect((await call('GET', '/v1/billing/purchases', { token })).body.data).toEqual([]);
    },
  );

  it.each(['postpaid', 'marketplace'] as const)(
    'a %s account with a saved card cannot enable auto-refill (409 wrong_billing_mode), and can disable it',
    async (mode) => {
      const { accountId, token } = await paidAccount(5);
      await setMode(accountId, mode);
      const settings = { threshold: 2, amount: 10 };

      const enable = await call('PUT', '/v1/billing/auto-refill', {
        token,
        body: { enabled: true, ...settings },
      });
      const disable = await call('PUT', '/v1/billing/auto-refill', {
        token,
        body: { enabled: false, ...settings },
      });

      expect(enable.status).toBe(409);
      expect(enable.body.code).toBe('wrong_billing_mode');
      expect(disable.status).toBe(200);
      expect(disable.body.enabled).toBe(false);
    },
  );

  it('a prepaid account with a saved card still enables auto-refill', async () => {
    const { token } = await paidAccount(5);
    const enable = await call('PUT', '/v1/billing/auto-refill', {
      token,
      body: { enabled: true, threshold: 2, amount: 10 },
    });
    expect(enable.status).toBe(200);
    expect(enable.body.enabled).toBe(true);
  });
});

describe('return_url is on the deployment’s own origin', () => {
  it.each([
    'https://evil.example/steal',
    'http://localhost:3001/billing',
    'https://localhost:3000/billing',
    'http://localhost.evil.example:3000/',
  ])('refuses %s with 400 naming return_url, and creates nothing at Stripe', async (returnUrl) => {
    const { accountId, token } = await fundedAccount(0);
    const before = stripeCalls();

    const response = await call('POST', '/v1/billing/checkout', {
      token,
      body: { amount: 5, return_url: returnUrl },
    });

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('invalid_request');
    expect(response.body.details).toEqual([{ field: 'return_url', problem: expect.any(String) }]);
    expect(stripeCalls()).toBe(before);
    expect((await getAccount(accountId))?.stripe_customer_id).toBeUndefined();
  });

  it('accepts a return_url on its own origin and sends the payer back there', async () => {
    const { token } = await fundedAccount(0);
    const { sessionId } = await checkout(token, 5, 'http://localhost:3000/?checkout=return');
    const session = await payments.stripe.checkout.sessions.retrieve(sessionId);
    expect(session.success_url).toMatch(/^http:\/\/localhost:3000\/\?checkout=return&purchase_id=pur_/);
    expect(session.cancel_url).toBe('http://localhost:3000/?checkout=return');
  });

  // In the cloud the dashboard runs on its CloudFront domain, published by its stack in an SSM parameter that
  // the function reads at run time (here through the reader seam: the SDK cannot reach AWS in tests).
  describe("with the dashboard stack's URL published", () => {
    const dashboard = 'https://d111.cloudfront.net';
    let ssmReads: number;
    let logWarn: MockInstance<typeof logger.warn>;

    beforeEach(() => {
      process.env.DASHBOARD_URL_PARAMETER = '/credits-billing/dashboard-url';
      ssmReads = 0;
      useDashboardUrlReader(async (name) => {
        ssmReads++;
        return name === '/credits-billing/dashboard-url' ? dashboard : undefined;
      });
      logWarn = vi.spyOn(logger, 'warn');
    });

    afterEach(() => {
      delete process.env.DASHBOARD_URL_PARAMETER;
      delete process.env.RETURN_PAGES_ON_DASHBOARD;
      useDashboardUrlReader(undefined);
    });

    it("accepts a return_url on the dashboard's origin and sends the payer back there", async () => {
      const { token } = await fundedAccount(0);
      const { sessionId } = await checkout(token, 5, `${dashboard}/?checkout=return`);
      const session = await payments.stripe.checkout.sessions.retrieve(sessionId);
      expect(session.success_url).toMatch(
        /^https:\/\/d111\.cloudfront\.net\/\?checkout=return&purchase_id=pur_/,
      );
      expect(session.cancel_url).toBe(`${dashboard}/?checkout=return`);
      // Still on PUBLIC_BASE_URL's origin too; the parameter was read once for both checkouts.
      await checkout(token, 5, 'http://localhost:3000/?checkout=return');
      expect(ssmReads).toBe(1);
    });

    it.each([
      'https://d222.cloudfront.net/?checkout=return',
      'http://d111.cloudfront.net/?checkout=return',
      'https://d111.cloudfront.net.evil.example/',
    ])('refuses %s with 400 naming return_url, and creates nothing at Stripe', async (returnUrl) => {
      const { accountId, token } = await fundedAccount(0);
      const before = stripeCalls();

      const response = await call('POST', '/v1/billing/checkout', {
        token,
        body: { amount: 5, return_url: returnUrl },
      });

      expect(response.status).toBe(400);
      expect(response.body.details).toEqual([{ field: 'return_url', problem: expect.any(String) }]);
      expect(stripeCalls()).toBe(before);
      expect((await getAccount(accountId))?.stripe_customer_id).toBeUndefined();
    });

    it("sends Stripe's default pages to the dashboard when no public base URL was given", async () => {
      process.env.RETURN_PAGES_ON_DASHBOARD = 'true';
      const { token } = await fundedAccount(0);
      const { sessionId } = await checkout(token, 5);
      const session = await payments.stripe.checkout.sessions.retrieve(sessionId);
      expect(session.success_url).toMatch(
        /^https:\/\/d111\.cloudfront\.net\/billing\/return\?purchase_id=pur_\w+&session_id=/,
      );
      expect(session.cancel_url).toBe(`${dashboard}/`);
    });

    it('falls back to PUBLIC_BASE_URL alone when SSM cannot be read: logged once, purchases still open', async () => {
      process.env.RETURN_PAGES_ON_DASHBOARD = 'true';
      useDashboardUrlReader(async () => {
        throw new Error('connect ETIMEDOUT ssm.eu-west-1.amazonaws.com');
      });
      const { token } = await fundedAccount(0);

      const refused = await call('POST', '/v1/billing/checkout', {
        token,
        body: { amount: 5, return_url: `${dashboard}/?checkout=return` },
      });
      const { sessionId } = await checkout(token, 5);

      expect(refused.status).toBe(400);
      const session = await payments.stripe.checkout.sessions.retrieve(sessionId);
      expect(session.success_url).toMatch(/^http:\/\/localhost:3000\/billing\/return\?purchase_id=pur_/);
      expect(session.cancel_url).toBe('http://localhost:3000/');
      expect(
        logWarn.mock.calls.filter(([message]) => /dashboard URL parameter/.test(String(message))),
      ).toHaveLength(1);
      expect(logError).not.toHaveBeenCalled();
    });
  });
});
