// Issue 13, item 1: service keys and the metering API. The operator's backend charges, holds, settles and
// releases for its customers through the same ledger flows as a metered call; everything against
// DynamoDB Local, through the real handlers (answers checked against the OpenAPI document).
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { setBillingMode, setSpendLimit } from '#shared/accounts/billing-mode.ts';
import { grantCredits } from '#shared/accounts/service.ts';
import { clearViews } from '#shared/accounts/view.ts';
import { advanceClock, freezeClock, nowMs, resetClock } from '#shared/clock.ts';
import { serviceScope } from '#shared/idempotency/middleware.ts';
import { readKey } from '#shared/idempotency/store.ts';
import { sha256Hex } from '#shared/ids.ts';
import { expireDueHolds } from '#shared/ledger/expiry.ts';
import { fromWire } from '#shared/money.ts';
import { createToken } from '#shared/tokens/service.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { type CallOptions, type CallResult, call } from '../support/api.ts';
import { eventsOf, expectContractError, moneySnapshot } from '../support/assertions.ts';
import { countCommands, loseRepliesOf, restoreClient } from '../support/faults.ts';

afterEach(() => {
  restoreClient();
  resetClock();
});

async function serviceKey(name = 'backend'): Promise<{ id: string; key: string }> {
  const created = await call('POST', '/admin/service-keys', { body: { name } });
  expect(created.status).toBe(201);
  return created.body;
}

/** A metering API call with a service key and, unless told otherwise, a fresh Idempotency-Key. */
function meter(
  key: string,
  path: string,
  body: unknown,
  options: { idempotencyKey?: string | null } & CallOptions = {},
): Promise<CallResult> {
  const { idempotencyKey, ...rest } = options;
  const headers: Record<string, string> =
    idempotencyKey === null ? {} : { 'idempotency-key': idempotencyKey ?? randomUUID() };
  return call('POST', path, { token: key, body, ...rest, headers: { ...headers, ...rest.headers } });
}

/** The account's balance equals the sum of its ledger, and nothing is held. */
async function expectConserved(accountId: string): Promise<void> {
  const account = await accountMoney(accountId);
  expect(account.balance).toBe(ledgerSum(await ledgerEntries(accountId)));
  expect(account.available).toBe(account.balance - account.held);
}

describe('service keys', () => {
  it('are created once (secret shown once), listed without the secret, and revoked', async () => {
    const created = await call('POST', '/admin/service-keys', {
      body: { name: 'search backend' },
      headers: { 'idempotency-key': 'svc-create-1' },
    });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^svc_[A-Za-z0-9_-]{43}$/);
    expect(created.body.name).toBe('search backend');
    const replay = await call('POST', '/admin/service-keys', {
      body: { name: 'search backend' },
      headers: { 'idempotency-key': 'svc-create-1' },
    });
    expect(replay.body).toEqual({ ...created.body, key: null });

    const listed = await call('GET', '/admin/service-keys');
    const mine = listed.body.data.find((k: { id: string }) => k.id === created.body.id);
    expect(mine).toEqual({
      id: created.body.id,
      name: 'search backend',
      prefix: created.body.key.slice(0, 10),
      created_at: created.body.created_at,
      last_used_at: null,
    });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key);

    const { accountId } = await fundedAccount(1);
    expect(
      (await meter(created.body.key, '/v1/meter/charges', { account_id: accountId, feature: 'echo' })).status,
    ).toBe(201);
    const revoked = await call('DELETE', `/admin/service-keys/${created.body.id}`);
    expect(revoked.status).toBe(204);
    const refused = await meter(created.body.key, '/v1/meter/charges', {
      account_id: accountId,
      feature: 'echo',
    });
    expectContractError(refused, 401, 'unauthorized');
    expectContractError(await call('DELETE', `/admin/service-keys/${created.body.id}`), 404, 'not_found');
    const after = await call('GET', '/admin/service-keys');
    expect(after.body.data.map((k: { id: string }) => k.id)).not.toContain(created.body.id);
  });

  it('a customer token is refused on the metering API, and a service key on customer routes', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { key } = await serviceKey();
    const before = await moneySnapshot(accountId);

    expectContractError(
      await meter(token, '/v1/meter/charges', { account_id: accountId, feature: 'echo' }),
      401,
      'unauthorized',
    );
    expectContractError(await call('GET', '/v1/credits', { token: key }), 401, 'unauthorized');
    expectContractError(
      await call('POST', '/v1/demo/echo', { token: key, body: { text: 'a' } }),
      401,
      'unauthorized',
    );
    expectContractError(
      await meter('', '/v1/meter/charges', { account_id: accountId, feature: 'echo' }),
      401,
      'unauthorized',
    );
    expect(await moneySnapshot(accountId)).toEqual(before);
  });
});

