// Auto-refill end to end through the real SDK and the emulator's saved cards: prompt and swept refills,
// exactly once under concurrency and after a crash, and every safeguard, visible in GET /v1/billing/auto-refill.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getAccount } from '#shared/accounts/repository.ts';
import { clearViews } from '#shared/accounts/view.ts';
import { runRefill } from '#shared/auto-refill/refill.ts';
import { claimRefill } from '#shared/auto-refill/store.ts';
import { sweepDueRefills } from '#shared/auto-refill/sweep.ts';
import { advanceClock, nowMs, resetClock } from '#shared/clock.ts';
import { newUlid } from '#shared/ids.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { eventsOf } from '../support/assertions.ts';
import { type Payments, startPayments } from '../support/payments.ts';

let payments: Payments;
const refills: Promise<unknown>[] = [];

beforeAll(async () => {
  payments = await startPayments();
});

afterAll(async () => {
  await payments?.stop();
});

beforeEach(() => {
  // The local queue: every refill request runs the routine, as the worker would.
  (globalThis as { __localRefillQueue?: (id: string) => void }).__localRefillQueue = (accountId) => {
    refills.push(runRefill(accountId));
  };
});

afterEach(() => {
  (globalThis as { __localRefillQueue?: unknown }).__localRefillQueue = undefined;
  resetClock();
});

async function drained() {
  while (refills.length) await refills.shift();
  await payments.emulator.control.idle();
}

/** An account that bought `usd` with `cardNumber`, so that card is on file. */
async function accountWithCard(cardNumber: string, usd = 5) {
  const { accountId, token } = await fundedAccount(0);
  const checkout = await call('POST', '/v1/billing/checkout', { token, body: { amount: usd } });
  const sessionId = String(checkout.body.checkout_url).split('/').pop()!;
  payments.emulator.control.completeCheckout(sessionId, { payment_method: 'card', card_number: cardNumber });
  await payments.emulator.control.idle();
  expect((await accountMoney(accountId)).balance).toBe(usd * 1_000_000);
  return { accountId, token };
}

const settings = (token: string, body: Record<string, unknown>) =>
  call('PUT', '/v1/billing/auto-refill', { token, body });
const view = async (token: string) => (await call('GET', '/v1/billing/auto-refill', { token })).body;
const refillEntries = async (accountId: string) =>
  (await ledgerEntries(accountId)).filter((entry) => entry.type === 'auto_refill');

