// Tenant isolation: one account's token never sees, changes or replays anything of another account.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { newUlid } from '#shared/ids.ts';
import { fundedAccount, ledgerEntries } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { expectContractError, micros, moneySnapshot } from '../support/assertions.ts';

type Tenant = {
  accountId: string;
  token: string;
  apiToken: { id: string; token: string };
  requestIds: string[];
};

const today = () => new Date().toISOString().slice(0, 10);

async function tenant(usd: number, name: string): Promise<Tenant> {
  const { accountId, token } = await fundedAccount(usd, name);
  const created = await call('POST', '/v1/tokens', { token, body: { name: `${name} api`, scopes: ['api'] } });
  expect(created.status).toBe(201);
  return { accountId, token, apiToken: { id: created.body.id, token: created.body.token }, requestIds: [] };
}

async function spend(owner: Tenant, path: string, text: string): Promise<void> {
  const response = await call('POST', path, { token: owner.apiToken.token, body: { text } });
  expect(response.status).toBe(200);
  owner.requestIds.push(response.headers['x-request-id']!);
}

let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  // B spends first, so B's ledger entries are older than A's (see the cursor test).
  b = await tenant(3, 'Tenant B');
  await spend(b, '/v1/demo/echo', 'b only');
  a = await tenant(7, 'Tenant A');
  await spend(a, '/v1/demo/echo', 'a secret');
  await spend(a, '/v1/demo/echo', 'a secret again');
  await spend(a, '/v1/demo/words', 'three little words');
});

