// Metered proxy routes for accounts that are not prepaid, against the toy upstream in another process:
// postpaid calls accrue their exact cost to the period (refused with 402 before the upstream once the monthly
// spend limit is reached), marketplace calls accrue to the buyer's hour record (refused with 403 before the
// upstream when the subscription is not active). The period item and hour record follow from the ledger
// through the rollup consumer, which the tests drive before reading them.
import { afterEach, describe, expect, it } from 'vitest';
import { setSpendLimit } from '#shared/accounts/billing-mode.ts';
import { clearViews } from '#shared/accounts/view.ts';
import { freezeClock, resetClock } from '#shared/clock.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { fromWire } from '#shared/money.ts';
import { accountMoney, fundedAccount, ledgerEntries, tableItem } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { marketplaceAccount } from '../support/marketplace.ts';
import { postpaidAccount } from '../support/postpaid.ts';
import { rollUpRecordedUsage } from '../support/stream.ts';
import { useToyUpstream } from '../support/toy-process.ts';

const { seenBy } = useToyUpstream();

afterEach(() => {
  resetClock();
  clearViews();
});

const translate = (token: string) =>
  call('POST', '/v1/sample/translate', { token, body: { text: 'hello', to: 'fr' } });
/** 3 words + 7 tokens: 10 units of 0.00002. */
const complete = (token: string) =>
  call('POST', '/v1/sample/complete', { token, body: { prompt: 'one two three', max_tokens: 7 } });

describe('a postpaid account', () => {
  it('accrues each proxied call’s exact cost to the period, with no x-credits-remaining', async () => {
    const { accountId, token } = await postpaidAccount();
    freezeClock(new Date('2027-09-14T10:00:00.000Z'));

    const fixed = await translate(token);
    const perUnit = await complete(token);

    expect([fixed.status, perUnit.status]).toEqual([200, 200]);
    expect(fixed.body.cost).toBe(0.005);
    expect(perUnit.body.cost).toBe(0.0002);
    for (const answer of [fixed, perUnit]) {
      expect(answer.headers['x-cost']).toBe(String(answer.body.cost));
      expect(answer.headers['x-credits-remaining']).toBeUndefined();
    }
    await rollUpRecordedUsage();
    expect(await tableItem(keys.period(accountId, '2027-09'))).toMatchObject({
      cost: 5_200,
      requests: 2,
      'f:sample_translate:cost': 5_000,
      'f:sample_complete:cost': 200,
      'f:sample_complete:quantity': 10,
    });
    const account = await accountMoney(accountId);
    expect(account).toMatchObject({ balance: 0, held: 0, period: '2027-09', period_usage: 5_200 });
    expect(await seenBy(accountId)).toHaveLength(2);
  });

  it('is refused with 402 spend_limit_reached before the upstream once the limit is reached', async () => {
    const { accountId, token } = await postpaidAccount();
    await setSpendLimit(accountId, fromWire(0.007));
    const first = await translate(token);

    // 0.005 used of 0.007: another 0.005 call, or a hold of max_quantity (0.16384), does not fit.
    const fixed = await translate(token);
    const perUnit = await complete(token);

    expect(first.status).toBe(200);
    for (const answer of [fixed, perUnit]) {
      expect(answer.status).toBe(402);
      expect(answer.body).toEqual({ error: 'Monthly spend limit reached', code: 'spend_limit_reached' });
    }
    expect(await seenBy(accountId)).toHaveLength(1);
    expect(await accountMoney(accountId)).toMatchObject({ period_usage: 5_000, held: 0 });
  });
});

describe('a marketplace buyer', () => {
  it('accrues each proxied call to the hour record, never to the balance', async () => {
    const { accountId, token } = await marketplaceAccount('active');
    freezeClock(new Date('2027-09-14T10:59:59.000Z'));

    const fixed = await translate(token);
    const perUnit = await complete(token);

    expect([fixed.status, perUnit.status]).toEqual([200, 200]);
    expect(fixed.headers['x-credits-remaining']).toBeUndefined();
    await rollUpRecordedUsage();
    expect(await tableItem(keys.marketplaceHour(accountId, '2027-09-14T10:00:00Z', 'usage'))).toMatchObject({
      cost: 5_200,
      requests: 2,
      state: 'pending',
    });
    const account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([0, 0, 0]);
  });

  it.each(['cancelled', 'failed'])(
    'whose subscription is %s is refused with 403 before the upstream',
    async (status) => {
      const { accountId, token } = await marketplaceAccount(status);

      const fixed = await translate(token);
      const perUnit = await complete(token);

      for (const answer of [fixed, perUnit]) {
        expect(answer.status).toBe(403);
        expect(answer.body.code).toBe('subscription_inactive');
      }
      expect(await seenBy(accountId)).toHaveLength(0);
      expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(0);
    },
  );
});

describe('a token with its own spend limit, on a proxied route', () => {
  it('is refused with 402 token_limit_reached before the upstream once its limit is reached', async () => {
    // Prepare: room for one translate call (0.005) on this token; the account could pay for 200.
    const { accountId, token: billing } = await fundedAccount(1);
    const created = await call('POST', '/v1/tokens', {
      token: billing,
      body: { name: 'proxy client', spend_limit: { amount: 0.005, reset: 'daily' } },
    });
    const limited = created.body.token as string;

    // Act
    const first = await translate(limited);
    const second = await translate(limited);
    const other = await translate(billing);

    // Assess
    expect(first.status).toBe(200);
    expect(second.status).toBe(402);
    expect(second.body.code).toBe('token_limit_reached');
    expect(other.status).toBe(200);
    expect(await seenBy(accountId)).toHaveLength(2);
    expect((await accountMoney(accountId)).balance).toBe(1_000_000 - 2 * 5_000);
  });
});
