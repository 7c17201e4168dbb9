import { describe, expect, it } from 'vitest';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { call } from '../support/api.ts';

describe('echo', () => {
  it('charges 0.002 and answers cost', async () => {
    const { accountId, token } = await fundedAccount(1);
    const response = await call('POST', '/v1/demo/echo', { token, body: { text: 'hi' } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ results: { echo: 'hi' }, cost: 0.002 });
    expect(response.headers['x-credits-remaining']).toBe('0.998');
    const account = await accountMoney(accountId);
    expect(account.balance).toBe(998_000);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(998_000);
  });
});