describe('tenant isolation', () => {
  it("B's transactions list only B's ledger entries", async () => {
    // Prepare
    const bEntryIds = (await ledgerEntries(b.accountId)).map((e) => e.entry_id).sort();

    // Act
    const response = await call('GET', '/v1/transactions', {
      token: b.apiToken.token,
      query: { limit: '100' },
    });

    // Assess
    expect(response.status).toBe(200);
    const rows = response.body.data as {
      id: string;
      request_id?: string;
      token_id?: string;
      amount: number;
    }[];
    expect(rows.map((r) => r.id).sort()).toEqual(bEntryIds);
    expect(rows.map((r) => r.request_id).filter(Boolean)).toEqual(b.requestIds);
    expect(rows.every((r) => r.token_id === undefined || r.token_id === b.apiToken.id)).toBe(true);
    expect(rows.reduce((sum, r) => sum + micros(r.amount), 0)).toBe(3_000_000 - 2_000);
  });

  it("B's usage shows only B's requests, and A's token id filters to nothing", async () => {
    // Prepare
    const range = { begin: today(), end: today() };

    // Act
    const own = await call('GET', '/v1/usage', { token: b.apiToken.token, query: range });
    const foreignToken = await call('GET', '/v1/usage', {
      token: b.apiToken.token,
      query: { ...range, token_id: a.apiToken.id },
    });

    // Assess
    expect(own.status).toBe(200);
    expect(own.body).toEqual({
      step: 'day',
      data: [{ period_start: today(), cost: 0.002, requests: 1, by_feature: { echo: 0.002 } }],
    });
    expect(foreignToken.status).toBe(200);
    expect(foreignToken.body.data).toEqual([{ period_start: today(), cost: 0, requests: 0, by_feature: {} }]);
  });

  it("B's credits show B's balance, not A's", async () => {
    // Act
    const response = await call('GET', '/v1/credits', { token: b.apiToken.token });

    // Assess
    expect(response.status).toBe(200);
    expect(response.body.balance).toBe(2.998);
    expect(response.body.available).toBe(2.998);
  });

  it("B presenting a cursor issued to A is refused, never answered with A's running balance", async () => {
    // Prepare: A's cursor carries A's running balance; B's entries are all older than A's, so a page read
    // "after" A's newest entry would hold B's entries priced against A's balance.
    const aPage = await call('GET', '/v1/transactions', { token: a.apiToken.token, query: { limit: '1' } });
    expect(aPage.body.next_cursor).toEqual(expect.any(String));

    // Act
    const response = await call('GET', '/v1/transactions', {
      token: b.apiToken.token,
      query: { limit: '100', cursor: aPage.body.next_cursor },
    });

    // Assess: a cursor another account was given is not one this API returned to B.
    expectContractError(response, 400, 'invalid_request', { details: true, field: 'cursor' });
  });

  it("B deleting A's token id is 404 exactly like an unknown id, and A's token keeps working", async () => {
    // Prepare
    const unknownId = `tok_${newUlid()}`;

    // Act
    const foreign = await call('DELETE', `/v1/tokens/${a.apiToken.id}`, { token: b.token });
    const unknown = await call('DELETE', `/v1/tokens/${unknownId}`, { token: b.token });
    const aStillWorks = await call('GET', '/v1/credits', { token: a.apiToken.token });

    // Assess
    expectContractError(foreign, 404, 'not_found');
    expect(foreign.body).toEqual(unknown.body);
    expect(aStillWorks.status).toBe(200);
    const aTokens = await call('GET', '/v1/tokens', { token: a.token });
    expect(aTokens.body.data.map((t: { id: string }) => t.id)).toContain(a.apiToken.id);
  });

  it("B using A's Idempotency-Key runs B's own request: no replay of A's answer, each charged once", async () => {
    // Prepare
    const key = `shared-${randomUUID()}`;
    const body = { text: 'same body, same key' };
    const aFirst = await call('POST', '/v1/demo/echo', {
      token: a.apiToken.token,
      body,
      headers: { 'idempotency-key': key },
    });
    const aAfter = await moneySnapshot(a.accountId);
    const bBefore = await moneySnapshot(b.accountId);

    // Act
    const bCall = await call('POST', '/v1/demo/echo', {
      token: b.apiToken.token,
      body,
      headers: { 'idempotency-key': key },
    });
    const aReplay = await call('POST', '/v1/demo/echo', {
      token: a.apiToken.token,
      body,
      headers: { 'idempotency-key': key },
    });

    // Assess
    expect(aFirst.status).toBe(200);
    expect(bCall.status).toBe(200);
    expect(bCall.headers['x-request-id']).not.toBe(aFirst.headers['x-request-id']);
    expect(bCall.headers['x-credits-remaining']).toBe(String((bBefore.available - 2_000) / 1_000_000));
    expect(aReplay.headers['x-request-id']).toBe(aFirst.headers['x-request-id']);
    expect((await moneySnapshot(b.accountId)).balance).toBe(bBefore.balance - 2_000);
    expect(await moneySnapshot(a.accountId)).toEqual(aAfter);
  });

  it('an api-scoped token cannot manage tokens (403 forbidden) but can read its credits', async () => {
    // Act
    const list = await call('GET', '/v1/tokens', { token: a.apiToken.token });
    const create = await call('POST', '/v1/tokens', {
      token: a.apiToken.token,
      body: { name: 'escalate', scopes: ['billing'] },
    });
    const revoke = await call('DELETE', `/v1/tokens/${a.apiToken.id}`, { token: a.apiToken.token });
    const credits = await call('GET', '/v1/credits', { token: a.apiToken.token });

    // Assess
    expectContractError(list, 403, 'forbidden');
    expectContractError(create, 403, 'forbidden');
    expectContractError(revoke, 403, 'forbidden');
    expect(credits.status).toBe(200);
    const tokens = await call('GET', '/v1/tokens', { token: a.token });
    expect(tokens.body.data.map((t: { name: string }) => t.name).sort()).toEqual([
      'Initial billing token',
      'Tenant A api',
    ]);
  });

  it('the operator reading an unknown but well-formed account id gets 404 not_found', async () => {
    // Prepare
    const unknownAccount = `acct_${newUlid()}`;

    // Act
    const response = await call('GET', `/admin/accounts/${unknownAccount}`);
    const known = await call('GET', `/admin/accounts/${a.accountId}`);

    // Assess
    expectContractError(response, 404, 'not_found');
    expect(known.status).toBe(200);
    expect(known.body.account_id).toBe(a.accountId);
  });
});
