// Hot accounts (issue 14 item 3): a prepaid balance split across balance shards. Conservation under
// concurrent charges (sum of shards = sum of ledger, no shard below zero, 402 only when the total cannot pay),
// rebalances racing charges, a missing shard item, credits and refunds on the total, raising and lowering
// the count, and the operator route's refusals. Against DynamoDB Local.
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { nowIso } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import type { ApiContext } from '#shared/http/api.ts';
import { newUlid } from '#shared/ids.ts';
import { readShards, setBalanceShards, spreadCredit } from '#shared/ledger/balance-shards.ts';
import { applyCredit } from '#shared/ledger/ledger.ts';
import { reconcileAccount } from '#shared/ledger/reconcile.ts';
import { totalOf } from '#shared/ledger/shard-plan.ts';
import { paidFeature } from '#shared/metering/metered.ts';
import type { Micros } from '#shared/money.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum, tableItem } from '../support/accounts.ts';
import { apiEvent, call, lambdaContext } from '../support/api.ts';

const ECHO = 2_000; // micro-USD per echo call

async function shardedAccount(usd: number, count: number) {
  const account = await fundedAccount(usd, 'Sharded account');
  const answer = await call('PUT', `/admin/accounts/${account.accountId}/balance-shards`, {
    body: { count },
  });
  expect(answer.status).toBe(200);
  expect(answer.body.balance_shards).toBe(count);
  return account;
}

/** Every money invariant of a sharded account, read from the table. */
async function expectConserved(accountId: string) {
  const read = await readShards(accountId);
  for (const shard of read.states) {
    expect(shard.available).toBeGreaterThanOrEqual(0);
    expect(shard.balance).toBe(shard.available + shard.held);
  }
  const total = totalOf(read.states);
  const entries = await ledgerEntries(accountId);
  expect(ledgerSum(entries)).toBe(total.balance);
  expect(entries).toHaveLength(total.entry_count);
  const { drift } = await reconcileAccount(accountId);
  expect(drift).toBeUndefined();
  return { total, entries, read };
}

const echo = (token: string, i: number) => call('POST', '/v1/demo/echo', { token, body: { text: `c${i}` } });