describe('POST /v1/meter/charges', () => {
  it('charges by customer token and by account id, per pricing, and records usage like a metered call', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { key } = await serviceKey();

    const fixed = await meter(key, '/v1/meter/charges', { customer_token: token, feature: 'echo' });
    expect(fixed.status).toBe(201);
    expect(fixed.body).toEqual({
      charge_id: expect.stringMatching(/^[0-9A-Z]{26}$/),
      account_id: accountId,
      feature: 'echo',
      cost: 0.002,
      credits_remaining: 0.998,
    });
    const perUnit = await meter(key, '/v1/meter/charges', {
      account_id: accountId,
      feature: 'words',
      quantity: 30,
    });
    expect(perUnit.body).toMatchObject({
      feature: 'words',
      quantity: 30,
      cost: 0.003,
      credits_remaining: 0.995,
    });
    const dynamic = await meter(key, '/v1/meter/charges', {
      account_id: accountId,
      feature: 'completion',
      amount: 0.123457,
    });
    expect(dynamic.body).toMatchObject({
      feature: 'completion',
      cost: 0.123457,
      credits_remaining: 0.871543,
    });
    expect(dynamic.body.quantity).toBeUndefined();

    const usage = (await ledgerEntries(accountId)).filter((e) => e.type === 'usage');
    expect(usage.map((e) => [e.entry_id, e.feature, e.amount, e.quantity])).toEqual([
      [fixed.body.charge_id, 'echo', -2_000, 1],
      [perUnit.body.charge_id, 'words', -3_000, 30],
      [dynamic.body.charge_id, 'completion', -123_457, 1],
    ]);
    // Named by its token, the charge is that token's usage; by account id, the account's alone.
    expect(usage[0]!.token_id).toMatch(/^tok_/);
    expect(usage[1]!.token_id).toBeUndefined();
    expect((await accountMoney(accountId)).balance).toBe(1_000_000 - 2_000 - 3_000 - 123_457);
    await expectConserved(accountId);

    const transactions = await call('GET', '/v1/transactions', { token });
    expect(transactions.body.data[0]).toMatchObject({
      id: dynamic.body.charge_id,
      feature: 'completion',
      amount: -0.123457,
    });
    const day = await call('GET', '/v1/usage', { token });
    const today = day.body.data.at(-1);
    expect(today).toMatchObject({
      requests: 3,
      by_feature: { echo: 0.002, words: 0.003, completion: 0.123457 },
    });
  });

  it('racing charges on one account with room for K: exactly K pass, money exact to the micro-dollar', async () => {
    // 0.05 USD is room for exactly 25 echo charges of 0.002.
    const { accountId, token } = await fundedAccount(0.05);
    const { key } = await serviceKey();

    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        meter(
          key,
          '/v1/meter/charges',
          i % 2 ? { customer_token: token, feature: 'echo' } : { account_id: accountId, feature: 'echo' },
        ),
      ),
    );

    expect(answers.filter((a) => a.status === 201)).toHaveLength(25);
    for (const refused of answers.filter((a) => a.status !== 201)) {
      expect(refused.status).toBe(402);
      expect(refused.body).toEqual({ error: 'Insufficient credits', code: 'insufficient_credits' });
    }
    const account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([0, 0, 0]);
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(25);
    await expectConserved(accountId);
    expect((await eventsOf(accountId, 'credits.balance.depleted')).length).toBeGreaterThanOrEqual(1);
  });

  it('the same Idempotency-Key charges once, replayed in sequence and concurrently; another body is a 409', async () => {
    const { accountId } = await fundedAccount(1);
    const { key } = await serviceKey();
    const body = { account_id: accountId, feature: 'completion', amount: 0.25 };

    const first = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'charge-1' });
    const again = await Promise.all(
      Array.from({ length: 8 }, () => meter(key, '/v1/meter/charges', body, { idempotencyKey: 'charge-1' })),
    );
    for (const replay of again) {
      expect(replay.status).toBe(201);
      expect(replay.body).toEqual(first.body);
    }
    const racing = await Promise.all(
      Array.from({ length: 8 }, () => meter(key, '/v1/meter/charges', body, { idempotencyKey: 'charge-2' })),
    );
    expect(new Set(racing.map((r) => JSON.stringify([r.status, r.body.charge_id]))).size).toBe(1);
    expectContractError(
      await meter(key, '/v1/meter/charges', { ...body, amount: 0.3 }, { idempotencyKey: 'charge-1' }),
      409,
      'idempotency_key_reused',
    );

    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(2);
    expect((await accountMoney(accountId)).balance).toBe(500_000);
    await expectConserved(accountId);
  });

  it('refuses a postpaid account past its spend limit with the 402 of a metered call', async () => {
    const { accountId } = await fundedAccount(0);
    await setBillingMode(accountId, 'postpaid');
    await setSpendLimit(accountId, fromWire(0.3));
    clearViews();
    const { key } = await serviceKey();

    const charged = await meter(key, '/v1/meter/charges', {
      account_id: accountId,
      feature: 'completion',
      amount: 0.25,
    });
    expect(charged.status).toBe(201);
    expect(charged.body.credits_remaining).toBeUndefined();
    const refused = await meter(key, '/v1/meter/charges', {
      account_id: accountId,
      feature: 'completion',
      amount: 0.1,
    });
    expect(refused.status).toBe(402);
    expect(refused.body).toEqual({ error: 'Monthly spend limit reached', code: 'spend_limit_reached' });
    expect((await accountMoney(accountId)).period_usage).toBe(250_000);
  });
});

