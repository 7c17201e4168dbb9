// One charging path, three billing modes: a call whose account changes mode while it runs is charged once,
// in the mode the account has when it settles; postpaid holds come back when they expire; marketplace usage
// accrues to the buyer's hour record and an inactive subscription is refused.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { wordsResults } from '#functions/demo/words.ts';
import { setBillingMode, setSpendLimit } from '#shared/accounts/billing-mode.ts';
import { clearViews } from '#shared/accounts/view.ts';
import { advanceClock, freezeClock, resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import type { ApiContext } from '#shared/http/api.ts';
import { hourOf } from '#shared/ledger/accrual.ts';
import { expireDueHolds } from '#shared/ledger/expiry.ts';
import { paidFeature } from '#shared/metering/metered.ts';
import { fromWire } from '#shared/money.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum, tableItem } from '../support/accounts.ts';
import { apiEvent, call, lambdaContext } from '../support/api.ts';
import { marketplaceAccount } from '../support/marketplace.ts';
import { rollUpRecordedUsage } from '../support/stream.ts';

afterEach(() => {
  resetClock();
  clearViews();
});

/** A per-unit feature that switches its own account's mode while it runs (the operator acting mid-call). */
function switchingFeature(accountId: string, to: 'prepaid' | 'postpaid', words: number) {
  return paidFeature({
    feature: 'words',
    body: z.object({ text: z.string() }),
    results: wordsResults,
    estimate: () => 10,
    run: async () => {
      await setBillingMode(accountId, to);
      return { results: { words }, quantity: words };
    },
  });
}

describe('a billing mode change during a call', () => {
  it('releases a prepaid hold and accrues the call when the account became postpaid', async () => {
    const { accountId, token } = await fundedAccount(1);
    const feature = switchingFeature(accountId, 'postpaid', 3);

    const result = await feature(
      apiEvent('POST', '/v1/demo/words', { token, body: { text: 'a b c' } }),
      lambdaContext() as ApiContext,
    );

    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body!)).toEqual({ results: { words: 3 }, cost: 0.0003 });
    const account = await accountMoney(accountId);
    expect(account).toMatchObject({ balance: 1_000_000, held: 0, available: 1_000_000, period_usage: 300 });
    const usage = (await ledgerEntries(accountId)).filter((e) => e.type === 'usage');
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ amount: 0, accrued: 300 });
  });

  it('gives a postpaid hold back and debits the call when the account became prepaid', async () => {
    const { accountId, token } = await fundedAccount(1);
    await setBillingMode(accountId, 'postpaid');
    await call('PUT', '/v1/billing/spend-limit', { token, body: { monthly_spend_limit: 1 } });
    const feature = switchingFeature(accountId, 'prepaid', 4);

    const result = await feature(
      apiEvent('POST', '/v1/demo/words', { token, body: { text: 'a b c d' } }),
      lambdaContext() as ApiContext,
    );

    expect(result.statusCode).toBe(200);
    const account = await accountMoney(accountId);
    expect(account).toMatchObject({ balance: 999_600, held: 0, available: 999_600 });
    // The estimate went back to the period's headroom.
    expect(account.period_headroom).toBe(1_000_000);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(999_600);
  });
});

describe('a spend limit changed while a per-unit call holds its estimate', () => {
  it('keeps counting the open hold, so the headroom is exactly limit − usage once it settles', async () => {
    const { accountId, token } = await fundedAccount(0);
    await setBillingMode(accountId, 'postpaid');
    await setSpendLimit(accountId, fromWire(0.001));
    // Holds 10 words (0.001); while it runs the customer raises the limit to 0.002; it uses 2 words.
    const feature = paidFeature({
      feature: 'words',
      body: z.object({ text: z.string() }),
      results: wordsResults,
      estimate: () => 10,
      run: async () => {
        await setSpendLimit(accountId, fromWire(0.002));
        return { results: { words: 2 }, quantity: 2 };
      },
    });

    const result = await feature(
      apiEvent('POST', '/v1/demo/words', { token, body: { text: 'a b' } }),
      lambdaContext() as ApiContext,
    );

    expect(result.statusCode).toBe(200);
    const account = await accountMoney(accountId);
    expect(account).toMatchObject({ period_usage: 200, period_committed: 200, period_headroom: 1_800 });
  });
});

