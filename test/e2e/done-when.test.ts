// The foundation's acceptance scenario, over HTTP against the local stack that `npm start` runs.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import { stackClient } from '../support/http.ts';

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

const api = stackClient(() => stack.url, ADMIN_KEY);

async function newAccountWithDollar() {
  const created = await api('POST', '/admin/accounts', { admin: true, body: { name: 'Acme' } });
  expect(created.status).toBe(201);
  const { account_id: accountId, token } = created.body as { account_id: string; token: string };
  const grant = await api('POST', `/admin/accounts/${accountId}/credits`, {
    admin: true,
    body: { amount: 1, reason: 'trial' },
  });
  expect(grant.status).toBe(201);
  return { accountId, token };
}

describe('a new user on the local stack', () => {
  it('spends $1 in 500 echo calls with two tokens, then gets the exact 402', async () => {
    const { token } = await newAccountWithDollar();
    const second = await api('POST', '/v1/tokens', { token, body: { name: 'worker', scopes: ['api'] } });
    expect(second.status).toBe(201);
    const tokens = [token, second.body.token as string];

    for (let i = 0; i < 500; i++) {
      const response = await api('POST', '/v1/demo/echo', { token: tokens[i % 2], body: { text: `n${i}` } });
      expect(response.status).toBe(200);
      expect(response.body.cost).toBe(0.002);
    }
    const refused = await api('POST', '/v1/demo/echo', { token, body: { text: 'one too many' } });

    expect(refused.status).toBe(402);
    expect(refused.body).toEqual({ error: 'Insufficient credits', code: 'insufficient_credits' });
    expect(refused.headers.get('retry-after')).toBeNull();
    const credits = await api('GET', '/v1/credits', { token });
    expect(credits.body).toMatchObject({
      balance: 0,
      available: 0,
      currency: 'USD',
      billing_mode: 'prepaid',
    });

    const entries: Array<{ amount: number }> = [];
    let cursor: string | null = null;
    do {
      const page = await api('GET', `/v1/transactions?limit=100${cursor ? `&cursor=${cursor}` : ''}`, {
        token,
      });
      expect(page.status).toBe(200);
      entries.push(...page.body.data);
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(entries).toHaveLength(501);
    const sumMicros = entries.reduce((total, e) => total + Math.round(e.amount * 1_000_000), 0);
    expect(sumMicros).toBe(0);

    const today = new Date().toISOString().slice(0, 10);
    const usage = await api('GET', `/v1/usage?begin=${today}&end=${today}&step=day`, { token });
    expect(usage.body.data).toEqual([
      { period_start: today, cost: 1, requests: 500, by_feature: { echo: 1 } },
    ]);
  });

  it('lets exactly 30 of 60 concurrent calls through when there is money for 30', async () => {
    const created = await api('POST', '/admin/accounts', { admin: true, body: { name: 'Race' } });
    const { account_id: accountId, token } = created.body as { account_id: string; token: string };
    await api('POST', `/admin/accounts/${accountId}/credits`, {
      admin: true,
      body: { amount: 0.06, reason: 'x' },
    });

    const responses = await Promise.all(
      Array.from({ length: 60 }, () => api('POST', '/v1/demo/echo', { token, body: { text: 'race' } })),
    );

    expect(responses.filter((r) => r.status === 200)).toHaveLength(30);
    expect(responses.filter((r) => r.status === 402)).toHaveLength(30);
    const credits = await api('GET', '/v1/credits', { token });
    expect(credits.body.balance).toBe(0);
  });
});