describe('the Idempotency-Key of a charge, written in the charge transaction', () => {
  it('a warm charge is one DynamoDB request: the transaction carries the key’s record', async () => {
    const { accountId } = await fundedAccount(1);
    const { key } = await serviceKey();
    await meter(key, '/v1/meter/charges', { account_id: accountId, feature: 'echo' });
    const counts = countCommands();

    await meter(key, '/v1/meter/charges', { account_id: accountId, feature: 'echo' });

    expect(Object.fromEntries(counts)).toEqual({ TransactWriteItemsCommand: 1 });
  });

  it('reply lost after the commit: the retry replays the answer (and its request id), charged once', async () => {
    const { accountId } = await fundedAccount(1);
    const { key } = await serviceKey();
    const body = { account_id: accountId, feature: 'echo' };
    loseRepliesOf('TransactWriteItemsCommand');

    const lost = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'lost-1' });
    expect(lost.status).toBe(500);
    const retried = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'lost-1' });
    const again = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'lost-1' });

    expect(retried.status).toBe(201);
    expect(again.body).toEqual(retried.body);
    expect(again.headers['x-request-id']).toBe(retried.headers['x-request-id']);
    const usage = (await ledgerEntries(accountId)).filter((e) => e.type === 'usage');
    expect(usage.map((e) => [e.entry_id, e.request_id])).toEqual([
      [retried.body.charge_id, retried.headers['x-request-id']],
    ]);
    expect((await accountMoney(accountId)).balance).toBe(998_000);
  });

  it('a refusal is replayed too: the same key after a top-up is still the 402, nothing charged', async () => {
    const { accountId } = await fundedAccount(0.001);
    const { key } = await serviceKey();
    const body = { account_id: accountId, feature: 'echo' };

    const refused = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'poor-1' });
    await grantCredits({ accountId, amountUsd: 1, reason: 'top-up' });
    const replayed = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'poor-1' });
    const fresh = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'poor-2' });

    expect(refused.status).toBe(402);
    expect(replayed.status).toBe(402);
    expect(replayed.body).toEqual(refused.body);
    expect(fresh.status).toBe(201);
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(1);
  });

  it('a customer token revoked after its charge: the retry of that key still replays the charge', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { key } = await serviceKey();
    const customer = await createToken(accountId, { name: 'calls the operator', scopes: ['api'] });
    const body = { customer_token: customer.token, feature: 'echo' };
    const charged = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'revoked-1' });
    expect((await call('DELETE', `/v1/tokens/${customer.id}`, { token })).status).toBe(204);

    const retried = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'revoked-1' });
    const fresh = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'revoked-2' });

    expect(retried.body).toEqual(charged.body);
    expectContractError(fresh, 401, 'customer_unauthorized');
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(1);
  });

  it('the key’s record never expires: it is the charge’s permanent money guard', async () => {
    const { accountId } = await fundedAccount(1);
    const { key } = await serviceKey();
    const body = { account_id: accountId, feature: 'completion', amount: 0.2 };
    const first = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'old-1' });
    const keyHash = sha256Hex('old-1');

    const record = await readKey(serviceScope(keyHash), keyHash);
    advanceClock(400 * 86_400_000);
    const late = await meter(key, '/v1/meter/charges', body, { idempotencyKey: 'old-1' });

    expect(record).toMatchObject({ status: 'completed', request_id: first.headers['x-request-id'] });
    expect(record).not.toHaveProperty('expires_at');
    expect(late.body).toEqual(first.body);
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(1);
    expect((await accountMoney(accountId)).balance).toBe(800_000);
  });
});

