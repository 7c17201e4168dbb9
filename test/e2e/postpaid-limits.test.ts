// Issue 5's acceptance scenario for the spend limit, as a new user meets it on `npm start`: over HTTP
// against the local stack, with the operator's key, a customer's tokens and the local clock.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetClock } from '#shared/clock.ts';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import { eventually } from '../support/eventually.ts';
import { stackClient } from '../support/http.ts';

const ADMIN = 'e2e-postpaid-admin';
const LIMIT_REACHED = { error: 'Monthly spend limit reached', code: 'spend_limit_reached' };
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    adminApiKey: ADMIN,
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `e2e-postpaid-${randomUUID().slice(0, 8)}`,
    seedDemo: false,
    runJobs: false,
    quiet: true,
    stripe: { webhookRetryBaseMs: 50 },
  });
});

afterAll(async () => {
  resetClock();
  await stack?.stop();
});

const http = stackClient(() => stack.url, ADMIN);

const echo = (token: string) => http('POST', '/v1/demo/echo', { token, body: { text: 'hi' } });

describe('a postpaid account with a monthly spend limit, over HTTP', () => {
  it('is switched by the operator only, blocks at its limit exactly, and passes again next month with no job', async () => {
    await http('POST', '/__local/clock', { admin: true, body: { now: '2041-01-20T10:00:00Z' } });
    const { account_id, token } = (
      await http('POST', '/admin/accounts', { admin: true, body: { name: 'Big team' } })
    ).body;

    // Only the operator switches the mode: the customer's billing token is not an operator credential.
    const byCustomer = await http('PUT', `/admin/accounts/${account_id}/billing`, {
      token,
      body: { mode: 'postpaid' },
    });
    expect(byCustomer.status).toBe(401);
    const beforeSwitch = await http('PUT', '/v1/billing/spend-limit', {
      token,
      body: { monthly_spend_limit: 1 },
    });
    expect(beforeSwitch.status).toBe(409);
    expect(beforeSwitch.body.code).toBe('wrong_billing_mode');
    const switched = await http('PUT', `/admin/accounts/${account_id}/billing`, {
      admin: true,
      body: { mode: 'postpaid' },
    });
    expect(switched.status).toBe(200);
    expect(switched.body.billing_mode).toBe('postpaid');

    // A zero balance does not stop a postpaid account; 0.01 allows exactly five 0.002 calls.
    const limit = await http('PUT', '/v1/billing/spend-limit', {
      token,
      body: { monthly_spend_limit: 0.01 },
    });
    expect(limit.body).toMatchObject({ monthly_spend_limit: 0.01, period: '2041-01' });
    const first = [];
    for (let i = 0; i < 6; i++) first.push(await echo(token));
    expect(first.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 402]);
    expect(first[5]!.body).toEqual(LIMIT_REACHED);

    // Room for 30 more calls: 60 concurrent callers, exactly 30 get through.
    await http('PUT', '/v1/billing/spend-limit', { token, body: { monthly_spend_limit: 0.07 } });
    const racing = await Promise.all(Array.from({ length: 60 }, () => echo(token)));
    expect(racing.filter((r) => r.status === 200)).toHaveLength(30);
    for (const refused of racing.filter((r) => r.status !== 200)) expect(refused.body).toEqual(LIMIT_REACHED);
    const january = await http('GET', '/v1/credits', { token });
    expect(january.body).toMatchObject({
      billing_mode: 'postpaid',
      balance: 0,
      period: '2041-01',
      period_usage: 0.07,
      monthly_spend_limit: 0.07,
    });

    // The next month unblocks by itself; the invoice job, run twice, bills January once, exactly.
    await http('POST', '/__local/clock', { admin: true, body: { now: '2041-02-01T00:20:00Z' } });
    expect((await echo(token)).status).toBe(200);
    // The period item follows the ledger through the stream: the job runs once it caught up.
    await stack.drainStream();
    await http('POST', '/__local/jobs/postpaid-invoices', { admin: true });
    await http('POST', '/__local/jobs/postpaid-invoices', { admin: true });
    const invoices = await eventually(
      () => http('GET', '/v1/billing/invoices', { token }),
      (answer) => answer.body?.data?.length === 1 && answer.body.data[0].status === 'open',
    );
    expect(invoices.body.data).toHaveLength(1);
    const [invoice] = invoices.body.data;
    expect(invoice).toMatchObject({ period: '2041-01', amount: 0.07, status: 'open' });
    const dueInDays = (Date.parse(invoice.due_date) - Date.parse('2041-02-01T00:20:00Z')) / 86_400_000;
    expect(Math.round(dueInDays)).toBe(30);
    const february = await http('GET', '/v1/credits', { token });
    expect(february.body).toMatchObject({
      period: '2041-02',
      period_usage: 0.002,
      monthly_spend_limit: 0.07,
    });
  });
});
