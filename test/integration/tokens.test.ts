// API tokens: created once with their secret, listed without it, sharing the account's balance, and refused
// after revocation: at once on the revoking instance, within the cache TTL on any other.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { advanceClock, nowIso, resetClock } from '#shared/clock.ts';
import { hashToken } from '#shared/ids.ts';
import { getAccountToken, revokeToken } from '#shared/tokens/repository.ts';
import { accountMoney, fundedAccount } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { expectContractError, idempotencyRecord, moneySnapshot, REQUEST_ID } from '../support/assertions.ts';

const TOKEN = /^crd_[A-Za-z0-9_-]{43}$/;

type TokenView = {
  id: string;
  name: string;
  scopes: string[];
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  rate_limit: { rps: number; burst: number } | null;
  spend_limit: { amount: number; reset: string } | null;
  usage: { period_start: string; spent: number; remaining: number | null };
};

async function newToken(billingToken: string, name: string, scopes: string[] = ['api']) {
  const response = await call('POST', '/v1/tokens', { token: billingToken, body: { name, scopes } });
  expect(response.status).toBe(201);
  return response.body as { id: string; token: string; name: string; scopes: string[]; created_at: string };
}

async function listed(billingToken: string) {
  const response = await call('GET', '/v1/tokens', { token: billingToken });
  expect(response.status).toBe(200);
  return { raw: JSON.stringify(response.body), data: response.body.data as TokenView[] };
}

afterEach(() => {
  resetClock();
});

