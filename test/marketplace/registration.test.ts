// POST /marketplace/register through its real handler: ResolveCustomer against the emulator, one account per
// buyer however the form is posted, a billing token shown once, clear 400 pages for bad tokens.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getAccount } from '#shared/accounts/repository.ts';
import { advanceClock, resetClock } from '#shared/clock.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { queryAll } from '#shared/dynamo/query.ts';
import { findCustomer, getBuyer } from '#shared/marketplace/buyers.ts';
import type { MarketplaceEmulator } from '../../local/marketplace/emulator.ts';
import { call } from '../support/api.ts';
import { startTestEmulator, stopTestEmulator, useFreshTable } from '../support/marketplace.ts';

let emulator: MarketplaceEmulator;

beforeEach(async () => {
  await useFreshTable();
  emulator = await startTestEmulator();
});

afterEach(async () => {
  await stopTestEmulator(emulator);
  resetClock();
});

function register(token: string, accept = 'text/html') {
  return call('POST', '/marketplace/register', {
    rawBody: new URLSearchParams({ 'x-amzn-marketplace-token': token }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept },
  });
}

async function tokensOf(accountId: string) {
  return queryAll({
    TableName: process.env.TABLE_NAME,
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
    ExpressionAttributeValues: { ':pk': keys.account(accountId).PK, ':prefix': keys.accountTokensPrefix },
    ConsistentRead: true,
  });
}

