// Token issuance under the per-account cap and with an expiry: the cap is a counter changed in the token's
// own transaction (racing creations cannot pass it, a revocation frees one slot once), accounts opened before
// the counter get it counted on first use, and an expired token is refused on every request, cached or not.
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { freezeClock, nowIso, nowMs, resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { transactWrite } from '#shared/dynamo/transact.ts';
import { ulidFrom } from '#shared/ids.ts';
import { listAccountTokens, prepareToken } from '#shared/tokens/repository.ts';
import { MAX_ACTIVE_TOKENS } from '#shared/tokens/service.ts';
import { fundedAccount } from '../support/accounts.ts';
import { type CallResult, call } from '../support/api.ts';
import { expectContractError, moneySnapshot } from '../support/assertions.ts';

afterEach(() => {
  resetClock();
});

function create(billing: string, body: Record<string, unknown>): Promise<CallResult> {
  return call('POST', '/v1/tokens', { token: billing, body: { scopes: ['api'], ...body } });
}

async function activeTokens(accountId: string): Promise<number> {
  return (await listAccountTokens(accountId)).filter((t) => !t.revoked_at).length;
}

async function counter(accountId: string): Promise<number | undefined> {
  const result = await ddb().send(
    new GetCommand({
      TableName: process.env.TABLE_NAME,
      Key: keys.tokenCounter(accountId),
      ConsistentRead: true,
    }),
  );
  return result.Item?.active_tokens as number | undefined;
}

/** An account as it was before the counter existed: no counter item, and `extra` more tokens stored bare. */
async function accountFromBeforeTheCounter(extra: number) {
  const account = await fundedAccount(1, 'Legacy tokens');
  await ddb().send(
    new DeleteCommand({ TableName: process.env.TABLE_NAME, Key: keys.tokenCounter(account.accountId) }),
  );
  for (let i = 0; i < extra; i++) {
    const bare = prepareToken({
      accountId: account.accountId,
      tokenId: `tok_${ulidFrom(nowMs(), crypto.getRandomValues(new Uint8Array(10)))}`,
      name: `legacy ${i}`,
      scopes: ['api'],
      at: nowIso(),
    });
    expect((await transactWrite(bare.items)).committed).toBe(true);
  }
  return account;
}

describe('the cap on active tokens', () => {
  it(`150 racing token creations leave at most ${MAX_ACTIVE_TOKENS} active tokens: 99 created next to the first, 51 × 409 too_many_tokens`, async () => {
    // Prepare: a new account holds one token (its first billing token), so 99 slots are free.
    const { accountId, token: billing } = await fundedAccount(1, 'Token race');

    // Act
    const answers = await Promise.all(
      Array.from({ length: 150 }, (_, i) => create(billing, { name: `racer ${i}` })),
    );

    // Assess
    const created = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status !== 201);
    expect(created).toHaveLength(99);
    expect(refused).toHaveLength(51);
    for (const answer of refused) expectContractError(answer, 409, 'too_many_tokens');
    expect(await activeTokens(accountId)).toBe(MAX_ACTIVE_TOKENS);
    expect(await counter(accountId)).toBe(MAX_ACTIVE_TOKENS);
  });

  it('two racing revocations of one token free one slot: one 204, one 404, then 1 creation fits and the next is 409', async () => {
    // Prepare: an account at its cap.
    const { accountId, token: billing } = await fundedAccount(1, 'Double revoke');
    const made = await Promise.all(
      Array.from({ length: MAX_ACTIVE_TOKENS - 1 }, (_, i) => create(billing, { name: `filler ${i}` })),
    );
    expect(made.every((a) => a.status === 201)).toBe(true);
    const victim = made[0]!.body.id as string;

    // Act
    const revocations = await Promise.all([
      call('DELETE', `/v1/tokens/${victim}`, { token: billing }),
      call('DELETE', `/v1/tokens/${victim}`, { token: billing }),
    ]);
    const first = await create(billing, { name: 'takes the freed slot' });
    const second = await create(billing, { name: 'finds no slot' });

    // Assess
    expect(revocations.map((r) => r.status).sort()).toEqual([204, 404]);
    expect(first.status).toBe(201);
    expectContractError(second, 409, 'too_many_tokens');
    expect(await activeTokens(accountId)).toBe(MAX_ACTIVE_TOKENS);
    expect(await counter(accountId)).toBe(MAX_ACTIVE_TOKENS);
  });

  it('an account opened before the counter has its 99 active tokens counted on first use: 1 more fits, not 100', async () => {
    // Prepare: 1 first token + 98 bare ones, no counter item.
    const { accountId, token: billing } = await accountFromBeforeTheCounter(98);
    expect(await counter(accountId)).toBeUndefined();

    // Act
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => create(billing, { name: `after migration ${i}` })),
    );

    // Assess
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    for (const answer of answers.filter((a) => a.status !== 201)) {
      expectContractError(answer, 409, 'too_many_tokens');
    }
    expect(await activeTokens(accountId)).toBe(MAX_ACTIVE_TOKENS);
    expect(await counter(accountId)).toBe(MAX_ACTIVE_TOKENS);
  });

  it('an account left with 120 active tokens by the old check-then-write is refused until it is back under 100, without a counter written', async () => {
    // Prepare
    const { accountId, token: billing } = await accountFromBeforeTheCounter(119);

    // Act
    const refused = await create(billing, { name: 'one too many' });
    const counterWhenRefused = await counter(accountId);
    const list = (await call('GET', '/v1/tokens', { token: billing })).body.data as {
      id: string;
      name: string;
    }[];
    const spare = list.filter((t) => t.name !== 'Initial billing token').slice(0, 21);
    for (const token of spare) {
      expect((await call('DELETE', `/v1/tokens/${token.id}`, { token: billing })).status).toBe(204);
    }
    const fits = await create(billing, { name: 'fits again' });
    const full = await create(billing, { name: 'full again' });

    // Assess
    expectContractError(refused, 409, 'too_many_tokens');
    expect(counterWhenRefused).toBeUndefined();
    expect(fits.status, JSON.stringify(fits.body)).toBe(201);
    expectContractError(full, 409, 'too_many_tokens');
    expect(await activeTokens(accountId)).toBe(MAX_ACTIVE_TOKENS);
    expect(await counter(accountId)).toBe(MAX_ACTIVE_TOKENS);
  });
});

