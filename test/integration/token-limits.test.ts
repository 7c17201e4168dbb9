// A token's own controls (issue 15): a spend limit per UTC day, week, month or ever, and an expiry, set when
// the token is created or changed later with PATCH /v1/tokens/{id}; GET /v1/tokens shows each token's spend
// in its period. Against DynamoDB Local through the real route handlers.
import { afterEach, describe, expect, it } from 'vitest';
import { advanceClock, nowIso, resetClock, setClock } from '#shared/clock.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { fundedAccount, tableItem } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { expectContractError } from '../support/assertions.ts';

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