describe('POST /marketplace/register', () => {
  it('opens a marketplace account and shows its billing token once, on an HTML page', async () => {
    const customer = emulator.control.mintCustomer();

    const answer = await register(customer.registration_token);

    expect(answer.status).toBe(201);
    expect(answer.headers['content-type']).toMatch(/text\/html/);
    expect(answer.headers['cache-control']).toBe('no-store');
    const token = /crd_[A-Za-z0-9_-]{43}/.exec(answer.body as string)?.[0];
    expect(token).toBeDefined();
    const lookup = await findCustomer(customer.customer_aws_account_id);
    const account = await getAccount(lookup!.account_id);
    expect(account).toMatchObject({
      billing_mode: 'marketplace',
      balance: 0,
      subscription_status: 'active',
      marketplace: {
        customer_aws_account_id: customer.customer_aws_account_id,
        license_arn: customer.license_arn,
        product_code: customer.product_code,
        customer_identifier: customer.customer_identifier,
      },
    });
    expect(await getBuyer(lookup!.account_id)).toMatchObject({
      GSI1PK: expect.stringMatching(/^MKT_BUYERS#/),
    });
    const credits = await call('GET', '/v1/credits', { token: token! });
    expect(credits.status).toBe(200);
    expect(credits.body).toMatchObject({ billing_mode: 'marketplace', balance: 0 });
  });

  it('answers {account_id, token} as JSON on accept: application/json', async () => {
    const customer = emulator.control.mintCustomer({ concurrent_agreements: true });

    const answer = await register(customer.registration_token, 'application/json');

    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({
      account_id: expect.stringMatching(/^acct_/),
      billing_mode: 'marketplace',
      token: expect.stringMatching(/^crd_/),
      created: true,
      subscription_status: 'active',
    });
    const account = await getAccount(answer.body.account_id);
    expect((account as { marketplace?: unknown }).marketplace).not.toHaveProperty('customer_identifier');
  });

  it('links a new registration link of the same buyer to its account and issues a new token (the earlier ones keep working)', async () => {
    const customer = emulator.control.mintCustomer();
    const first = await register(customer.registration_token, 'application/json');
    const secondLink = emulator.control.landAgain(customer.customer_aws_account_id)!;
    const thirdLink = emulator.control.landAgain(customer.customer_aws_account_id)!;

    const second = await register(secondLink, 'application/json');
    const page = await register(thirdLink);

    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ account_id: first.body.account_id, created: false });
    expect(second.body.token).toMatch(/^crd_/);
    expect(second.body.token).not.toBe(first.body.token);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/already has an account/);
    expect(page.body).toMatch(/crd_[A-Za-z0-9_-]{43}/);
    for (const token of [first.body.token, second.body.token]) {
      expect((await call('GET', '/v1/credits', { token })).status).toBe(200);
    }
    expect(await tokensOf(first.body.account_id)).toHaveLength(3);
  });

  it('one registration token replayed 12 times mints 1 billing token (HTML and JSON answers say how to get another)', async () => {
    const customer = emulator.control.mintCustomer();
    const first = await register(customer.registration_token, 'application/json');

    const replays = [];
    for (let i = 0; i < 12; i++) {
      replays.push(await register(customer.registration_token, i % 2 ? 'application/json' : 'text/html'));
    }

    expect(first.status).toBe(201);
    expect(await tokensOf(first.body.account_id)).toHaveLength(1);
    for (const [i, replay] of replays.entries()) {
      expect(replay.status).toBe(200);
      expect(replay.headers['cache-control']).toBe('no-store');
      if (i % 2) {
        expect(replay.body).toEqual({
          account_id: first.body.account_id,
          billing_mode: 'marketplace',
          token: null,
          created: false,
          subscription_status: 'active',
          message: expect.stringMatching(/already used.*POST \/v1\/tokens.*new registration link.*operator/),
        });
      } else {
        expect(replay.headers['content-type']).toMatch(/text\/html/);
        expect(replay.body).toMatch(/Registration link already used/);
        expect(replay.body).toMatch(/shown then, only once/);
        expect(replay.body).toContain(first.body.account_id);
        expect(replay.body).not.toMatch(/crd_/);
      }
    }
  });

  it('opens exactly one account and mints one token when the same registration form is posted 10 times at once', async () => {
    const customer = emulator.control.mintCustomer();

    const answers = await Promise.all(
      Array.from({ length: 10 }, () => register(customer.registration_token, 'application/json')),
    );

    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    const accountIds = new Set(answers.map((a) => a.body.account_id));
    expect(accountIds.size).toBe(1);
    const [accountId] = [...accountIds];
    expect(answers.filter((a) => a.body.token !== null)).toHaveLength(1);
    expect(await tokensOf(accountId)).toHaveLength(1);
    const accounts = await queryAll({
      TableName: process.env.TABLE_NAME,
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': (await getBuyer(accountId))!.GSI1PK },
    });
    expect(accounts.filter((a) => a.kind === 'marketplace_buyer')).toHaveLength(1);
  });

  it('refuses an unknown token with a 400 page that says what to do, and writes nothing', async () => {
    const answer = await register('not-a-real-token');

    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toMatch(/text\/html/);
    expect(answer.body).toMatch(/Registration failed/);
    expect(answer.body).toMatch(/not valid/);
    const json = await register('not-a-real-token', 'application/json');
    expect(json.status).toBe(400);
    expect(json.body).toEqual({
      error: 'This AWS Marketplace registration token is not valid',
      code: 'invalid_registration_token',
    });
  });

  it('refuses an expired token (one hour after the buyer landed)', async () => {
    const customer = emulator.control.mintCustomer();
    advanceClock(61 * 60_000);

    const answer = await register(customer.registration_token, 'application/json');

    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe('invalid_registration_token');
    expect(answer.body.error).toMatch(/expired/);
    expect(await findCustomer(customer.customer_aws_account_id)).toBeUndefined();
  });

  it('refuses a form without the token field', async () => {
    const answer = await call('POST', '/marketplace/register', {
      rawBody: 'something=else',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatch(/x-amzn-marketplace-token/);
  });

  it('escapes what it echoes into the page', async () => {
    const answer = await register('<script>alert(1)</script>');
    expect(answer.status).toBe(400);
    expect(answer.body).not.toContain('<script>alert');
  });
});
