// Auto-refill as a new user would meet it on `npm start`: over HTTP, with the emulator's saved test cards,
// the local refill queue and the `auto-refill` job run on demand.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import { eventually } from '../support/eventually.ts';
import { stackClient } from '../support/http.ts';

const ADMIN = 'e2e-refill-admin';
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    adminApiKey: ADMIN,
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `e2e-refill-${randomUUID().slice(0, 8)}`,
    seedDemo: false,
    runJobs: false,
    quiet: true,
    stripe: { webhookRetryBaseMs: 50 },
  });
});

afterAll(async () => {
  await stack?.stop();
});

const http = stackClient(() => stack.url, ADMIN);

/** A new account that bought $5 on the hosted page with `card`. */
async function accountThatBought(card: string) {
  const { token } = (await http('POST', '/admin/accounts', { admin: true, body: { name: `Card ${card}` } }))
    .body;
  const { purchase_id, checkout_url } = (
    await http('POST', '/v1/billing/checkout', { token, body: { amount: 5 } })
  ).body;
  const paid = await fetch(checkout_url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ payment_method: 'card', card_number: card }).toString(),
    redirect: 'manual',
  });
  expect(paid.status).toBe(303);
  await eventually(
    () => http('GET', `/v1/billing/purchases/${purchase_id}`, { token }),
    (r) => r.body.status === 'paid',
  );
  return token as string;
}

const balance = async (token: string) => (await http('GET', '/v1/credits', { token })).body.balance as number;
/** 12,500 words at 0.0001: spends 1.25 through the metered path. */
const spend = (token: string) =>
  http('POST', '/v1/demo/words', { token, body: { text: 'w '.repeat(12_500) } });
const runJob = () => http('POST', '/__local/jobs/auto-refill', { admin: true });
const autoRefill = async (token: string) => (await http('GET', '/v1/billing/auto-refill', { token })).body;

describe('auto-refill on npm start', () => {
  it('refills exactly +10 once when spending goes below 3, then stops at the monthly cap and says why', async () => {
    const token = await accountThatBought('4242424242424242');
    const enabled = await http('PUT', '/v1/billing/auto-refill', {
      token,
      body: { enabled: true, threshold: 3, amount: 10, monthly_cap: 10 },
    });
    expect(enabled.status).toBe(200);

    expect((await spend(token)).status).toBe(200); // 3.75
    expect((await spend(token)).status).toBe(200); // 2.50: below 3
    const refilled = await eventually(
      () => balance(token),
      (value) => value === 12.5,
    );
    expect(refilled).toBe(12.5);
    for (let i = 0; i < 3; i++) expect((await runJob()).status).toBe(200);
    expect(await balance(token)).toBe(12.5);

    for (let i = 0; i < 8; i++) expect((await spend(token)).status).toBe(200); // 2.50 again
    await runJob();
    await eventually(
      () => autoRefill(token),
      (state) => state.last_attempt?.outcome === 'cap_reached',
    );
    expect(await balance(token)).toBe(2.5);
    const state = await autoRefill(token);
    expect(state.last_attempt).toMatchObject({ outcome: 'cap_reached' });
    expect(state.last_attempt.reason).toMatch(/monthly cap of 10 USD/);
    expect(state.safeguards.refilled_this_month).toBe(10);
  });

  it('records declined attempts and credits nothing for a card that declines off-session (0341)', async () => {
    const token = await accountThatBought('4000000000000341');
    await http('PUT', '/v1/billing/auto-refill', {
      token,
      body: { enabled: true, threshold: 10, amount: 10 },
    });
    const state = await eventually(
      () => autoRefill(token),
      (s) => s.last_attempt?.outcome === 'failed',
    );
    expect(state.last_attempt).toMatchObject({ outcome: 'failed', reason: 'card_declined', amount: 10 });
    expect(state.safeguards.consecutive_failures).toBeGreaterThanOrEqual(1);
    expect(await balance(token)).toBe(5);
  });

  it('suspends for authentication (3184) and shows the reason', async () => {
    const token = await accountThatBought('4000002760003184');
    await http('PUT', '/v1/billing/auto-refill', {
      token,
      body: { enabled: true, threshold: 10, amount: 10 },
    });
    const state = await eventually(
      () => autoRefill(token),
      (s) => s.status === 'suspended',
    );
    expect(state.status).toBe('suspended');
    expect(state.suspended_reason).toMatch(/authenticate/);
    expect(state.last_attempt.outcome).toBe('authentication_required');
    expect(state.last_attempt.top_up_url).toMatch(/^http/);
    expect(await balance(token)).toBe(5);
  });
});