describe('bad input and faults: nothing charged', () => {
  it.each([
    [
      'no Idempotency-Key',
      { feature: 'echo' },
      { idempotencyKey: null },
      400,
      'invalid_request',
      'Idempotency-Key',
    ],
    [
      'an amount on a fixed-price feature',
      { feature: 'echo', amount: 0.1 },
      {},
      400,
      'invalid_request',
      'amount',
    ],
    [
      'an amount on a per-unit feature',
      { feature: 'words', amount: 0.1 },
      {},
      400,
      'invalid_request',
      'amount',
    ],
    [
      'an amount above max_amount',
      { feature: 'completion', amount: 0.500001 },
      {},
      400,
      'invalid_request',
      'amount',
    ],
    ['no amount on a dynamic feature', { feature: 'completion' }, {}, 400, 'invalid_request', 'amount'],
    ['a negative amount', { feature: 'completion', amount: -0.1 }, {}, 400, 'invalid_request', 'amount'],
    [
      'an amount with 7 decimals',
      { feature: 'completion', amount: 0.1234567 },
      {},
      400,
      'invalid_request',
      'amount',
    ],
    [
      'a quantity on a fixed-price feature',
      { feature: 'echo', quantity: 2 },
      {},
      400,
      'invalid_request',
      'quantity',
    ],
    ['a fractional quantity', { feature: 'words', quantity: 1.5 }, {}, 400, 'invalid_request', 'quantity'],
    ['a negative quantity', { feature: 'words', quantity: -1 }, {}, 400, 'invalid_request', 'quantity'],
    ['an unknown feature', { feature: 'nope' }, {}, 400, 'invalid_request', 'feature'],
    ['an unknown field', { feature: 'echo', price: 0 }, {}, 400, 'invalid_request', undefined],
  ] as const)('%s → %i', async (_name, extra, options, status, code, field) => {
    const { accountId } = await fundedAccount(1);
    const { key } = await serviceKey();
    const before = await moneySnapshot(accountId);
    const response = await meter(key, '/v1/meter/charges', { account_id: accountId, ...extra }, options);
    expectContractError(response, status, code, { details: true, ...(field ? { field } : {}) });
    expect(await moneySnapshot(accountId)).toEqual(before);
  });

  it('naming the customer twice or not at all is a 400; an unknown account is a 404', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { key } = await serviceKey();
    expectContractError(
      await meter(key, '/v1/meter/charges', {
        customer_token: token,
        account_id: accountId,
        feature: 'echo',
      }),
      400,
      'invalid_request',
      { details: true, field: 'customer_token' },
    );
    expectContractError(await meter(key, '/v1/meter/charges', { feature: 'echo' }), 400, 'invalid_request', {
      details: true,
      field: 'customer_token',
    });
    expectContractError(
      await meter(key, '/v1/meter/charges', {
        account_id: 'acct_00000000000000000000000000',
        feature: 'echo',
      }),
      404,
      'not_found',
    );
  });

  it('an unknown, revoked or expired customer token → 401 customer_unauthorized', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { key } = await serviceKey();
    const expiring = await createToken(accountId, {
      name: 'short-lived',
      scopes: ['api'],
      expiresAt: new Date(nowMs() + 60_000).toISOString(),
    });
    const revoked = await createToken(accountId, { name: 'revoked', scopes: ['api'] });
    expect((await call('DELETE', `/v1/tokens/${revoked.id}`, { token })).status).toBe(204);
    const before = await moneySnapshot(accountId);

    for (const customer_token of ['crd_not_a_real_token', `crd_${'A'.repeat(43)}`, revoked.token, key]) {
      expectContractError(
        await meter(key, '/v1/meter/charges', { customer_token, feature: 'echo' }),
        401,
        'customer_unauthorized',
      );
    }
    freezeClock(new Date(nowMs() + 61_000));
    expectContractError(
      await meter(key, '/v1/meter/charges', { customer_token: expiring.token, feature: 'echo' }),
      401,
      'customer_unauthorized',
    );
    expect(await moneySnapshot(accountId)).toEqual(before);
  });
});