describe('tokens', () => {
  it('creates a token shown once with the crd_ prefix; the list shows its prefix, never the secret or hash', async () => {
    // Prepare
    const { token: billing } = await fundedAccount(1, 'Token owner');

    // Act
    const created = await call('POST', '/v1/tokens', {
      token: billing,
      body: { name: '  CI deploys ', scopes: ['api'] },
    });
    const list = await listed(billing);

    // Assess
    expect(created.status).toBe(201);
    expect(created.headers['x-request-id']).toMatch(REQUEST_ID);
    expect(Object.keys(created.body).sort()).toEqual([
      'created_at',
      'expires_at',
      'id',
      'name',
      'rate_limit',
      'scopes',
      'spend_limit',
      'token',
    ]);
    expect(created.body.token).toMatch(TOKEN);
    expect(created.body.id).toMatch(/^tok_[0-9A-Z]{26}$/);
    expect(created.body.name).toBe('CI deploys');
    expect(created.body.scopes).toEqual(['api']);
    const secret = created.body.token as string;
    const view = list.data.find((t) => t.id === created.body.id);
    expect(view).toEqual({
      id: created.body.id,
      name: 'CI deploys',
      scopes: ['api'],
      prefix: secret.slice(0, 10),
      created_at: created.body.created_at,
      last_used_at: null,
      expires_at: null,
      rate_limit: null,
      spend_limit: null,
      usage: { period_start: `${nowIso().slice(0, 7)}-01`, spent: 0, remaining: null },
    });
    for (const item of list.data) {
      expect(Object.keys(item).sort()).toEqual([
        'created_at',
        'expires_at',
        'id',
        'last_used_at',
        'name',
        'prefix',
        'rate_limit',
        'scopes',
        'spend_limit',
        'usage',
      ]);
    }
    expect(list.raw).not.toContain(secret);
    expect(list.raw).not.toContain(hashToken(secret));
    expect(list.raw).not.toContain(secret.slice(10, 30));
  });

  it('records last_used_at when the token is first used', async () => {
    // Prepare
    const { token: billing } = await fundedAccount(1, 'Last use');
    const created = await newToken(billing, 'reader');

    // Act
    const used = await call('GET', '/v1/credits', { token: created.token });
    const view = (await listed(billing)).data.find((t) => t.id === created.id)!;

    // Assess
    expect(used.status).toBe(200);
    expect(view.last_used_at).toEqual(expect.any(String));
    expect(Date.parse(view.last_used_at!)).toBeGreaterThanOrEqual(Date.parse(created.created_at));
  });

  it('every token of an account spends from one balance', async () => {
    // Prepare
    const { accountId, token: billing } = await fundedAccount(1, 'Shared balance');
    const second = await newToken(billing, 'second');

    // Act
    const first = await call('POST', '/v1/demo/echo', { token: billing, body: { text: 'one' } });
    const other = await call('POST', '/v1/demo/echo', { token: second.token, body: { text: 'two' } });
    const viaBilling = await call('GET', '/v1/credits', { token: billing });
    const viaSecond = await call('GET', '/v1/credits', { token: second.token });

    // Assess
    expect(first.status).toBe(200);
    expect(other.status).toBe(200);
    expect(other.headers['x-credits-remaining']).toBe('0.996');
    expect(viaBilling.body.balance).toBe(0.996);
    expect(viaSecond.body).toEqual(viaBilling.body);
    expect((await accountMoney(accountId)).balance).toBe(996_000);
  });

  it('a token created with only the billing scope can do everything an api token can', async () => {
    // Prepare: the contract: `billing` = everything `api` can, plus purchases, tokens, invoices.
    const { accountId, token: billing } = await fundedAccount(1, 'Billing only');
    const billingOnly = await newToken(billing, 'finance', ['billing']);

    // Act
    const credits = await call('GET', '/v1/credits', { token: billingOnly.token });
    const charged = await call('POST', '/v1/demo/echo', { token: billingOnly.token, body: { text: 'hi' } });
    const tokens = await call('GET', '/v1/tokens', { token: billingOnly.token });

    // Assess
    expect(tokens.status).toBe(200);
    expect(credits.status, JSON.stringify(credits.body)).toBe(200);
    expect(charged.status, JSON.stringify(charged.body)).toBe(200);
    expect((await accountMoney(accountId)).balance).toBe(998_000);
  });

  it('revoking answers 204; the revoked token is refused at once on this instance and cannot spend; again is 404', async () => {
    // Prepare: the token is used first, so this instance has it cached.
    const { accountId, token: billing } = await fundedAccount(1, 'Revoker');
    const doomed = await newToken(billing, 'doomed');
    expect(
      (await call('POST', '/v1/demo/echo', { token: doomed.token, body: { text: 'before' } })).status,
    ).toBe(200);
    const before = await moneySnapshot(accountId);

    // Act
    const revoked = await call('DELETE', `/v1/tokens/${doomed.id}`, { token: billing });
    const refused = await call('POST', '/v1/demo/echo', { token: doomed.token, body: { text: 'after' } });
    const again = await call('DELETE', `/v1/tokens/${doomed.id}`, { token: billing });

    // Assess
    expect(revoked.status).toBe(204);
    expect(revoked.body).toBeUndefined();
    expect(revoked.headers['x-request-id']).toMatch(REQUEST_ID);
    expectContractError(refused, 401, 'unauthorized');
    expectContractError(again, 404, 'not_found');
    expect(await moneySnapshot(accountId)).toEqual(before);
    expect((await listed(billing)).data.map((t) => t.id)).not.toContain(doomed.id);
  });

  it('a revocation made by another instance is honoured here once the token cache expires (< 60 s)', async () => {
    // Prepare: this instance has used and cached the token; another instance revokes it in the table.
    const { accountId, token: billing } = await fundedAccount(1, 'Elsewhere');
    const doomed = await newToken(billing, 'doomed elsewhere');
    expect(
      (await call('POST', '/v1/demo/echo', { token: doomed.token, body: { text: 'cache me' } })).status,
    ).toBe(200);
    const record = await getAccountToken(accountId, doomed.id);
    expect(await revokeToken(record!, nowIso())).toBe(true);
    const withinTtl = await call('POST', '/v1/demo/echo', {
      token: doomed.token,
      body: { text: 'still cached' },
    });
    const before = await moneySnapshot(accountId);

    // Act
    advanceClock(31_000);
    const refused = await call('POST', '/v1/demo/echo', { token: doomed.token, body: { text: 'too late' } });
    const readRefused = await call('GET', '/v1/credits', { token: doomed.token });

    // Assess
    expect(withinTtl.status).toBe(200);
    expectContractError(refused, 401, 'unauthorized');
    expectContractError(readRefused, 401, 'unauthorized');
    expect(await moneySnapshot(accountId)).toEqual(before);
  });

  it('a token created with an Idempotency-Key is not kept in plaintext for replays, nor shown a second time', async () => {
    // Prepare: the contract: tokens are shown exactly once and stored only as a hash.
    const { accountId, token: billing } = await fundedAccount(1, 'Idempotent token');
    const key = `token-${randomUUID()}`;
    const request = {
      token: billing,
      body: { name: 'retry-safe', scopes: ['api'] },
      headers: { 'idempotency-key': key },
    };
    const created = await call('POST', '/v1/tokens', request);
    expect(created.status).toBe(201);
    const secret = created.body.token as string;

    // Act
    const replay = await call('POST', '/v1/tokens', request);
    const stored = await idempotencyRecord(accountId, key);

    // Assess
    expect(JSON.stringify(stored ?? {})).not.toContain(secret);
    expect(JSON.stringify(replay.body)).not.toContain(secret);
    expect((await listed(billing)).data.filter((t) => t.name === 'retry-safe')).toHaveLength(1);
  });

  it("an account the operator opens with an Idempotency-Key does not keep its first token's secret for replays", async () => {
    // Prepare
    const key = `account-${randomUUID()}`;
    const request = { body: { name: 'Idempotent account' }, headers: { 'idempotency-key': key } };
    const opened = await call('POST', '/admin/accounts', request);
    expect(opened.status).toBe(201);
    const secret = opened.body.token as string;
    expect(secret).toMatch(TOKEN);

    // Act
    const stored = await idempotencyRecord('admin', key);

    // Assess
    expect(JSON.stringify(stored ?? {})).not.toContain(secret);
  });
});
