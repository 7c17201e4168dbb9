// Idempotency-Key on metered proxy routes, against the toy upstream in another process and DynamoDB Local:
// a retry with the same key is answered the first answer (byte for byte) without calling the upstream again
// and charged once, racing attempts included; another request under the key is a 409 and charges nothing;
// an answer too large to keep is charged once and its replay says so.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_STORED_BODY_BYTES } from '#shared/idempotency/middleware.ts';
import { fromWire } from '#shared/money.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { type CallOptions, type CallResult, call } from '../support/api.ts';
import { useToyUpstream } from '../support/toy-process.ts';

const { seenBy } = useToyUpstream();

const post = (path: string, token: string, key: string, options: CallOptions) =>
  call('POST', path, { token, ...options, headers: { 'idempotency-key': key, ...options.headers } });
const translate = (token: string, key: string, body: unknown) =>
  post('/v1/sample/translate', token, key, { body });
const complete = (token: string, key: string, body: unknown) =>
  post('/v1/sample/complete', token, key, { body });
/** A binary body: the toy upstream echoes it back as application/octet-stream. */
const binary = (token: string, key: string, bytes: Buffer) =>
  post('/v1/sample/translate', token, key, {
    rawBody: bytes.toString('base64'),
    base64: true,
    headers: { 'content-type': 'application/octet-stream' },
  });

/** The balance and the ledger both say exactly `usd` was spent of `funded`, and nothing is held. */
async function expectSpent(accountId: string, funded: number, usd: number): Promise<void> {
  const money = await accountMoney(accountId);
  const left = fromWire(funded) - fromWire(usd);
  expect([money.balance, money.available]).toEqual([left, left]);
  expect(ledgerSum(await ledgerEntries(accountId))).toBe(left);
}

/** What a client sees of an answer: status, body and the headers that describe it. */
function seen(answer: CallResult) {
  const {
    'content-type': type,
    'x-cost': cost,
    'x-request-id': id,
    'x-credits-remaining': left,
  } = answer.headers;
  return { status: answer.status, body: answer.body, type, cost, id, left };
}

describe('a fixed-price proxy route with an Idempotency-Key', () => {
  it('answers a retry the first answer without calling the upstream again, charged once', async () => {
    const { accountId, token } = await fundedAccount(1);

    const first = await translate(token, 'tr-1', { text: 'hello', to: 'fr' });
    const again = await translate(token, 'tr-1', { text: 'hello', to: 'fr' });

    expect(first.status).toBe(200);
    expect(first.body).toEqual({ translation: '[fr] hello', to: 'fr', cost: 0.005 });
    expect(seen(again)).toEqual(seen(first));
    expect(first.headers['x-cost']).toBe('0.005');
    expect(await seenBy(accountId)).toHaveLength(1);
    await expectSpent(accountId, 1, 0.005);
  });

  it('refuses another body under the same key with 409 idempotency_key_reused, charging nothing', async () => {
    const { accountId, token } = await fundedAccount(1);
    await translate(token, 'tr-2', { text: 'hello', to: 'fr' });

    const otherBody = await translate(token, 'tr-2', { text: 'hello', to: 'de' });
    const otherQuery = await post('/v1/sample/translate', token, 'tr-2', {
      body: { text: 'hello', to: 'fr' },
      query: { v: '2' },
    });

    for (const answer of [otherBody, otherQuery]) {
      expect(answer.status).toBe(409);
      expect(answer.body.code).toBe('idempotency_key_reused');
    }
    expect(await seenBy(accountId)).toHaveLength(1);
    await expectSpent(accountId, 1, 0.005);
  });

  it('lets racing attempts with one key call the upstream once and charge once', async () => {
    const { accountId, token } = await fundedAccount(1);
    const body = { text: 'slow', to: 'es', delay_ms: 300 };

    const answers = await Promise.all(Array.from({ length: 5 }, () => translate(token, 'tr-race', body)));

    for (const answer of answers) expect(seen(answer)).toEqual(seen(answers[0]!));
    expect(answers[0]!.status).toBe(200);
    expect(await seenBy(accountId)).toHaveLength(1);
    await expectSpent(accountId, 1, 0.005);
  });

  it('keeps a key of one proxy route apart from the same key on another', async () => {
    const { accountId, token } = await fundedAccount(1);

    const translated = await translate(token, 'shared-key', { text: 'hi', to: 'fr' });
    const completed = await complete(token, 'shared-key', { prompt: 'hi', max_tokens: 1 });

    expect([translated.status, completed.status]).toEqual([200, 200]);
    expect(await seenBy(accountId)).toHaveLength(2);
    await expectSpent(accountId, 1, 0.005 + 0.00004);
  });

  it('replays an upstream 4xx (not charged), but lets a retry after a 502 call the upstream again', async () => {
    const { accountId, token } = await fundedAccount(1);

    const refused = await translate(token, 'tr-422', { text: 'hi', to: 'de', fail: 422 });
    const refusedAgain = await translate(token, 'tr-422', { text: 'hi', to: 'de', fail: 422 });
    const failed = await translate(token, 'tr-503', { text: 'hi', to: 'de', fail: 503 });
    const failedAgain = await translate(token, 'tr-503', { text: 'hi', to: 'de', fail: 503 });

    expect(refused.status).toBe(422);
    expect(seen(refusedAgain)).toEqual(seen(refused));
    expect([failed.status, failedAgain.status]).toEqual([502, 502]);
    // Both attempts of the failed key carry its one request id to the upstream.
    const calls = await seenBy(accountId);
    expect(calls).toHaveLength(3);
    expect(calls[1]!.headers['x-credits-request-id']).toBe(calls[2]!.headers['x-credits-request-id']);
    await expectSpent(accountId, 1, 0);
  });
});

