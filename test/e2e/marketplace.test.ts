// The AWS Marketplace acceptance scenario, over HTTP against the local stack that `npm start` runs: a buyer
// minted by the emulator registers, calls with no credits, is reported exactly once an hour later, and is
// refused once it unsubscribes.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetClock } from '#shared/clock.ts';
import { type LocalStack, startLocalStack } from '../../local/server.ts';
import { eventually } from '../support/eventually.ts';
import { stackClient } from '../support/http.ts';

const ADMIN_KEY = 'e2e-marketplace-admin-key';
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    adminApiKey: ADMIN_KEY,
    dynamoEndpoint: process.env.DYNAMODB_ENDPOINT,
    tableName: `e2e-mkt-${randomUUID().slice(0, 8)}`,
    seedDemo: false,
    runJobs: false,
    quiet: true,
    stripe: false,
  });
});

afterAll(async () => {
  await stack?.stop();
  resetClock();
});

const http = stackClient(() => stack.url, ADMIN_KEY);

describe('an AWS Marketplace buyer on the local stack', () => {
  it('registers, calls with no credits, is reported exactly once an hour later, and is refused after unsubscribing', async () => {
    await http('POST', '/__local/clock', { admin: true, body: { now: '2026-12-15T10:20:00Z' } });
    const minted = await http('POST', '/__marketplace/customers', { body: {} });
    expect(minted.status).toBe(201);
    const { registration_token: registrationToken, customer_aws_account_id: awsAccountId } = minted.body;

    const page = await http('POST', '/marketplace/register', {
      form: { 'x-amzn-marketplace-token': registrationToken },
    });
    expect(page.status).toBe(201);
    const token = /crd_[A-Za-z0-9_-]{43}/.exec(page.body as string)?.[0];
    expect(token).toBeDefined();
    // The same registration form posted again mints nothing: the token was shown once, on the page above.
    const replayed = await http('POST', '/marketplace/register', {
      form: { 'x-amzn-marketplace-token': registrationToken },
      accept: 'application/json',
    });
    expect(replayed.status).toBe(200);
    expect(replayed.body.token).toBeNull();
    const accountId = replayed.body.account_id as string;

    for (let i = 0; i < 10; i++) {
      const echo = await http('POST', '/v1/demo/echo', { token, body: { text: `call ${i}` } });
      expect(echo.status).toBe(200);
      expect(echo.body).toMatchObject({ results: { echo: `call ${i}` }, cost: 0.002 });
    }
    const credits = await http('GET', '/v1/credits', { token });
    expect(credits.body).toMatchObject({ billing_mode: 'marketplace', balance: 0 });

    // The hour record follows the ledger through the stream: the job runs once it caught up.
    await stack.drainStream();
    await http('POST', '/__local/clock', { admin: true, body: { now: '2026-12-15T11:05:00Z' } });
    const first = await http('POST', '/__local/jobs/marketplace-metering', { admin: true });
    const second = await http('POST', '/__local/jobs/marketplace-metering', { admin: true });
    expect(first.status).toBe(200);
    expect(first.body.result.reported).toEqual({ records: 1, units: 20 });
    expect(second.body.result.reported).toEqual({ records: 0, units: 0 });

    const usage = await http('GET', '/__marketplace/usage-records');
    const mine = usage.body.data.filter(
      (r: { customer_aws_account_id?: string }) => r.customer_aws_account_id === awsAccountId,
    );
    expect(mine).toEqual([
      expect.objectContaining({
        status: 'Success',
        usage_record: expect.objectContaining({
          Timestamp: '2026-12-15T10:00:00.000Z',
          Dimension: 'usage',
          Quantity: 20,
          CustomerAWSAccountId: awsAccountId,
        }),
      }),
    ]);

    const reconciliation = await http(
      'GET',
      `/admin/marketplace/reconciliation?begin=2026-12-15&end=2026-12-16&account_id=${accountId}`,
      { admin: true },
    );
    expect(reconciliation.status).toBe(200);
    expect(reconciliation.body).toMatchObject({
      ok: true,
      accounts: [
        {
          account_id: accountId,
          ledger_accrued_micros: 20_000,
          hours_cost_micros: 20_000,
          units_expected: 20,
          units_reported: 20,
          difference_units: 0,
          ok: true,
        },
      ],
    });

    const cancelled = await http('POST', `/__marketplace/customers/${awsAccountId}/unsubscribe`);
    expect(cancelled.status).toBe(200);
    const refused = await eventually(
      () => http('POST', '/v1/demo/echo', { token, body: { text: 'after' } }),
      (answer) => answer.status === 403,
    );
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'subscription_inactive' });
  });

  it('answers an invalid registration token with 400', async () => {
    const page = await http('POST', '/marketplace/register', {
      form: { 'x-amzn-marketplace-token': 'bogus' },
    });
    expect(page.status).toBe(400);
    expect(page.body).toMatch(/not valid/);
    const json = await http('POST', '/marketplace/register', {
      form: { 'x-amzn-marketplace-token': 'bogus' },
      accept: 'application/json',
    });
    expect(json).toMatchObject({ status: 400, body: { code: 'invalid_registration_token' } });
  });
});