describe('a postpaid hold that is never settled', () => {
  it('returns its estimate to the headroom when the expiry job releases it', async () => {
    const { accountId, token } = await fundedAccount(0);
    await setBillingMode(accountId, 'postpaid');
    await call('PUT', '/v1/billing/spend-limit', { token, body: { monthly_spend_limit: 0.01 } });
    const crashing = paidFeature({
      feature: 'words',
      body: z.object({ text: z.string() }),
      results: wordsResults,
      estimate: () => 50,
      run: () => new Promise<never>(() => {}),
    });
    // The invocation holds 0.005 and never finishes.
    void crashing(
      apiEvent('POST', '/v1/demo/words', { token, body: { text: 'x' } }),
      lambdaContext() as ApiContext,
    );
    await expect.poll(async () => (await accountMoney(accountId)).period_headroom).toBe(5_000);

    advanceClock(10 * 60_000);
    const report = await expireDueHolds();

    expect(report.expired).toBeGreaterThanOrEqual(1);
    expect((await accountMoney(accountId)).period_headroom).toBe(10_000);
  });
});

describe('marketplace usage', () => {
  it('accrues each call exactly to the hour record, never debiting the balance', async () => {
    const { accountId, token } = await marketplaceAccount('active');
    freezeClock(new Date('2027-08-01T13:59:59.999Z'));
    const first = await call('POST', '/v1/demo/echo', { token, body: { text: 'a' } });
    freezeClock(new Date('2027-08-01T14:00:00.000Z'));
    const second = await call('POST', '/v1/demo/words', { token, body: { text: 'one two' } });
    const credits = await call('GET', '/v1/credits', { token });
    await rollUpRecordedUsage();

    expect(first.body.cost).toBe(0.002);
    expect(first.headers['x-credits-remaining']).toBeUndefined();
    expect(second.body.cost).toBe(0.0002);
    expect(credits.body).toMatchObject({
      billing_mode: 'marketplace',
      balance: 0,
      subscription_status: 'active',
    });
    expect(await tableItem(keys.marketplaceHour(accountId, '2027-08-01T13:00:00Z', 'usage'))).toMatchObject({
      cost: 2_000,
      requests: 1,
      state: 'pending',
      hour: '2027-08-01T13:00:00Z',
      GSI1SK: `2027-08-01T13:00:00Z#${accountId}#usage`,
    });
    expect(await tableItem(keys.marketplaceHour(accountId, '2027-08-01T14:00:00Z', 'usage'))).toMatchObject({
      cost: 200,
      requests: 1,
    });
    const account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([0, 0, 0]);
    expect(hourOf('2027-08-01T14:59:59.999Z')).toBe('2027-08-01T14:00:00Z');
  });

  it('books a call whose hour was already claimed by the metering job into the current hour', async () => {
    const { accountId, token } = await marketplaceAccount('active');
    freezeClock(new Date('2027-08-02T09:30:00.000Z'));
    await call('POST', '/v1/demo/echo', { token, body: { text: 'a' } });
    await rollUpRecordedUsage();
    await ddb().send(
      new UpdateCommand({
        TableName: process.env.TABLE_NAME,
        Key: keys.marketplaceHour(accountId, '2027-08-02T09:00:00Z', 'usage'),
        UpdateExpression: 'SET #state = :claimed',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':claimed': 'claimed' },
      }),
    );
    // An instance whose clock lags still charges in the 09:00 hour after the job took it: the rollup
    // consumer books the entry into the next hour.
    freezeClock(new Date('2027-08-02T09:59:59.900Z'));
    const late = await call('POST', '/v1/demo/echo', { token, body: { text: 'b' } });
    await rollUpRecordedUsage();

    expect(late.status).toBe(200);
    expect(await tableItem(keys.marketplaceHour(accountId, '2027-08-02T09:00:00Z', 'usage'))).toMatchObject({
      cost: 2_000,
      state: 'claimed',
    });
    expect(await tableItem(keys.marketplaceHour(accountId, '2027-08-02T10:00:00Z', 'usage'))).toMatchObject({
      cost: 2_000,
      state: 'pending',
    });
    // The ledger keeps the call's own time; only its billing moved.
    expect((await ledgerEntries(accountId)).at(-1)?.created_at).toBe('2027-08-02T09:59:59.900Z');
  });

  it.each(['cancelled', 'failed'])('refuses a buyer whose subscription is %s with 403', async (status) => {
    const { accountId, token } = await marketplaceAccount(status);
    const refused = await call('POST', '/v1/demo/echo', { token, body: { text: 'a' } });
    const perUnit = await call('POST', '/v1/demo/words', { token, body: { text: 'a' } });

    for (const answer of [refused, perUnit]) {
      expect(answer.status).toBe(403);
      expect(answer.body.code).toBe('subscription_inactive');
    }
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(0);
  });

  it('serves a buyer whose cancellation is pending', async () => {
    const { token } = await marketplaceAccount('cancel_pending');
    expect((await call('POST', '/v1/demo/echo', { token, body: { text: 'a' } })).status).toBe(200);
  });
});