describe('a per-unit proxy route with an Idempotency-Key', () => {
  it('charges the reported quantity once and releases the hold; the retry is the first answer', async () => {
    const { accountId, token } = await fundedAccount(1);
    const body = { prompt: 'one two three', max_tokens: 7 };

    const first = await complete(token, 'cp-1', body);
    const again = await complete(token, 'cp-1', body);

    expect(first.status).toBe(200);
    expect(first.body.cost).toBe(0.0002);
    expect(seen(again)).toEqual(seen(first));
    expect(await seenBy(accountId)).toHaveLength(1);
    await expectSpent(accountId, 1, 0.0002);
  });
});

describe('a binary answer with an Idempotency-Key', () => {
  it('is replayed byte for byte, as base64 with its content type', async () => {
    const { accountId, token } = await fundedAccount(1);
    const bytes = randomBytes(4096);

    const first = await binary(token, 'bin-1', bytes);
    const again = await binary(token, 'bin-1', bytes);
    const otherBytes = await binary(token, 'bin-1', Buffer.concat([bytes, Buffer.from([0])]));

    expect(first.status).toBe(200);
    expect(again.headers['content-type']).toBe('application/octet-stream');
    expect(Buffer.from(again.body as string, 'base64').equals(bytes)).toBe(true);
    expect(seen(again)).toEqual(seen(first));
    expect(otherBytes.status).toBe(409);
    expect(await seenBy(accountId)).toHaveLength(1);
    await expectSpent(accountId, 1, 0.005);
  });

  it('too large to keep: charged once, and its replay is a 409 naming the first status and cost', async () => {
    const { accountId, token } = await fundedAccount(1);
    // Stored as base64, a third larger: above the bound.
    const bytes = randomBytes(MAX_STORED_BODY_BYTES);

    const first = await binary(token, 'big-1', bytes);
    const again = await binary(token, 'big-1', bytes);

    expect(first.status).toBe(200);
    expect(Buffer.from(first.body as string, 'base64').equals(bytes)).toBe(true);
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      error: expect.stringContaining('too large to keep'),
      code: 'idempotency_answer_too_large',
      original_status: 200,
    });
    expect(again.headers['x-cost']).toBe('0.005');
    expect(again.headers['x-request-id']).toBe(first.headers['x-request-id']);
    expect(await seenBy(accountId)).toHaveLength(1);
    await expectSpent(accountId, 1, 0.005);
  });
});