describe('expires_at', () => {
  it('a token is refused with 401 token_expired from its expires_at on, to the millisecond, even from the cache', async () => {
    // Prepare
    const start = Date.parse('2030-03-01T12:00:00.000Z');
    freezeClock(new Date(start));
    const { accountId, token: billing } = await fundedAccount(1, 'Expiring token');
    const expiresAt = new Date(start + 60_000).toISOString();
    const created = await create(billing, { name: 'one minute', expires_at: expiresAt });
    expect(created.status).toBe(201);
    expect(created.body.expires_at).toBe(expiresAt);
    const token = created.body.token as string;
    // Used (so cached on this instance) 10 s before it expires; the cache would trust it for 30 s.
    freezeClock(new Date(start + 50_000));
    expect((await call('POST', '/v1/demo/echo', { token, body: { text: 'cached' } })).status).toBe(200);
    const before = await moneySnapshot(accountId);

    // Act
    freezeClock(new Date(start + 59_999));
    const lastMillisecond = await call('GET', '/v1/credits', { token });
    freezeClock(new Date(start + 60_000));
    const atExpiry = await call('POST', '/v1/demo/echo', { token, body: { text: 'expired' } });
    freezeClock(new Date(start + 60_999));
    const withinTheSecond = await call('GET', '/v1/credits', { token });
    const listed = (await call('GET', '/v1/tokens', { token: billing })).body.data as {
      id: string;
      expires_at: string | null;
    }[];

    // Assess
    expect(lastMillisecond.status).toBe(200);
    expectContractError(atExpiry, 401, 'token_expired');
    expectContractError(withinTheSecond, 401, 'token_expired');
    expect(await moneySnapshot(accountId)).toEqual(before);
    expect(listed.find((t) => t.id === created.body.id)?.expires_at).toBe(expiresAt);
    expect(listed.filter((t) => t.id !== created.body.id).map((t) => t.expires_at)).toEqual([null]);
  });

  it('a token first seen after its expiry (cold cache) is refused with 401 token_expired', async () => {
    // Prepare
    const start = Date.parse('2030-04-01T00:00:00.000Z');
    freezeClock(new Date(start));
    const { token: billing } = await fundedAccount(1, 'Cold expiry');
    const created = await create(billing, {
      name: 'short',
      expires_at: new Date(start + 1_000).toISOString(),
    });

    // Act
    freezeClock(new Date(start + 1_000));
    const refused = await call('GET', '/v1/credits', { token: created.body.token });

    // Assess
    expectContractError(refused, 401, 'token_expired');
  });

  it.each([
    ['in the past', '2030-01-31T23:59:59Z', 'must be in the future'],
    ['now', '2030-02-01T00:00:00Z', 'must be in the future'],
    ['more than 5 years ahead', '2035-02-02T00:00:00Z', 'must be at most 5 years ahead'],
    ['not an ISO time', 'tomorrow', 'Invalid ISO datetime'],
    ['a number', 1_900_000_000, 'Invalid input'],
  ])('expires_at %s → 400 invalid_request naming expires_at, and no token', async (_case, value, problem) => {
    // Prepare
    freezeClock(new Date('2030-02-01T00:00:00Z'));
    const { accountId, token: billing } = await fundedAccount(1, 'Bad expiry');

    // Act
    const answer = await create(billing, { name: 'bad', expires_at: value });

    // Assess
    expectContractError(answer, 400, 'invalid_request', { details: true, field: 'expires_at' });
    expect((answer.body.details as { problem: string }[])[0]!.problem).toContain(problem);
    expect(await activeTokens(accountId)).toBe(1);
  });

  it('accepts an expires_at exactly 5 years ahead with an offset, and answers it in UTC', async () => {
    // Prepare
    freezeClock(new Date('2030-02-01T00:00:00Z'));
    const { token: billing } = await fundedAccount(1, 'Far expiry');

    // Act
    const answer = await create(billing, { name: 'long', expires_at: '2035-02-01T02:00:00+02:00' });

    // Assess
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body.expires_at).toBe('2035-02-01T00:00:00.000Z');
  });
});
