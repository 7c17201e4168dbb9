// The foundation's acceptance scenario, over HTTP against the local stack that `npm start` runs, through the
// typed client an operator's backend would use.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import { typedClient } from '../support/http.ts';

const ADMIN_KEY = 'e2e-admin-key';
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    adminApiKey: ADMIN_KEY,
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `e2e-${randomUUID().slice(0, 8)}`,
    seedDemo: false,
    runJobs: false,
    quiet: true,
  });
});

afterAll(async () => {
  await stack?.stop();
});

const operator = () => typedClient(stack.url, { adminKey: ADMIN_KEY });
const customer = (token: string) => typedClient(stack.url, { token });

async function newAccount(name: string, dollars: number) {
  const created = await operator().POST('/admin/accounts', { body: { name } });
  expect(created.response.status).toBe(201);
  const { account_id: accountId, token } = created.data!;
  const grant = await operator().POST('/admin/accounts/{id}/credits', {
    params: { path: { id: accountId } },
    body: { amount: dollars, reason: 'trial' },
  });
  expect(grant.response.status).toBe(201);
  return { accountId, api: customer(token!) };
}

describe('a new user on the local stack', () => {
  it('spends $1 in 500 echo calls with two tokens, then gets the exact 402', async () => {
    const { api } = await newAccount('Acme', 1);
    const second = await api.POST('/v1/tokens', { body: { name: 'worker', scopes: ['api'] } });
    expect(second.response.status).toBe(201);
    const clients = [api, customer(second.data!.token!)];

    for (let i = 0; i < 500; i++) {
      const response = await clients[i % 2]!.POST('/v1/demo/echo', { body: { text: `n${i}` } });
      expect(response.response.status).toBe(200);
      expect(response.data?.cost).toBe(0.002);
    }
    const refused = await api.POST('/v1/demo/echo', { body: { text: 'one too many' } });

    expect(refused.response.status).toBe(402);
    expect(refused.error).toEqual({ error: 'Insufficient credits', code: 'insufficient_credits' });
    expect(refused.response.headers.get('retry-after')).toBeNull();
    const credits = await api.GET('/v1/credits');
    expect(credits.data).toMatchObject({
      balance: 0,
      available: 0,
      currency: 'USD',
      billing_mode: 'prepaid',
    });

    const entries: Array<{ amount: number }> = [];
    let cursor: string | null = null;
    do {
      const query: { limit: number; cursor?: string } = { limit: 100, ...(cursor ? { cursor } : {}) };
      const page = await api.GET('/v1/transactions', { params: { query } });
      expect(page.response.status).toBe(200);
      entries.push(...page.data!.data);
      cursor = page.data!.next_cursor;
    } while (cursor);
    expect(entries).toHaveLength(501);
    const sumMicros = entries.reduce((total, e) => total + Math.round(e.amount * 1_000_000), 0);
    expect(sumMicros).toBe(0);

    const today = new Date().toISOString().slice(0, 10);
    // Usage follows the ledger through the stack's stream poller: it counts the 500 calls moments later.
    const usage = async () =>
      (await api.GET('/v1/usage', { params: { query: { begin: today, end: today, step: 'day' } } })).data
        ?.data;
    await expect
      .poll(usage, { timeout: 10_000 })
      .toEqual([{ period_start: today, cost: 1, requests: 500, by_feature: { echo: 1 } }]);
  });

  it('lets exactly 30 of 60 concurrent calls through when there is money for 30', async () => {
    const { api } = await newAccount('Race', 0.06);

    const responses = await Promise.all(
      Array.from({ length: 60 }, () => api.POST('/v1/demo/echo', { body: { text: 'race' } })),
    );

    expect(responses.filter((r) => r.response.status === 200)).toHaveLength(30);
    expect(responses.filter((r) => r.response.status === 402)).toHaveLength(30);
    const credits = await api.GET('/v1/credits');
    expect(credits.data?.balance).toBe(0);
  });
});