describe('holds', () => {
  it('hold, settle below the hold (the rest released), settle again under another key: the same answer', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { key } = await serviceKey();

    const hold = await meter(key, '/v1/meter/holds', {
      customer_token: token,
      feature: 'words',
      quantity: 1000,
    });
    expect(hold.status).toBe(201);
    expect(hold.body).toEqual({
      hold_id: expect.stringMatching(/^hold_[0-9A-Z]{26}_[0-9A-Z]{26}$/),
      account_id: accountId,
      amount_held: 0.1,
      expires_at: expect.any(String),
    });
    let account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([1_000_000, 100_000, 900_000]);

    const path = `/v1/meter/holds/${hold.body.hold_id}/settle`;
    const settled = await meter(key, path, { quantity: 420 });
    expect(settled.status).toBe(200);
    expect(settled.body).toEqual({
      charge_id: expect.stringMatching(/^[0-9A-Z]{26}$/),
      cost: 0.042,
      released: 0.058,
      capped: false,
    });
    const again = await Promise.all([
      meter(key, path, { quantity: 420 }),
      meter(key, path, { quantity: 999 }),
    ]);
    for (const answer of again) expect(answer.body).toEqual(settled.body);

    account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([958_000, 0, 958_000]);
    const usage = (await ledgerEntries(accountId)).filter((e) => e.type === 'usage');
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ entry_id: settled.body.charge_id, quantity: 420, amount: -42_000 });
    await expectConserved(accountId);
  });

  it('racing settles of one hold charge once', async () => {
    const { accountId } = await fundedAccount(1);
    const { key } = await serviceKey();
    const hold = await meter(key, '/v1/meter/holds', {
      account_id: accountId,
      feature: 'completion',
      amount: 0.2,
    });
    const path = `/v1/meter/holds/${hold.body.hold_id}/settle`;

    const answers = await Promise.all(Array.from({ length: 10 }, () => meter(key, path, { amount: 0.15 })));

    for (const answer of answers)
      expect(answer.body).toEqual({
        charge_id: answers[0]!.body.charge_id,
        cost: 0.15,
        released: 0.05,
        capped: false,
      });
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(1);
    expect((await accountMoney(accountId)).balance).toBe(850_000);
    await expectConserved(accountId);
  });

  it('an actual cost above the hold is charged when available, else capped at the hold', async () => {
    const { accountId } = await fundedAccount(0.3);
    const { key } = await serviceKey();
    const first = await meter(key, '/v1/meter/holds', {
      account_id: accountId,
      feature: 'completion',
      amount: 0.1,
    });
    const above = await meter(key, `/v1/meter/holds/${first.body.hold_id}/settle`, { amount: 0.15 });
    expect(above.body).toMatchObject({ cost: 0.15, released: 0, capped: false });
    // 0.15 left: hold 0.1 of it, then ask 0.2 when only the hold's 0.1 plus 0.05 are there.
    const second = await meter(key, '/v1/meter/holds', {
      account_id: accountId,
      feature: 'completion',
      amount: 0.1,
    });
    const capped = await meter(key, `/v1/meter/holds/${second.body.hold_id}/settle`, { amount: 0.2 });
    expect(capped.body).toMatchObject({ cost: 0.1, released: 0, capped: true });
    const replay = await meter(key, `/v1/meter/holds/${second.body.hold_id}/settle`, { amount: 0.01 });
    expect(replay.body).toEqual(capped.body);
    const account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([50_000, 0, 50_000]);
    await expectConserved(accountId);
  });

  it('402 when the hold is not available; release gives it all back; expiry releases a forgotten one', async () => {
    const { accountId } = await fundedAccount(0.1);
    const { key } = await serviceKey();
    const refused = await meter(key, '/v1/meter/holds', {
      account_id: accountId,
      feature: 'completion',
      amount: 0.10001,
    });
    expect(refused.status).toBe(402);
    expect(refused.body).toEqual({ error: 'Insufficient credits', code: 'insufficient_credits' });

    const hold = await meter(key, '/v1/meter/holds', {
      account_id: accountId,
      feature: 'words',
      quantity: 600,
    });
    const released = await meter(key, `/v1/meter/holds/${hold.body.hold_id}/release`, undefined);
    expect(released.body).toEqual({ released: 0.06 });
    const releasedAgain = await meter(key, `/v1/meter/holds/${hold.body.hold_id}/release`, undefined);
    expect(releasedAgain.body).toEqual({ released: 0.06 });
    let account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([100_000, 0, 100_000]);

    await meter(key, '/v1/meter/holds', { account_id: accountId, feature: 'words', quantity: 700 });
    expect((await accountMoney(accountId)).available).toBe(30_000);
    advanceClock(10 * 60_000);
    expect((await expireDueHolds()).expired).toBeGreaterThanOrEqual(1);
    account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([100_000, 0, 100_000]);
    await expectConserved(accountId);
  });

  it('an unknown hold, or another account’s, is not found; a fixed-price hold is a 400', async () => {
    const { accountId } = await fundedAccount(1);
    const other = await fundedAccount(1);
    const { key } = await serviceKey();
    const hold = await meter(key, '/v1/meter/holds', {
      account_id: accountId,
      feature: 'completion',
      amount: 0.2,
    });
    const before = await moneySnapshot(accountId);

    const forged = hold.body.hold_id.replace(/.$/, (c: string) => (c === '0' ? '1' : '0'));
    expectContractError(
      await meter(key, `/v1/meter/holds/${forged}/settle`, { amount: 0.1 }),
      404,
      'not_found',
    );
    expectContractError(await meter(key, '/v1/meter/holds/hold_nope/release', undefined), 404, 'not_found');
    expectContractError(
      await meter(key, `/v1/meter/holds/${hold.body.hold_id}/settle`, {
        customer_token: other.token,
        amount: 0.1,
      }),
      404,
      'not_found',
    );
    expectContractError(
      await meter(key, `/v1/meter/holds/${hold.body.hold_id}/settle`, {
        account_id: other.accountId,
        amount: 0.1,
      }),
      404,
      'not_found',
    );
    expect(await moneySnapshot(accountId)).toEqual(before);
    expectContractError(
      await meter(key, '/v1/meter/holds', { account_id: accountId, feature: 'echo' }),
      400,
      'invalid_request',
      { details: true, field: 'feature' },
    );
    expectContractError(
      await meter(
        key,
        `/v1/meter/holds/${hold.body.hold_id}/settle`,
        { amount: 0.1 },
        { idempotencyKey: null },
      ),
      400,
      'invalid_request',
      { details: true, field: 'Idempotency-Key' },
    );
  });
});

