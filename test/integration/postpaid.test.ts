// Postpaid accounts: the mode switch, accrual in the charging write (the period item follows from the
// ledger through the rollup consumer), and the monthly spend limit enforced inside that write's condition
// (exact under concurrency, unblocked by a new month without any job).
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { clearViews } from '#shared/accounts/view.ts';
import { freezeClock, resetClock, setClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { reconcileAll } from '#shared/ledger/reconcile.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { eventsOf } from '../support/assertions.ts';
import { rollUpRecordedUsage } from '../support/stream.ts';

const SPEND_LIMIT_BODY = { error: 'Monthly spend limit reached', code: 'spend_limit_reached' };

async function postpaidAccount(prepaidUsd = 0, terms?: number) {
  const account = await fundedAccount(prepaidUsd, 'Postpaid team');
  const switched = await call('PUT', `/admin/accounts/${account.accountId}/billing`, {
    body: { mode: 'postpaid', ...(terms ? { payment_terms_days: terms } : {}) },
  });
  expect(switched.status).toBe(200);
  return account;
}

/** The period item once the rollup consumer has applied every ledger entry written so far. */
async function periodItem(accountId: string, period: string) {
  await rollUpRecordedUsage();
  const result = await ddb().send(
    new GetCommand({
      TableName: process.env.TABLE_NAME,
      Key: keys.period(accountId, period),
      ConsistentRead: true,
    }),
  );
  return result.Item;
}

const echo = (token: string, text = 'hi') => call('POST', '/v1/demo/echo', { token, body: { text } });

afterEach(() => {
  resetClock();
  clearViews();
});

describe('switching billing modes', () => {
  it('lets the operator make an account postpaid with its terms, and back, keeping the prepaid balance aside', async () => {
    // Prepare: a prepaid account with $1 left.
    const { accountId, token } = await postpaidAccount(1, 45);

    // Act: postpaid calls, then back to prepaid.
    for (let i = 0; i < 3; i++) expect((await echo(token)).status).toBe(200);
    const credits = await call('GET', '/v1/credits', { token });
    const back = await call('PUT', `/admin/accounts/${accountId}/billing`, { body: { mode: 'prepaid' } });
    const prepaidCall = await echo(token);

    // Assess: postpaid usage never touched the balance; after the switch back the balance pays again.
    expect(credits.body).toMatchObject({
      billing_mode: 'postpaid',
      balance: 1,
      available: 1,
      period_usage: 0.006,
      monthly_spend_limit: null,
      payment_terms_days: 45,
    });
    expect(credits.body.period).toMatch(/^\d{4}-\d{2}$/);
    expect(back.body.billing_mode).toBe('prepaid');
    expect(prepaidCall.status).toBe(200);
    expect(prepaidCall.headers['x-credits-remaining']).toBe('0.998');
    const account = await accountMoney(accountId);
    expect(account.balance).toBe(998_000);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(account.balance);
    // The postpaid usage stays in its period for the invoice.
    expect(await periodItem(accountId, credits.body.period)).toMatchObject({ cost: 6_000, requests: 3 });
  });

  it('validates the switch and refuses what cannot change', async () => {
    const { accountId, token } = await fundedAccount(0);
    const badTerms = await call('PUT', `/admin/accounts/${accountId}/billing`, {
      body: { mode: 'postpaid', payment_terms_days: 0 },
    });
    const termsOnPrepaid = await call('PUT', `/admin/accounts/${accountId}/billing`, {
      body: { mode: 'prepaid', payment_terms_days: 30 },
    });
    const unknown = await call('PUT', '/admin/accounts/acct_01JAAAAAAAAAAAAAAAAAAAAAAA/billing', {
      body: { mode: 'postpaid' },
    });
    const limitOnPrepaid = await call('PUT', '/v1/billing/spend-limit', {
      token,
      body: { monthly_spend_limit: 10 },
    });

    expect(badTerms.status).toBe(400);
    expect(termsOnPrepaid.status).toBe(400);
    expect(termsOnPrepaid.body.details[0].field ?? JSON.stringify(termsOnPrepaid.body.details)).toMatch(
      /payment_terms_days/,
    );
    expect(unknown.status).toBe(404);
    expect(limitOnPrepaid.status).toBe(409);
    expect(limitOnPrepaid.body.code).toBe('wrong_billing_mode');
    expect((await accountMoney(accountId)).billing_mode).toBe('prepaid');
  });
});

describe('postpaid accrual', () => {
  it('passes calls with a zero balance and records each cost once, without changing the balance', async () => {
    const { accountId, token } = await postpaidAccount();

    const responses = [];
    for (let i = 0; i < 5; i++) responses.push(await echo(token));
    const words = await call('POST', '/v1/demo/words', { token, body: { text: 'one two three' } });

    for (const r of responses) {
      expect(r.status).toBe(200);
      expect(r.body.cost).toBe(0.002);
      expect(r.headers['x-credits-remaining']).toBeUndefined();
    }
    expect(words.body).toEqual({ results: { words: 3 }, cost: 0.0003 });
    const account = await accountMoney(accountId);
    expect(account).toMatchObject({ balance: 0, available: 0, held: 0, period_usage: 10_300 });
    const entries = await ledgerEntries(accountId);
    const usage = entries.filter((e) => e.type === 'usage');
    expect(usage).toHaveLength(6);
    expect(usage.every((e) => e.amount === 0)).toBe(true);
    expect(usage.reduce((total, e) => total + (e.accrued ?? 0), 0)).toBe(10_300);
    expect(await periodItem(accountId, account.period!)).toMatchObject({
      cost: 10_300,
      requests: 6,
      'f:echo:cost': 10_000,
      'f:echo:quantity': 5,
      'f:words:cost': 300,
      'f:words:quantity': 3,
    });
    expect(await periodItem(accountId, account.period!)).not.toHaveProperty('invoice_state');
    const transactions = await call('GET', '/v1/transactions', { token });
    expect(transactions.body.data[0]).toMatchObject({
      type: 'usage',
      amount: 0,
      accrued: 0.0003,
      balance_after: 0,
    });
    const report = await reconcileAll();
    expect(report.drifted.filter((d) => d.account_id === accountId)).toEqual([]);
  });

  it('charges a replayed Idempotency-Key once and answers the same cost', async () => {
    const { accountId, token } = await postpaidAccount();
    const headers = { 'idempotency-key': 'postpaid-replay-1' };
    const first = await call('POST', '/v1/demo/echo', { token, body: { text: 'x' }, headers });
    const again = await call('POST', '/v1/demo/echo', { token, body: { text: 'x' }, headers });
    expect(again.body).toEqual(first.body);
    expect((await accountMoney(accountId)).period_usage).toBe(2_000);
  });

  it('puts a call at 23:59:59.999 and one at 00:00 on the 1st in different periods', async () => {
    const { accountId, token } = await postpaidAccount();
    freezeClock(new Date('2027-01-31T23:59:59.999Z'));
    expect((await echo(token)).status).toBe(200);
    freezeClock(new Date('2027-02-01T00:00:00.000Z'));
    expect((await echo(token)).status).toBe(200);
    expect((await echo(token)).status).toBe(200);

    expect(await periodItem(accountId, '2027-01')).toMatchObject({ cost: 2_000, requests: 1 });
    expect(await periodItem(accountId, '2027-02')).toMatchObject({ cost: 4_000, requests: 2 });
    expect(await accountMoney(accountId)).toMatchObject({ period: '2027-02', period_usage: 4_000 });
  });

  it('books a call whose period was already invoiced into the current period', async () => {
    const { accountId, token } = await postpaidAccount();
    setClock(new Date('2027-03-31T23:59:59.000Z'));
    expect((await echo(token)).status).toBe(200);
    await rollUpRecordedUsage();
    // The invoicing job claimed March; an instance whose clock still says March charges after that.
    await ddb().send(
      new (await import('@aws-sdk/lib-dynamodb')).UpdateCommand({
        TableName: process.env.TABLE_NAME,
        Key: keys.period(accountId, '2027-03'),
        UpdateExpression: 'SET invoice_state = :claimed',
        ExpressionAttributeValues: { ':claimed': 'claimed' },
      }),
    );
    // An instance whose clock lags still charges in March after the job took it: the rollup consumer books
    // the entry into April.
    freezeClock(new Date('2027-03-31T23:59:59.900Z'));
    expect((await echo(token)).status).toBe(200);

    expect(await periodItem(accountId, '2027-03')).toMatchObject({ cost: 2_000, requests: 1 });
    expect(await periodItem(accountId, '2027-04')).toMatchObject({ cost: 2_000, requests: 1 });
  });
});

describe('the monthly spend limit', () => {
  it('refuses the 6th 0.002 call under a 0.01 limit with the contract body, and warns at 80 %', async () => {
    const { accountId, token } = await postpaidAccount();
    const set = await call('PUT', '/v1/billing/spend-limit', { token, body: { monthly_spend_limit: 0.01 } });

    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push(await echo(token));
    const seventh = await echo(token);

    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ monthly_spend_limit: 0.01, period_usage: 0 });
    expect(statuses.slice(0, 5).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses[5]!.status).toBe(402);
    expect(statuses[5]!.body).toEqual(SPEND_LIMIT_BODY);
    expect(statuses[5]!.headers['retry-after']).toBeUndefined();
    expect(seventh.status).toBe(402);
    expect((await accountMoney(accountId)).period_usage).toBe(10_000);
    expect(await eventsOf(accountId, 'credits.spend_limit.warning')).toHaveLength(1);
    expect((await eventsOf(accountId, 'credits.spend_limit.warning'))[0]).toMatchObject({
      period_usage: 0.008,
      monthly_spend_limit: 0.01,
    });
    expect(await eventsOf(accountId, 'credits.spend_limit.reached')).toHaveLength(1);
  });

  it('lets exactly the calls within the limit through when 100 race for room for 50', async () => {
    const { accountId, token } = await postpaidAccount();
    await call('PUT', '/v1/billing/spend-limit', { token, body: { monthly_spend_limit: 0.1 } });

    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => echo(token, `call ${i}`)));

    expect(responses.filter((r) => r.status === 200)).toHaveLength(50);
    const refused = responses.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(50);
    for (const r of refused) expect(r.body).toEqual(SPEND_LIMIT_BODY);
    const account = await accountMoney(accountId);
    expect(account.period_usage).toBe(100_000);
    expect(account.period_headroom).toBe(0);
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(50);
  });

  it('never lets racing per-unit calls pass the limit: their estimates are held against it', async () => {
    const { accountId, token } = await postpaidAccount();
    await call('PUT', '/v1/billing/spend-limit', { token, body: { monthly_spend_limit: 0.001 } });

    // Each call holds 4 words (0.0004) and settles 2 (0.0002).
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => call('POST', '/v1/demo/words', { token, body: { text: 'one two' } })),
    );

    const ok = responses.filter((r) => r.status === 200);
    for (const r of responses.filter((r) => r.status !== 200)) expect(r.body).toEqual(SPEND_LIMIT_BODY);
    const account = await accountMoney(accountId);
    expect(account.period_usage).toBe(ok.length * 200);
    expect(account.period_usage).toBeLessThanOrEqual(1_000);
    expect(account.period_headroom).toBe(1_000 - account.period_usage!);
    expect(ok.length).toBeGreaterThanOrEqual(2);
  });

  it('blocks at once when lowered below the usage, unblocks when removed, and releases a failed call', async () => {
    const { token } = await postpaidAccount();
    for (let i = 0; i < 3; i++) await echo(token);

    await call('PUT', '/v1/billing/spend-limit', { token, body: { monthly_spend_limit: 0.004 } });
    const blocked = await echo(token);
    const removed = await call('PUT', '/v1/billing/spend-limit', {
      token,
      body: { monthly_spend_limit: null },
    });
    const free = await echo(token);
    const credits = await call('GET', '/v1/credits', { token });

    expect(blocked.status).toBe(402);
    expect(blocked.body).toEqual(SPEND_LIMIT_BODY);
    expect(removed.body).toMatchObject({ monthly_spend_limit: null, period_usage: 0.006 });
    expect(free.status).toBe(200);
    expect(credits.body).toMatchObject({ period_usage: 0.008, monthly_spend_limit: null });
  });

  it('unblocks by itself in a new month, with no job, and keeps the limit', async () => {
    const { accountId, token } = await postpaidAccount();
    setClock(new Date('2027-05-31T12:00:00.000Z'));
    await call('PUT', '/v1/billing/spend-limit', { token, body: { monthly_spend_limit: 0.002 } });
    expect((await echo(token)).status).toBe(200);
    expect((await echo(token)).status).toBe(402);

    setClock(new Date('2027-06-01T00:00:00.000Z'));
    const june = await echo(token);
    const juneAgain = await echo(token);
    const credits = await call('GET', '/v1/credits', { token });

    expect(june.status).toBe(200);
    expect(juneAgain.status).toBe(402);
    expect(credits.body).toMatchObject({
      period: '2027-06',
      period_usage: 0.002,
      monthly_spend_limit: 0.002,
    });
    expect((await eventsOf(accountId, 'credits.spend_limit.reached')).map((e) => e.period)).toEqual([
      '2027-05',
      '2027-06',
    ]);
  });

  it('validates the limit', async () => {
    const { token } = await postpaidAccount();
    for (const body of [
      { monthly_spend_limit: -1 },
      { monthly_spend_limit: 0.0000001 },
      {},
      { monthly_spend_limit: '5' },
    ]) {
      const answer = await call('PUT', '/v1/billing/spend-limit', { token, body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.code).toBe('invalid_request');
    }
    const apiToken = await call('POST', '/v1/tokens', { token, body: { name: 'api only', scopes: ['api'] } });
    const forbidden = await call('PUT', '/v1/billing/spend-limit', {
      token: apiToken.body.token,
      body: { monthly_spend_limit: 1 },
    });
    expect(forbidden.status).toBe(403);
  });
});

describe('an overdue invoice, when the operator blocks on it', () => {
  it('refuses calls with invoice_overdue from the block time on', async () => {
    const { accountId, token } = await postpaidAccount();
    setClock(new Date('2027-07-10T00:00:00.000Z'));
    await ddb().send(
      new (await import('@aws-sdk/lib-dynamodb')).UpdateCommand({
        TableName: process.env.TABLE_NAME,
        Key: keys.account(accountId),
        UpdateExpression: 'SET overdue_block_at = :at',
        ExpressionAttributeValues: { ':at': '2027-07-15T00:00:00.000Z' },
      }),
    );
    const before = await echo(token);
    setClock(new Date('2027-07-15T00:00:00.000Z'));
    const after = await echo(token);

    expect(before.status).toBe(200);
    expect(after.status).toBe(402);
    expect(after.body).toEqual({
      error: 'Payment of an overdue invoice is required',
      code: 'invoice_overdue',
    });
  });
});