describe('settings', () => {
  it('refuses to enable without a saved payment method (409 no_payment_method)', async () => {
    const { token } = await fundedAccount(5);
    const response = await settings(token, { enabled: true, threshold: 1, amount: 10 });
    expect(response.status).toBe(409);
    expect(response.body.code).toBe('no_payment_method');
  });

  it.each([
    ['a negative threshold', { enabled: true, threshold: -1, amount: 10 }, 'threshold'],
    ['an amount below the purchase minimum', { enabled: true, threshold: 1, amount: 4 }, 'amount'],
    ['an amount with 3 decimals', { enabled: true, threshold: 1, amount: 10.005 }, 'amount'],
    [
      'a monthly cap below the amount',
      { enabled: true, threshold: 1, amount: 10, monthly_cap: 5 },
      'monthly_cap',
    ],
    ['a missing field', { enabled: true, threshold: 1 }, 'amount'],
  ])('refuses %s with 400', async (_name, body, field) => {
    const { token } = await fundedAccount(5);
    const response = await settings(token, body);
    expect(response.status).toBe(400);
    expect(response.body.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  it('answers the saved settings, the method on file and the safeguards', async () => {
    const { token } = await accountWithCard('4242424242424242');
    const saved = await settings(token, { enabled: true, threshold: 2, amount: 10, monthly_cap: 50 });
    expect(saved.status).toBe(200);
    expect(await view(token)).toMatchObject({
      enabled: true,
      threshold: 2,
      amount: 10,
      monthly_cap: 50,
      status: 'active',
      payment_method: { type: 'card', brand: 'visa', last4: '4242' },
      safeguards: { consecutive_failures: 0, attempts_last_10_minutes: 0, refilled_this_month: 0 },
    });
  });
});

describe('refilling', () => {
  it('starts promptly when a debit takes the balance below the threshold, and adds exactly the amount', async () => {
    const { accountId, token } = await accountWithCard('4242424242424242');
    clearViews();
    await settings(token, { enabled: true, threshold: 4.999, amount: 10 });

    const spent = await call('POST', '/v1/demo/echo', { token, body: { text: 'crossing' } });
    await drained();

    expect(spent.status).toBe(200);
    expect((await accountMoney(accountId)).balance).toBe(14_998_000);
    expect(await refillEntries(accountId)).toHaveLength(1);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(14_998_000);
    expect((await view(token)).last_attempt).toMatchObject({ outcome: 'succeeded', amount: 10 });
  });

  it('refills at once when enabled while already below the threshold', async () => {
    const { accountId, token } = await accountWithCard('4242424242424242');
    await settings(token, { enabled: true, threshold: 10, amount: 20 });
    await drained();
    expect((await accountMoney(accountId)).balance).toBe(25_000_000);
  });

  it('is found by the sweep when no prompt request arrives', async () => {
    const { accountId, token } = await accountWithCard('4242424242424242');
    (globalThis as { __localRefillQueue?: unknown }).__localRefillQueue = undefined;
    await settings(token, { enabled: true, threshold: 10, amount: 20 });
    expect((await accountMoney(accountId)).balance).toBe(5_000_000);

    const report = await sweepDueRefills();

    expect(report.outcomes.succeeded).toBeGreaterThanOrEqual(1);
    expect((await accountMoney(accountId)).balance).toBe(25_000_000);
    const again = await sweepDueRefills();
    expect(again.due).toBe(0);
  });

  it('charges once when many runs race for the same account', async () => {
    const { accountId, token } = await accountWithCard('4242424242424242');
    (globalThis as { __localRefillQueue?: unknown }).__localRefillQueue = undefined;
    await settings(token, { enabled: true, threshold: 10, amount: 20 });
    const reports = await Promise.all(Array.from({ length: 8 }, () => runRefill(accountId)));
    await payments.emulator.control.idle();
    expect(reports.filter((r) => r.outcome === 'succeeded')).toHaveLength(1);
    expect((await accountMoney(accountId)).balance).toBe(25_000_000);
    expect(await refillEntries(accountId)).toHaveLength(1);
  });

  it('charges once when two sweeps and the prompt trigger race', async () => {
    const { accountId, token } = await accountWithCard('4242424242424242');
    (globalThis as { __localRefillQueue?: unknown }).__localRefillQueue = undefined;
    await settings(token, { enabled: true, threshold: 10, amount: 20 });
    await Promise.all([sweepDueRefills(), sweepDueRefills(), runRefill(accountId), runRefill(accountId)]);
    await payments.emulator.control.idle();
    expect((await accountMoney(accountId)).balance).toBe(25_000_000);
    expect(await refillEntries(accountId)).toHaveLength(1);
  });

  it('resumes a run that crashed after Stripe charged, without charging or crediting twice', async () => {
    const { accountId, token } = await accountWithCard('4242424242424242');
    (globalThis as { __localRefillQueue?: unknown }).__localRefillQueue = undefined;
    await settings(token, { enabled: true, threshold: 10, amount: 20 });
    // A run claimed the account, Stripe charged, then it died before crediting or recording.
    const claimed = await claimRefill(accountId, newUlid(), nowMs());
    const refillId = claimed!.auto_refill!.refill_id!;
    const account = await getAccount(accountId);
    await payments.stripe.paymentIntents.create(
      {
        amount: 2_000,
        currency: 'usd',
        customer: account!.stripe_customer_id!,
        payment_method: account!.payment_method!.id,
        off_session: true,
        confirm: true,
        description: 'Automatic credit refill',
        metadata: { account_id: accountId, refill_id: refillId },
      },
      { idempotencyKey: `refill-${refillId}` },
    );
    expect((await runRefill(accountId)).outcome).toBe('not_claimed'); // the lease still holds

    advanceClock(61_000);
    const resumed = await runRefill(accountId);
    await payments.emulator.control.idle();

    expect(resumed.outcome).toBe('succeeded');
    expect((await accountMoney(accountId)).balance).toBe(25_000_000);
    expect(await refillEntries(accountId)).toHaveLength(1);
    const intents = await payments.stripe.paymentIntents.list({
      customer: account!.stripe_customer_id!,
      limit: 100,
    });
    expect(intents.data.filter((pi) => pi.metadata.refill_id)).toHaveLength(1);
  });
});

describe('safeguards', () => {
  it('makes at most 2 attempts in 10 minutes, and suspends after 3 failures in a row', async () => {
    const { accountId, token } = await accountWithCard('4000000000000341');
    (globalThis as { __localRefillQueue?: unknown }).__localRefillQueue = undefined;
    await settings(token, { enabled: true, threshold: 10, amount: 20 });

    expect((await runRefill(accountId)).outcome).toBe('failed');
    expect((await runRefill(accountId)).outcome).toBe('failed');
    expect((await runRefill(accountId)).outcome).toBe('rate_limited');
    expect((await view(token)).safeguards).toMatchObject({
      consecutive_failures: 2,
      attempts_last_10_minutes: 2,
    });

    advanceClock(10 * 60_000 + 1_000);
    expect((await runRefill(accountId)).outcome).toBe('failed');
    const suspended = await view(token);
    expect(suspended).toMatchObject({
      status: 'suspended',
      last_attempt: { outcome: 'failed', reason: 'card_declined' },
    });
    expect(suspended.suspended_reason).toMatch(/3 refills in a row failed/);
    expect((await runRefill(accountId)).outcome).toBe('not_claimed');
    expect((await accountMoney(accountId)).balance).toBe(5_000_000);
  });

  it('suspends at once when the bank asks for authentication, with a link to top up by hand', async () => {
    const { accountId, token } = await accountWithCard('4000002760003184');
    (globalThis as { __localRefillQueue?: unknown }).__localRefillQueue = undefined;
    await settings(token, { enabled: true, threshold: 10, amount: 20 });

    const report = await runRefill(accountId);

    expect(report.outcome).toBe('authentication_required');
    const state = await view(token);
    expect(state.status).toBe('suspended');
    expect(state.last_attempt.outcome).toBe('authentication_required');
    expect(state.last_attempt.top_up_url).toMatch(/\/checkout\/cs_/);
    const events = await eventsOf(accountId, 'credits.auto_refill.suspended');
    expect(events).toHaveLength(1);
  });

  it('sends the top-up back to the auto-refill view, and drops its link once it is paid', async () => {
    const { accountId, token } = await accountWithCard('4000002760003184');
    (globalThis as { __localRefillQueue?: unknown }).__localRefillQueue = undefined;
    await settings(token, { enabled: true, threshold: 10, amount: 20 });
    expect((await runRefill(accountId)).outcome).toBe('authentication_required');
    const topUpUrl = String((await view(token)).last_attempt.top_up_url);
    const sessionId = topUpUrl.split('/').pop()!;
    const session = await payments.stripe.checkout.sessions.retrieve(sessionId);
    expect(session.success_url).toMatch(
      /^http:\/\/localhost:3000\/billing\/return\?view=auto-refill&purchase_id=pur_[0-9A-Z]{26}&session_id=/,
    );
    expect(session.cancel_url).toBe('http://localhost:3000/#auto-refill');
    const purchaseId = /purchase_id=(pur_[0-9A-Z]{26})/.exec(session.success_url ?? '')![1]!;

    // Not paid yet: the link is still offered.
    expect((await view(token)).last_attempt.top_up_url).toBe(topUpUrl);

    payments.emulator.control.completeCheckout(sessionId, {
      payment_method: 'card',
      card_number: '4242424242424242',
    });
    await payments.emulator.control.idle();
    expect((await accountMoney(accountId)).balance).toBe(25_000_000);
    const after = await view(token);
    expect(after.last_attempt.outcome).toBe('authentication_required');
    expect(after.last_attempt.top_up_url).toBeUndefined();

    // The return page says it is paid and links back to the auto-refill view, carrying the purchase.
    const page = await call('GET', '/billing/return', {
      query: { purchase_id: purchaseId, session_id: sessionId, view: 'auto-refill' },
    });
    expect(page.status).toBe(200);
    expect(page.body).toContain('Payment received');
    expect(page.body).toContain(
      `<a href="/?purchase_id=${purchaseId}&amp;view=auto-refill#auto-refill">Back to Auto-refill in the billing dashboard</a>`,
    );
  });

  it('never exceeds the monthly cap: the refill that would is not made, and the customer is told', async () => {
    const { accountId, token } = await accountWithCard('4242424242424242');
    (globalThis as { __localRefillQueue?: unknown }).__localRefillQueue = undefined;
    await settings(token, { enabled: true, threshold: 10, amount: 10, monthly_cap: 15 });
    expect((await runRefill(accountId)).outcome).toBe('succeeded'); // 15 now
    await call('POST', `/admin/accounts/${accountId}/credits`, { body: { amount: -10, reason: 'spend' } });
    await settings(token, { enabled: true, threshold: 10, amount: 10, monthly_cap: 15 });

    const capped = await runRefill(accountId);

    expect(capped.outcome).toBe('cap_reached');
    expect((await accountMoney(accountId)).balance).toBe(5_000_000);
    expect((await view(token)).last_attempt).toMatchObject({ outcome: 'cap_reached' });
    expect(await refillEntries(accountId)).toHaveLength(1);
  });

  it('suspends when the method is removed, and resumes when a new one is saved', async () => {
    const { accountId, token } = await accountWithCard('4242424242424242');
    (globalThis as { __localRefillQueue?: unknown }).__localRefillQueue = undefined;
    await settings(token, { enabled: true, threshold: 1, amount: 10 });
    const methodId = (await getAccount(accountId))!.payment_method!.id;

    await payments.stripe.paymentMethods.detach(methodId);
    await payments.emulator.control.idle();
    expect(await view(token)).toMatchObject({ status: 'suspended', payment_method: null });

    const checkout = await call('POST', '/v1/billing/checkout', { token, body: { amount: 5 } });
    const sessionId = String(checkout.body.checkout_url).split('/').pop()!;
    payments.emulator.control.completeCheckout(sessionId, {
      payment_method: 'card',
      card_number: '4242424242424242',
    });
    await payments.emulator.control.idle();
    expect((await view(token)).status).toBe('active');
  });
});

describe('a sharded account (balance shards)', () => {
  it('buys into the total, refills on the total, not on the account item alone, and prompts from the total', async () => {
    // Prepare: $5 bought by card, split over 8 shards ($0.625 on the account item), then $5 more bought.
    const { accountId, token } = await accountWithCard('4242424242424242');
    await call('PUT', `/admin/accounts/${accountId}/balance-shards`, { body: { count: 8 } });
    const checkout = await call('POST', '/v1/billing/checkout', { token, body: { amount: 5 } });
    payments.emulator.control.completeCheckout(String(checkout.body.checkout_url).split('/').pop()!, {
      payment_method: 'card',
      card_number: '4242424242424242',
    });
    await payments.emulator.control.idle();
    expect((await accountMoney(accountId)).available).toBe(10_000_000);
    await call('PUT', `/admin/accounts/${accountId}/balance-shards`, { body: { count: 8 } });
    clearViews();

    // Act: a threshold of $2, far above what the account item alone holds after the spread
    await settings(token, { enabled: true, threshold: 2, amount: 10 });
    await drained();

    // Assess: not refilled while the total is above the threshold
    expect(await refillEntries(accountId)).toHaveLength(0);
    expect((await runRefill(accountId)).outcome).not.toBe('succeeded');

    // Act: the total falls below the threshold (a correction gathers every shard first)
    await call('POST', `/admin/accounts/${accountId}/credits`, { body: { amount: -8.5, reason: 'test' } });
    clearViews();
    const spent = await call('POST', '/v1/demo/echo', { token, body: { text: 'below' } });
    await drained();

    // Assess: the prompt path refilled once, and the money is the ledger
    expect(spent.status).toBe(200);
    expect(await refillEntries(accountId)).toHaveLength(1);
    const account = await accountMoney(accountId);
    expect(account.balance).toBe(1_500_000 - 2_000 + 10_000_000);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(account.balance);
  });
});
