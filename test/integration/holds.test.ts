// Variable-cost calls: the estimate is held, the actual cost settled and the rest released; a failed
// feature releases everything; a hold whose invocation crashed is released by the expiry job.
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { wordsResults } from '#functions/demo/words.ts';
import { handler as expireJob } from '#functions/jobs/expire-holds.ts';
import { advanceClock, nowMs, resetClock } from '#shared/clock.ts';
import { ValidationError } from '#shared/errors.ts';
import type { ApiContext } from '#shared/http/api.ts';
import { newUlid } from '#shared/ids.ts';
import { expireDueHolds } from '#shared/ledger/expiry.ts';
import { reserveHold, settleHold } from '#shared/ledger/ledger.ts';
import { paidFeature } from '#shared/metering/metered.ts';
import { micros } from '#shared/money.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { apiEvent, call, lambdaContext } from '../support/api.ts';

afterEach(() => resetClock());

describe('per-unit charging', () => {
  it('charges the actual words and releases the rest of the hold', async () => {
    const { accountId, token } = await fundedAccount(1);
    // "one  two   three" is 16 characters: 8 words held, 3 charged.
    const response = await call('POST', '/v1/demo/words', { token, body: { text: 'one  two   three' } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ results: { words: 3 }, cost: 0.0003 });
    expect(response.headers['x-credits-remaining']).toBe('0.9997');
    const account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([999_700, 0, 999_700]);
    const [usage] = (await ledgerEntries(accountId)).filter((e) => e.type === 'usage');
    expect(usage).toMatchObject({ amount: -300, quantity: 3, feature: 'words', hold_id: usage!.entry_id });
  });

  it('refuses with 402 when the estimate is not available, even if the actual cost would be', async () => {
    // 0.0003 USD covers 3 words; "a b c d" is held as 4 words.
    const { accountId, token } = await fundedAccount(0.0003);
    const response = await call('POST', '/v1/demo/words', { token, body: { text: 'a b c d' } });
    expect(response.status).toBe(402);
    expect(response.body).toEqual({ error: 'Insufficient credits', code: 'insufficient_credits' });
    const account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([300, 0, 300]);
  });

  it.each([
    ['crashes (5xx)', new Error('upstream down'), 500],
    ['refuses the input (4xx)', new ValidationError([{ field: 'text', problem: 'is not English' }]), 400],
  ])('charges nothing and releases the hold when the feature %s', async (_name, failure, status) => {
    const { accountId, token } = await fundedAccount(1);
    const failing = paidFeature({
      feature: 'words',
      body: z.object({ text: z.string() }),
      results: wordsResults,
      estimate: () => 10,
      run: () => {
        throw failure;
      },
    });
    const result = await failing(
      apiEvent('POST', '/v1/demo/words', { token, body: { text: 'a b' } }),
      lambdaContext() as ApiContext,
    );
    expect(result.statusCode).toBe(status);
    const account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([1_000_000, 0, 1_000_000]);
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(0);
  });
});

describe('a hold that is never settled', () => {
  it('is released by the expiry job after its time, leaving the balance untouched', async () => {
    // Prepare: an invocation reserved 0.5 USD and crashed before settling.
    const { accountId, token } = await fundedAccount(1);
    const holdId = newUlid();
    const reserved = await reserveHold({
      accountId,
      holdId,
      amount: micros(500_000),
      requestId: `req_${holdId}`,
      tokenId: undefined,
      feature: 'words',
      at: new Date(nowMs()),
    });
    expect(reserved.status).toBe('reserved');
    expect((await accountMoney(accountId)).available).toBe(500_000);
    // While it is held, the other half is all that can be spent.
    const big = await call('POST', '/v1/demo/words', { token, body: { text: 'w '.repeat(6_000) } });
    expect(big.status).toBe(402);

    // Act: before expiry the job leaves it; after expiry it releases it. (The table is shared with the other
    // test files, whose own expired holds the job may release too: what counts is this account's hold.)
    await expireDueHolds();
    const beforeExpiry = await accountMoney(accountId);
    advanceClock(5 * 60_000 + 1_000);
    const report = await expireJob();

    // Assess
    expect([beforeExpiry.held, beforeExpiry.available]).toEqual([500_000, 500_000]);
    expect(report.expired).toBeGreaterThanOrEqual(1);
    const account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([1_000_000, 0, 1_000_000]);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(1_000_000);

    // A late settle of the expired hold cannot charge through it.
    if (reserved.status !== 'reserved') throw new Error('unreachable');
    const late = await settleHold(reserved.hold, {
      accountId,
      entryId: holdId,
      requestId: `req_${holdId}`,
      tokenId: undefined,
      feature: 'words',
      quantity: 1,
      cost: micros(100),
      at: new Date(nowMs()).toISOString(),
    });
    expect(late.status).toBe('hold_not_open');
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);
  });

  it('is released once even when two expiry runs overlap', async () => {
    const { accountId } = await fundedAccount(1);
    const holdId = newUlid();
    await reserveHold({
      accountId,
      holdId,
      amount: micros(250_000),
      requestId: `req_${holdId}`,
      tokenId: undefined,
      feature: 'words',
      at: new Date(nowMs()),
    });
    advanceClock(6 * 60_000);
    await Promise.all([expireDueHolds(), expireDueHolds(), expireDueHolds()]);
    const account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([1_000_000, 0, 1_000_000]);
  });
});
