// A token's own controls (issue 15): a spend limit per UTC day, week, month or ever, and an expiry, set when
// the token is created or changed later with PATCH /v1/tokens/{id}; GET /v1/tokens shows each token's spend
// in its period. Against DynamoDB Local through the real route handlers.
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { advanceClock, nowIso, resetClock, setClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum, tableItem } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { eventsOf, expectContractError } from '../support/assertions.ts';

type Listed = {
  id: string;
  name: string;
  expires_at: string | null;
  spend_limit: { amount: number; reset: string } | null;
  usage: { period_start: string; spent: number; remaining: number | null };
};

async function listed(billing: string, id: string): Promise<Listed> {
  const response = await call('GET', '/v1/tokens', { token: billing });
  expect(response.status).toBe(200);
  const token = (response.body.data as Listed[]).find((t) => t.id === id);
  if (!token) throw new Error(`token ${id} not listed`);
  return token;
}

async function created(billing: string, body: Record<string, unknown>) {
  const response = await call('POST', '/v1/tokens', { token: billing, body: { name: 'worker', ...body } });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body as { id: string; token: string; spend_limit: Listed['spend_limit'] };
}

afterEach(() => resetClock());

describe('token spend limits and expiry: setting them', () => {
  it('a token created with a weekly limit shows it, its week from Monday, nothing spent and all of it remaining', async () => {
    // Prepare: Sunday 2027-04-04, in the week of Monday 2027-03-29.
    setClock(new Date('2027-04-04T10:00:00.000Z'));
    const { token: billing } = await fundedAccount(5);

    // Act
    const token = await created(billing, { spend_limit: { amount: 2.5, reset: 'weekly' } });

    // Assess
    expect(token.spend_limit).toEqual({ amount: 2.5, reset: 'weekly' });
    expect(await listed(billing, token.id)).toMatchObject({
      spend_limit: { amount: 2.5, reset: 'weekly' },
      usage: { period_start: '2027-03-29', spent: 0, remaining: 2.5 },
    });
  });

  it('PATCH changes only what is sent; null clears the limit (its item goes) and the expiry', async () => {
    // Prepare
    const { token: billing } = await fundedAccount(5);
    const token = await created(billing, {});
    const expiry = new Date(Date.parse(nowIso()) + 86_400_000).toISOString();

    // Act
    const limited = await call('PATCH', `/v1/tokens/${token.id}`, {
      token: billing,
      body: { spend_limit: { amount: 1, reset: 'daily' }, expires_at: expiry },
    });
    const renamed = await call('PATCH', `/v1/tokens/${token.id}`, {
      token: billing,
      body: { name: 'batch' },
    });
    const cleared = await call('PATCH', `/v1/tokens/${token.id}`, {
      token: billing,
      body: { spend_limit: null, expires_at: null },
    });

    // Assess
    expect(limited.status, JSON.stringify(limited.body)).toBe(200);
    expect(limited.body).toMatchObject({
      id: token.id,
      name: 'worker',
      expires_at: expiry,
      spend_limit: { amount: 1, reset: 'daily' },
      usage: { period_start: nowIso().slice(0, 10), spent: 0, remaining: 1 },
    });
    expect(renamed.body).toMatchObject({ name: 'batch', expires_at: expiry, spend_limit: { amount: 1 } });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ name: 'batch', expires_at: null, spend_limit: null });
    expect(cleared.body.usage.remaining).toBeNull();
  });

  it('the limit item exists exactly while the token has a limit', async () => {
    // Prepare
    const { accountId, token: billing } = await fundedAccount(5);
    const token = await created(billing, { spend_limit: { amount: 3, reset: 'monthly' } });
    const key = keys.tokenLimit(accountId, token.id);
    const before = await tableItem(key);

    // Act
    await call('PATCH', `/v1/tokens/${token.id}`, { token: billing, body: { spend_limit: null } });
    const after = await tableItem(key);

    // Assess
    expect(before).toMatchObject({
      amount: 3_000_000,
      reset: 'monthly',
      spent: 0,
      committed: 0,
      headroom: 3_000_000,
    });
    expect(after).toBeUndefined();
  });

  it('a token made to expire is refused with 401 token_expired from that instant, on this instance at once', async () => {
    // Prepare
    setClock(new Date('2027-05-01T12:00:00.000Z'));
    const { token: billing } = await fundedAccount(5);
    const token = await created(billing, {});
    expect((await call('GET', '/v1/credits', { token: token.token })).status).toBe(200);

    // Act
    const patched = await call('PATCH', `/v1/tokens/${token.id}`, {
      token: billing,
      body: { expires_at: new Date(Date.parse(nowIso()) + 60_000).toISOString() },
    });
    const before = await call('GET', '/v1/credits', { token: token.token });
    advanceClock(60_000);
    const after = await call('GET', '/v1/credits', { token: token.token });

    // Assess
    expect(patched.status).toBe(200);
    expect(before.status).toBe(200);
    expectContractError(after, 401, 'token_expired');
  });

  it.each([
    [{ spend_limit: { amount: 0, reset: 'daily' } }, 'spend_limit.amount'],
    [{ spend_limit: { amount: -1, reset: 'daily' } }, 'spend_limit.amount'],
    [{ spend_limit: { amount: 0.0000001, reset: 'daily' } }, 'spend_limit.amount'],
    [{ spend_limit: { amount: 1, reset: 'hourly' } }, 'spend_limit.reset'],
    [{ spend_limit: { amount: 1 } }, 'spend_limit.reset'],
    [{ expires_at: '2020-01-01T00:00:00Z' }, 'expires_at'],
    [{ expires_at: '2099-01-01T00:00:00Z' }, 'expires_at'],
    [{ name: '' }, 'name'],
    [{ owner: 'someone' }, 'body'],
  ])('PATCH %j → 400 naming %s, nothing changed', async (body, field) => {
    // Prepare
    const { token: billing } = await fundedAccount(1);
    const token = await created(billing, {});

    // Act
    const response = await call('PATCH', `/v1/tokens/${token.id}`, { token: billing, body });

    // Assess
    expectContractError(response, 400, 'invalid_request', { details: true });
    const problems = (response.body.details as { field: string }[]).map((d) => d.field);
    expect(problems.some((f) => f === field || f.startsWith(`${field}.`) || field === 'body')).toBe(true);
    expect(await listed(billing, token.id)).toMatchObject({
      name: 'worker',
      expires_at: null,
      spend_limit: null,
    });
  });

  it("PATCH of another account's token, an unknown one or a revoked one → 404", async () => {
    // Prepare
    const mine = await fundedAccount(1);
    const theirs = await fundedAccount(1);
    const their = await created(theirs.token, {});
    const revoked = await created(mine.token, {});
    await call('DELETE', `/v1/tokens/${revoked.id}`, { token: mine.token });

    // Act
    const answers = await Promise.all(
      [their.id, 'tok_01J00000000000000000000000', revoked.id].map((id) =>
        call('PATCH', `/v1/tokens/${id}`, { token: mine.token, body: { name: 'taken' } }),
      ),
    );

    // Assess
    for (const answer of answers) expectContractError(answer, 404, 'not_found');
    expect(await listed(theirs.token, their.id)).toMatchObject({ name: 'worker' });
  });

  it("PATCH sets a token's own rate limit, applied at once here; null gives it the defaults again", async () => {
    // Prepare
    const { token: billing } = await fundedAccount(1);
    const token = await created(billing, {});

    // Act
    const limited = await call('PATCH', `/v1/tokens/${token.id}`, {
      token: billing,
      body: { rate_limit: { rps: 1, burst: 1 } },
    });
    const first = await call('GET', '/v1/credits', { token: token.token });
    const second = await call('GET', '/v1/credits', { token: token.token });
    const cleared = await call('PATCH', `/v1/tokens/${token.id}`, {
      token: billing,
      body: { rate_limit: null },
    });
    const third = await call('GET', '/v1/credits', { token: token.token });

    // Assess
    expect(limited.body).toMatchObject({ rate_limit: { rps: 1, burst: 1 } });
    expect(first.status).toBe(200);
    expectContractError(second, 429, 'rate_limited');
    expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(cleared.body).toMatchObject({ rate_limit: null });
    expect(third.status).toBe(200);
  });

  it('an api-scope token may not change tokens (403)', async () => {
    // Prepare
    const { token: billing } = await fundedAccount(1);
    const api = await created(billing, { scopes: ['api'] });

    // Act
    const response = await call('PATCH', `/v1/tokens/${api.id}`, { token: api.token, body: { name: 'x' } });

    // Assess
    expectContractError(response, 403, 'forbidden');
  });
});