describe("a customer token's own spend limit on the metering API", () => {
  it('counts charges and holds made with the token, refusing with 402 token_limit_reached past it; by account id it does not apply', async () => {
    // Prepare: room for 0.006 on this token.
    const { accountId } = await fundedAccount(1);
    const limited = await createToken(accountId, {
      name: 'customer key',
      scopes: ['api'],
      spendLimit: { amount: fromWire(0.006), reset: 'monthly' },
    });
    const { key } = await serviceKey();
    const byToken = { customer_token: limited.token, feature: 'echo' };

    // Act: after a charge (0.002), a hold of 30 words (0.003) leaves 0.001, no room for a charge until it
    // settles at 5 words (0.0005); then one more charge fits (0.0045 spent) and the next does not.
    const charged = await meter(key, '/v1/meter/charges', byToken);
    const hold = await meter(key, '/v1/meter/holds', {
      customer_token: limited.token,
      feature: 'words',
      quantity: 30,
    });
    const whileHeld = await meter(key, '/v1/meter/charges', byToken);
    const settled = await meter(key, `/v1/meter/holds/${hold.body.hold_id}/settle`, { quantity: 5 });
    const afterSettle = await meter(key, '/v1/meter/charges', byToken);
    const past = await meter(key, '/v1/meter/charges', byToken);
    const byAccount = await meter(key, '/v1/meter/charges', { account_id: accountId, feature: 'echo' });

    // Assess
    expect([charged.status, hold.status, settled.status, afterSettle.status]).toEqual([201, 201, 200, 201]);
    expectContractError(whileHeld, 402, 'token_limit_reached');
    expectContractError(past, 402, 'token_limit_reached');
    expect(byAccount.status).toBe(201);
    await expectConserved(accountId);
    const listed = await call('GET', '/v1/tokens', {
      token: (await createToken(accountId, { name: 'b', scopes: ['billing'] })).token,
    });
    const usage = (listed.body.data as { id: string; usage: { spent: number; remaining: number } }[]).find(
      (token) => token.id === limited.id,
    )!.usage;
    expect(usage).toEqual({ period_start: expect.any(String), spent: 0.0045, remaining: 0.0015 });
  });
});