describe('balance shards', () => {
  it('lets exactly the affordable calls through when 300 race on 16 shards, never overdrawing one', async () => {
    // Prepare: money for 200 calls, spread over 16 shards (12 or 13 calls each).
    const { accountId, token } = await shardedAccount(0.4, 16);
    const spread = await readShards(accountId);
    expect(spread.states).toHaveLength(16);
    expect(spread.states.filter((s) => s.available > 0)).toHaveLength(16);

    // Act
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => echo(token, i)));

    // Assess: 402 only once the whole account could not pay.
    expect(
      answers.filter((a) => a.status !== 200 && a.status !== 402).map((a) => [a.status, a.body]),
    ).toEqual([]);
    const ok = answers.filter((a) => a.status === 200);
    expect(ok).toHaveLength(200);
    expect(answers.filter((a) => a.status === 402)).toHaveLength(100);
    const { total, entries } = await expectConserved(accountId);
    expect(total.balance).toBe(0);
    const usage = entries.filter((e) => e.type === 'usage');
    expect(usage).toHaveLength(200);
    expect(new Set(usage.map((e) => e.request_id))).toEqual(
      new Set(ok.map((a) => a.headers['x-request-id'])),
    );
    // The charges' entries went to the ledger slots, not the account partition.
    expect(new Set(usage.map((e) => (e as unknown as { PK: string }).PK)).size).toBeGreaterThan(8);
  }, 180_000); // 300 racing transactions: minutes on a loaded 2-core machine, seconds alone (not a speed check)

  it('answers the total: GET /v1/credits, x-credits-remaining and the transactions', async () => {
    const { accountId, token } = await shardedAccount(1, 4);
    const first = await echo(token, 0);
    expect(first.status).toBe(200);
    expect(first.headers['x-credits-remaining']).toBe('0.998');
    for (let i = 1; i < 5; i++) expect((await echo(token, i)).status).toBe(200);
    const credits = await call('GET', '/v1/credits', { token });
    expect(credits.body).toMatchObject({ balance: 0.99, available: 0.99, held: 0 });
    const page = await call('GET', '/v1/transactions', { token, query: { limit: '3' } });
    expect(page.body.data.map((row: { balance_after: number }) => row.balance_after)).toEqual([
      0.99, 0.992, 0.994,
    ]);
    const rest = await call('GET', '/v1/transactions', {
      token,
      query: { limit: '10', cursor: page.body.next_cursor },
    });
    expect(rest.body.data.map((row: { type: string }) => row.type)).toEqual(['usage', 'usage', 'grant']);
    expect(rest.body.data.at(-1).balance_after).toBe(1);
    await expectConserved(accountId);
  });

  it("reverses a failed call's charge on a sharded account, and its retry under the same key charges once", async () => {
    const { accountId, token } = await shardedAccount(1, 8);
    let failing = true;
    const handler = paidFeature({
      feature: 'echo',
      body: z.object({ text: z.string() }),
      results: z.object({ echo: z.string() }),
      run: async ({ text }) => {
        if (failing) throw new Error('upstream down');
        return { results: { echo: text } };
      },
    });
    const send = async () => {
      const event = apiEvent('POST', '/v1/demo/echo', {
        token,
        headers: { 'idempotency-key': 'sharded-retry' },
        body: { text: 'a' },
      });
      return (await handler(event, lambdaContext() as ApiContext)).statusCode;
    };

    expect(await send()).toBe(500);
    failing = false;
    expect(await send()).toBe(200);

    const { total, entries } = await expectConserved(accountId);
    expect(total.balance).toBe(1_000_000 - ECHO);
    expect(entries.filter((e) => e.type === 'usage')).toHaveLength(2);
    expect(entries.filter((e) => e.type === 'reversal')).toHaveLength(1);
    const today = nowIso().slice(0, 10);
    const usage = await call('GET', '/v1/usage', { token, query: { begin: today, end: today } });
    expect(usage.body.data[0]).toMatchObject({ cost: 0.002, requests: 1 });
  });

  it('reserves a per-unit call on the account item, moving credit there when only the total can pay', async () => {
    // Prepare: $0.01 over 8 shards (1,250 micro-USD each); 50 words hold and cost 5,000.
    const { accountId, token } = await shardedAccount(0.01, 8);
    const text = Array.from({ length: 50 }, (_, i) => `w${i}`).join(' ');

    // Act
    const answer = await call('POST', '/v1/demo/words', { token, body: { text } });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body.cost).toBe(0.005);
    const { total } = await expectConserved(accountId);
    expect(total.balance).toBe(5_000);
    expect(total.held).toBe(0);
    const tooMuch = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');
    expect((await call('POST', '/v1/demo/words', { token, body: { text: tooMuch } })).status).toBe(402);
  });

  it('keeps every shard at or above zero and the total exact while rebalances race charges', async () => {
    const { accountId, token } = await shardedAccount(0.2, 8);
    const rebalancing = (async () => {
      for (let i = 0; i < 20; i++) await spreadCredit(accountId);
    })();
    const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => echo(token, i)));
    await rebalancing;
    expect(answers.filter((a) => a.status === 200)).toHaveLength(100);
    expect(answers.filter((a) => a.status === 402)).toHaveLength(50);
    const { total } = await expectConserved(accountId);
    expect(total.balance).toBe(0);
  });

  it('keeps charging past a missing shard item, and the same count recreates it', async () => {
    const { accountId, token } = await shardedAccount(0, 4);
    // Shard 2 is lost while empty (nothing was on it): charges go round it.
    await ddb().send(
      new DeleteCommand({ TableName: process.env.TABLE_NAME, Key: keys.balanceShard(accountId, 2) }),
    );
    await call('POST', `/admin/accounts/${accountId}/credits`, {
      body: { amount: 0.02, reason: 'funds' },
    });
    const answers = await Promise.all(Array.from({ length: 15 }, (_, i) => echo(token, i)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(10);
    expect(answers.filter((a) => a.status === 402)).toHaveLength(5);
    expect(await tableItem(keys.balanceShard(accountId, 2))).toBeUndefined();
    await expectConserved(accountId);

    const again = await call('PUT', `/admin/accounts/${accountId}/balance-shards`, {
      body: { count: 4 },
    });
    expect(again.status).toBe(200);
    expect(await tableItem(keys.balanceShard(accountId, 2))).toMatchObject({ balance: 0, available: 0 });
  });

  it('grants add to the total, a correction and a refund take from it, and a debt blocks every shard', async () => {
    const { accountId, token } = await shardedAccount(0.1, 8);
    const grant = await call('POST', `/admin/accounts/${accountId}/credits`, {
      body: { amount: 0.05, reason: 'more' },
    });
    expect(grant.status).toBe(201);
    // A correction larger than any one shard holds works on the total.
    const correction = await call('POST', `/admin/accounts/${accountId}/credits`, {
      body: { amount: -0.12, reason: 'too much' },
    });
    expect(correction.status).toBe(201);
    expect((await accountMoney(accountId)).available).toBe(30_000);
    const tooMuch = await call('POST', `/admin/accounts/${accountId}/credits`, {
      body: { amount: -0.04, reason: 'more than there is' },
    });
    expect(tooMuch.status).toBe(409);
    await spreadCredit(accountId);

    // A refund of credits already spent takes the total below zero: no shard may pay, whatever it held.
    const refund = await applyCredit({
      accountId,
      entryId: newUlid(),
      type: 'refund',
      amount: -50_000 as Micros,
      at: nowIso(),
      allowNegative: true,
    });
    expect(refund.status).toBe('applied');
    const inDebt = await readShards(accountId);
    expect(totalOf(inDebt.states).available).toBe(-20_000);
    expect(inDebt.states.slice(1).every((s) => s.available === 0)).toBe(true);
    const refused = await Promise.all(Array.from({ length: 8 }, (_, i) => echo(token, i)));
    expect(refused.every((a) => a.status === 402)).toBe(true);

    // Repaid: usage again.
    await call('POST', `/admin/accounts/${accountId}/credits`, {
      body: { amount: 0.03, reason: 'repaid' },
    });
    expect((await echo(token, 9)).status).toBe(200);
    const { total } = await expectConserved(accountId);
    expect(total.available).toBe(10_000 - ECHO);
  });

  it('raises and lowers the count without moving money, and the entry counts follow', async () => {
    const { accountId, token } = await shardedAccount(0.1, 8);
    for (let i = 0; i < 20; i++) expect((await echo(token, i)).status).toBe(200);
    await setBalanceShards(accountId, 2);
    const lowered = await readShards(accountId);
    expect(lowered.states).toHaveLength(2);
    for (let shard = 2; shard < 8; shard++)
      expect(await tableItem(keys.balanceShard(accountId, shard))).toBeUndefined();
    expect(totalOf(lowered.states).balance).toBe(100_000 - 20 * ECHO);
    await expectConserved(accountId);

    await setBalanceShards(accountId, 1);
    expect((await accountMoney(accountId)).balance).toBe(100_000 - 20 * ECHO);
    // Back on one shard, charges of the account keep their records in its ledger slots.
    expect((await echo(token, 99)).status).toBe(200);
    await setBalanceShards(accountId, 32);
    expect((await readShards(accountId)).states).toHaveLength(32);
    const { total } = await expectConserved(accountId);
    expect(total.balance).toBe(100_000 - 21 * ECHO);
  });

  it("refuses the operator route's bad input, unknown accounts and other billing modes", async () => {
    const { accountId } = await fundedAccount(1);
    for (const body of [
      { count: 0 },
      { count: 33 },
      { count: 2.5 },
      { count: '4' },
      {},
      { count: 2, extra: 1 },
    ]) {
      const answer = await call('PUT', `/admin/accounts/${accountId}/balance-shards`, { body });
      expect(answer.status).toBe(400);
      expect(answer.body.code).toBe('invalid_request');
    }
    const unknown = await call('PUT', `/admin/accounts/acct_${'0'.repeat(26)}/balance-shards`, {
      body: { count: 2 },
    });
    expect(unknown.status).toBe(404);

    // A sharded account moves to postpaid only back on one shard; a postpaid account is not sharded.
    expect(
      (await call('PUT', `/admin/accounts/${accountId}/balance-shards`, { body: { count: 2 } })).status,
    ).toBe(200);
    const toPostpaid = await call('PUT', `/admin/accounts/${accountId}/billing`, {
      body: { mode: 'postpaid' },
    });
    expect(toPostpaid.status).toBe(409);
    expect(toPostpaid.body.code).toBe('wrong_billing_mode');
    await call('PUT', `/admin/accounts/${accountId}/balance-shards`, { body: { count: 1 } });
    expect(
      (await call('PUT', `/admin/accounts/${accountId}/billing`, { body: { mode: 'postpaid' } })).status,
    ).toBe(200);
    const postpaid = await call('PUT', `/admin/accounts/${accountId}/balance-shards`, {
      body: { count: 4 },
    });
    expect(postpaid.status).toBe(409);
    expect(postpaid.body.code).toBe('wrong_billing_mode');
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);
  });
});
