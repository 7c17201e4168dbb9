// Invariants 1, 3 and 8 under load: many concurrent debits on one account never overdraw it, and the
// balance always equals the ledger to the micro-dollar.
import { describe, expect, it } from 'vitest';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { call } from '../support/api.ts';

describe('concurrent debits on one account', () => {
  it('lets exactly the affordable half of 240 concurrent echo calls through', async () => {
    // Prepare: money for 120 calls at 0.002, two tokens of the account.
    const { accountId, token } = await fundedAccount(0.24);
    const second = await call('POST', '/v1/tokens', { token, body: { name: 'second', scopes: ['api'] } });
    const tokens = [token, second.body.token as string];

    // Act
    const responses = await Promise.all(
      Array.from({ length: 240 }, (_, i) =>
        call('POST', '/v1/demo/echo', { token: tokens[i % 2], body: { text: `call ${i}` } }),
      ),
    );

    // Assess
    const ok = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 402);
    expect(ok).toHaveLength(120);
    expect(refused).toHaveLength(120);
    for (const r of refused)
      expect(r.body).toEqual({ error: 'Insufficient credits', code: 'insufficient_credits' });
    const account = await accountMoney(accountId);
    const entries = await ledgerEntries(accountId);
    expect(account.balance).toBe(0);
    expect(account.available).toBe(0);
    expect(account.held).toBe(0);
    expect(ledgerSum(entries)).toBe(0);
    expect(entries.filter((e) => e.type === 'usage')).toHaveLength(120);
    expect(new Set(ok.map((r) => r.headers['x-request-id']))).toEqual(
      new Set(entries.filter((e) => e.type === 'usage').map((e) => e.request_id)),
    );
  });

  it('keeps held + available + settled usage exact when per-unit calls race', async () => {
    const { accountId, token } = await fundedAccount(0.01); // 100 words' worth
    const responses = await Promise.all(
      Array.from({ length: 60 }, () => call('POST', '/v1/demo/words', { token, body: { text: 'one two' } })),
    );
    const ok = responses.filter((r) => r.status === 200);
    for (const r of ok) expect(r.body).toEqual({ results: { words: 2 }, cost: 0.0002 });
    const account = await accountMoney(accountId);
    expect(account.held).toBe(0);
    expect(account.balance).toBe(10_000 - ok.length * 200);
    expect(account.available).toBe(account.balance);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(account.balance);
    // Each call holds 4 words (length 7 / 2, rounded up), so at most 25 can hold at once; at least 25 pass.
    expect(ok.length).toBeGreaterThanOrEqual(25);
    expect(responses.filter((r) => r.status !== 200).every((r) => r.status === 402)).toBe(true);
  });
});