/** An echo call (0.002 USD) with this token. */
function echo(token: string, headers: Record<string, string> = {}) {
  return call('POST', '/v1/demo/echo', { token, body: { text: 'hi' }, headers });
}

async function limitItem(accountId: string, tokenId: string) {
  return tableItem(keys.tokenLimit(accountId, tokenId));
}

async function deleteLimitItem(accountId: string, tokenId: string): Promise<void> {
  await ddb().send(
    new DeleteCommand({ TableName: process.env.TABLE_NAME, Key: keys.tokenLimit(accountId, tokenId) }),
  );
}

describe('token spend limits: charging within them', () => {
  it('60 racing calls on a token with room for 30 charge exactly 30; another token of the account is not affected', async () => {
    // Prepare: $0.06 is 30 echo calls; the account could pay for 500.
    const { accountId, token: billing } = await fundedAccount(1);
    const limited = await created(billing, { spend_limit: { amount: 0.06, reset: 'monthly' } });
    const other = await created(billing, {});

    // Act
    const answers = await Promise.all(Array.from({ length: 60 }, () => echo(limited.token)));
    const afterwards = await echo(other.token);

    // Assess
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(30);
    for (const refused of answers.filter((answer) => answer.status !== 200))
      expectContractError(refused, 402, 'token_limit_reached');
    expect(afterwards.status).toBe(200);
    expect(await limitItem(accountId, limited.id)).toMatchObject({
      spent: 60_000,
      committed: 60_000,
      headroom: 0,
    });
    const money = await accountMoney(accountId);
    expect(money.balance).toBe(1_000_000 - 31 * 2_000);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(money.balance);
    expect(await listed(billing, limited.id)).toMatchObject({ usage: { spent: 0.06, remaining: 0 } });
  });

  it('a daily limit starts again at UTC midnight with no job: the first call of the day opens the period', async () => {
    // Prepare: room for two calls a day.
    setClock(new Date('2027-06-10T23:59:50.000Z'));
    const { accountId, token: billing } = await fundedAccount(1);
    const token = await created(billing, { spend_limit: { amount: 0.004, reset: 'daily' } });
    const day1 = [await echo(token.token), await echo(token.token), await echo(token.token)];

    // Act
    setClock(new Date('2027-06-11T00:00:05.000Z'));
    const day2 = [await echo(token.token), await echo(token.token), await echo(token.token)];

    // Assess
    expect(day1.map((r) => r.status)).toEqual([200, 200, 402]);
    expect(day2.map((r) => r.status)).toEqual([200, 200, 402]);
    expect(await limitItem(accountId, token.id)).toMatchObject({ period_start: '2027-06-11', spent: 4_000 });
    expect(await listed(billing, token.id)).toMatchObject({
      usage: { period_start: '2027-06-11', spent: 0.004, remaining: 0 },
    });
  });

  it('a limit lowered below what the token spent refuses its next call; raised, the token is served again', async () => {
    // Prepare
    const { token: billing } = await fundedAccount(1);
    const token = await created(billing, { spend_limit: { amount: 1, reset: 'never' } });
    expect((await echo(token.token)).status).toBe(200);
    expect((await echo(token.token)).status).toBe(200);

    // Act
    await call('PATCH', `/v1/tokens/${token.id}`, {
      token: billing,
      body: { spend_limit: { amount: 0.003, reset: 'never' } },
    });
    const lowered = await echo(token.token);
    await call('PATCH', `/v1/tokens/${token.id}`, {
      token: billing,
      body: { spend_limit: { amount: 0.01, reset: 'never' } },
    });
    const raised = await echo(token.token);

    // Assess
    expectContractError(lowered, 402, 'token_limit_reached');
    expect(raised.status).toBe(200);
    expect(await listed(billing, token.id)).toMatchObject({ usage: { spent: 0.006, remaining: 0.004 } });
  });

  it('a limit removed while this instance still knows it: the call is charged without the item, once', async () => {
    // Prepare: the limit item goes behind this instance's back (another instance's PATCH).
    const { accountId, token: billing } = await fundedAccount(1);
    const token = await created(billing, { spend_limit: { amount: 0.002, reset: 'never' } });
    expect((await echo(token.token)).status).toBe(200);
    await deleteLimitItem(accountId, token.id);

    // Act
    const answer = await echo(token.token);

    // Assess
    expect(answer.status).toBe(200);
    const usage = (await ledgerEntries(accountId)).filter((entry) => entry.type === 'usage');
    expect(usage).toHaveLength(2);
  });

  it('a per-unit call holds its estimate on the token limit too: refused when the estimate does not fit', async () => {
    // Prepare: "one two three four" is held as 9 words (0.0009) and costs 4 (0.0004); room for 0.001.
    const { accountId, token: billing } = await fundedAccount(1);
    const token = await created(billing, { spend_limit: { amount: 0.001, reset: 'monthly' } });

    // Act
    const first = await call('POST', '/v1/demo/words', {
      token: token.token,
      body: { text: 'one two three four' },
    });
    const second = await call('POST', '/v1/demo/words', {
      token: token.token,
      body: { text: 'one two three four' },
    });
    const small = await call('POST', '/v1/demo/words', { token: token.token, body: { text: 'a' } });

    // Assess: after the first settle, 0.0006 is left, below the second call's hold of 0.0009.
    expect(first.status).toBe(200);
    expectContractError(second, 402, 'token_limit_reached');
    expect(small.status).toBe(200);
    const item = await limitItem(accountId, token.id);
    expect(item).toMatchObject({ spent: 400 + 100, committed: 500, headroom: 500 });
    expect((await accountMoney(accountId)).held).toBe(0);
  });

  it('a failed call gives its charge back to the token limit with its reversal', async () => {
    // Prepare
    const { accountId, token: billing } = await fundedAccount(1);
    const token = await created(billing, { spend_limit: { amount: 0.002, reset: 'monthly' } });

    // Act: the echo feature fails on demand (its "fail" body field).
    const failed = await call('POST', '/v1/demo/echo', {
      token: token.token,
      body: { message: 'hi', fail: true },
    });
    const after = await echo(token.token);

    // Assess
    expect(failed.status).toBeGreaterThanOrEqual(400);
    expect(after.status).toBe(200);
    expect(await limitItem(accountId, token.id)).toMatchObject({
      spent: 2_000,
      committed: 2_000,
      headroom: 0,
    });
  });

  it('announces credits.token_limit.reached once a period however many calls are refused', async () => {
    // Prepare
    const { accountId, token: billing } = await fundedAccount(1);
    const token = await created(billing, { spend_limit: { amount: 0.002, reset: 'monthly' } });
    await echo(token.token);

    // Act
    for (let i = 0; i < 5; i++) expect((await echo(token.token)).status).toBe(402);

    // Assess
    const events = await eventsOf(accountId, 'credits.token_limit.reached');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ token_id: token.id, period_start: `${nowIso().slice(0, 7)}-01` });
  });
});
