// Invariants 2, 5 and 8: one request id, one Idempotency-Key, one charge, forever; the same key replays
// the same response; a lost reply or a redelivered event never charges twice.
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { sha256Hex } from '#shared/ids.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { loseRepliesOf, restoreClient } from '../support/faults.ts';

afterEach(() => restoreClient());

describe('Idempotency-Key', () => {
  it('replays the first response for the same key and body, charging once', async () => {
    const { accountId, token } = await fundedAccount(1);
    const headers = { 'idempotency-key': 'order-1' };
    const first = await call('POST', '/v1/demo/echo', { token, headers, body: { text: 'a' } });
    const second = await call('POST', '/v1/demo/echo', { token, headers, body: { text: 'a' } });
    expect(first.status).toBe(200);
    expect(second).toEqual(first);
    expect((await accountMoney(accountId)).balance).toBe(998_000);
  });

  it('answers 409 idempotency_key_reused for the same key with another body, charging nothing more', async () => {
    const { accountId, token } = await fundedAccount(1);
    const headers = { 'idempotency-key': 'order-2' };
    await call('POST', '/v1/demo/echo', { token, headers, body: { text: 'a' } });
    const reused = await call('POST', '/v1/demo/echo', { token, headers, body: { text: 'b' } });
    expect(reused.status).toBe(409);
    expect(reused.body.code).toBe('idempotency_key_reused');
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(1);
  });

  it('charges once when the same key is sent 25 times concurrently, and every answer is the same', async () => {
    const { accountId, token } = await fundedAccount(1);
    const headers = { 'idempotency-key': 'burst-1' };
    const responses = await Promise.all(
      Array.from({ length: 25 }, () =>
        call('POST', '/v1/demo/words', { token, headers, body: { text: 'x y z' } }),
      ),
    );
    for (const r of responses) expect(r).toEqual(responses[0]);
    expect(responses[0]!.status).toBe(200);
    const account = await accountMoney(accountId);
    expect(account.balance).toBe(1_000_000 - 300);
    expect(account.held).toBe(0);
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(1);
  });

  it('still charges once when the key is replayed after its record expired', async () => {
    const { accountId, token } = await fundedAccount(1);
    const headers = { 'idempotency-key': 'long-ago' };
    const first = await call('POST', '/v1/demo/echo', { token, headers, body: { text: 'a' } });
    // TTL removed the record (kept at least 24 h); the money guard is permanent.
    await ddb().send(
      new DeleteCommand({
        TableName: process.env.TABLE_NAME,
        Key: keys.idempotency(accountId, sha256Hex('long-ago')),
      }),
    );
    const late = await call('POST', '/v1/demo/echo', { token, headers, body: { text: 'a' } });
    expect(late.status).toBe(200);
    expect(late.body).toEqual(first.body);
    expect((await accountMoney(accountId)).balance).toBe(998_000);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(998_000);
  });

  it('applies an operator grant once per key', async () => {
    const { accountId } = await fundedAccount(0);
    const grant = () =>
      call('POST', `/admin/accounts/${accountId}/credits`, {
        headers: { 'idempotency-key': 'grant-7' },
        body: { amount: 12.5, reason: 'goodwill' },
      });
    const [a, b, c] = await Promise.all([grant(), grant(), grant()]);
    expect(a!.status).toBe(201);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect((await accountMoney(accountId)).balance).toBe(12_500_000);
  });
});

describe('reply lost after the write committed', () => {
  it('does not charge again when the client retries with its Idempotency-Key', async () => {
    const { accountId, token } = await fundedAccount(1);
    const headers = { 'idempotency-key': 'lost-1' };
    // The charge commits, then the reply is lost on every SDK attempt: the handler answers 500.
    loseRepliesOf('TransactWriteItemsCommand', 10);
    const failed = await call('POST', '/v1/demo/echo', { token, headers, body: { text: 'a' } });
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ error: 'Internal error', code: 'internal_error' });
    restoreClient();

    const retried = await call('POST', '/v1/demo/echo', { token, headers, body: { text: 'a' } });

    expect(retried.status).toBe(200);
    expect(retried.body).toEqual({ results: { echo: 'a' }, cost: 0.002 });
    expect(retried.headers['x-request-id']).toBe(failed.headers['x-request-id']);
    expect((await accountMoney(accountId)).balance).toBe(998_000);
    // The request answered 500, so the charge whose reply was lost was reversed; the retry paid for its run.
    const entries = await ledgerEntries(accountId);
    expect(entries.map((e) => e.type).sort()).toEqual(['grant', 'reversal', 'usage', 'usage']);
    expect(ledgerSum(entries)).toBe(998_000);
  });

  it('does not charge again when API Gateway redelivers the same event', async () => {
    const { accountId, token } = await fundedAccount(1);
    loseRepliesOf('TransactWriteItemsCommand', 10);
    const event = { token, gatewayRequestId: 'gw-redelivered', timeEpoch: Date.now(), body: { text: 'a' } };
    const failed = await call('POST', '/v1/demo/echo', event);
    expect(failed.status).toBe(500);
    restoreClient();

    const redelivered = await call('POST', '/v1/demo/echo', event);

    expect(redelivered.status).toBe(200);
    expect(redelivered.body.cost).toBe(0.002);
    expect((await accountMoney(accountId)).balance).toBe(998_000);
    const entries = await ledgerEntries(accountId);
    const net = (type: string) => entries.filter((e) => e.type === type).length;
    expect(net('usage') - net('reversal')).toBe(1);
  });

  it('settles a per-unit call once when the settle reply is lost', async () => {
    const { accountId, token } = await fundedAccount(1);
    const headers = { 'idempotency-key': 'lost-words' };
    // The hold (first transaction) goes through; the settle (second) commits but its reply is lost.
    loseRepliesOf('TransactWriteItemsCommand', 10, 1);
    const failed = await call('POST', '/v1/demo/words', { token, headers, body: { text: 'a b c' } });
    expect(failed.status).toBe(500);
    restoreClient();

    const retried = await call('POST', '/v1/demo/words', { token, headers, body: { text: 'a b c' } });

    expect(retried.status).toBe(200);
    expect(retried.body).toEqual({ results: { words: 3 }, cost: 0.0003 });
    const account = await accountMoney(accountId);
    expect(account.balance).toBe(1_000_000 - 300);
    expect(account.held).toBe(0);
    expect(account.available).toBe(account.balance);
    expect((await ledgerEntries(accountId)).filter((e) => e.type === 'usage')).toHaveLength(1);
  });
});
