// AWS Marketplace contracts, through the real SDK against the emulator: a contract buyer's entitlements land
// as credits exactly once per contract and dimension, however often and in whatever order the events arrive;
// upgrades grant the difference, downgrades nothing (recorded for the operator), renewals the new contract;
// usage is debited and ends in 402 at zero; faults of GetEntitlements are retried and never grant twice.
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getAccount } from '#shared/accounts/repository.ts';
import { clearViews } from '#shared/accounts/view.ts';
import { resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { findCustomer } from '#shared/marketplace/buyers.ts';
import { grantRecords } from '#shared/marketplace/entitlements.ts';
import { processLifecycleEvent } from '#shared/marketplace/lifecycle.ts';
import { registerBuyer } from '#shared/marketplace/registration.ts';
import type { LifecycleEvent, MarketplaceEmulator } from '../../local/marketplace/emulator.ts';
import { ledgerEntries } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { startTestEmulator, stopTestEmulator, useFreshTable } from '../support/marketplace.ts';

const USD = 1_000_000;
let emulator: MarketplaceEmulator;
let events: LifecycleEvent[];

beforeEach(async () => {
  await useFreshTable();
  process.env.MARKETPLACE_PRODUCT_TYPE = 'auto';
  // credits_cent: a unit small enough that a test spends a contract down to zero with a few calls.
  process.env.MARKETPLACE_CREDIT_DIMENSIONS = '{"credits_100": 100, "credits_cent": 0.01}';
  events = [];
  emulator = await startTestEmulator((event) => events.push(event));
});

afterEach(async () => {
  await stopTestEmulator(emulator);
  delete process.env.MARKETPLACE_PRODUCT_TYPE;
  delete process.env.MARKETPLACE_CREDIT_DIMENSIONS;
  delete process.env.MARKETPLACE_LISTING_URL;
  resetClock();
  clearViews();
});

const credits100 = (quantity: number) => [{ dimension: 'credits_100', quantity }];

/** A contract buyer minted with `entitlements`, registered through the real registration. */
async function contractBuyer(entitlements = credits100(3), contractEnd?: string) {
  const customer = emulator.control.mintCustomer({
    entitlements,
    ...(contractEnd ? { contract_end: contractEnd } : {}),
  });
  const registration = await registerBuyer(customer.registration_token);
  return { customer, registration, accountId: registration.account_id, token: registration.token! };
}

async function balanceOf(accountId: string): Promise<number> {
  return (await getAccount(accountId))!.balance;
}

/** The `credits.granted` events recorded for the account (this test's own table holds only its events). */
async function grantedEvents(accountId: string) {
  const { Items = [] } = await ddb().send(
    new ScanCommand({
      TableName: process.env.TABLE_NAME,
      FilterExpression: 'kind = :kind',
      ExpressionAttributeValues: { ':kind': 'event' },
      ConsistentRead: true,
    }),
  );
  return Items.map((item) => item.event as Record<string, unknown>).filter(
    (event) => event.account_id === accountId && event.type === 'credits.granted',
  );
}

async function grantsOf(accountId: string) {
  return (await ledgerEntries(accountId)).filter((entry) => entry.type === 'grant');
}

/** Changes the buyer's entitlements in the emulator; answers the events AWS would send for the change. */
function amend(
  customerAwsAccountId: string,
  entitlements: { dimension: string; quantity: number }[],
  contractEnd?: string,
) {
  const before = events.length;
  emulator.control.setEntitlements(customerAwsAccountId, {
    entitlements,
    ...(contractEnd ? { contract_end: contractEnd } : {}),
  });
  const emitted = events.slice(before);
  expect(emitted.length).toBeGreaterThan(0);
  return emitted;
}

describe('registering a contract buyer', () => {
  it('opens a marketplace_contract account whose balance is exactly what 3 × credits_100 entitle', async () => {
    const { accountId, registration, token } = await contractBuyer(credits100(3));

    expect(registration.billing_mode).toBe('marketplace_contract');
    expect(await balanceOf(accountId)).toBe(300 * USD);
    const grants = await grantsOf(accountId);
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ amount: 300 * USD, reason: expect.stringMatching(/3 × credits_100/) });
    const granted = await grantedEvents(accountId);
    expect(granted).toHaveLength(1);
    expect(granted[0]).toMatchObject({
      amount: 300,
      marketplace: { dimension: 'credits_100', units: 3, units_before: 0 },
    });

    process.env.MARKETPLACE_LISTING_URL = 'https://aws.amazon.com/marketplace/pp/prodview-example';
    const credits = await call('GET', '/v1/credits', { token });
    expect(credits.status).toBe(200);
    expect(credits.body).toMatchObject({
      balance: 300,
      available: 300,
      billing_mode: 'marketplace_contract',
      marketplace: {
        entitled: 300,
        granted: 300,
        contract_end: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        listing_url: 'https://aws.amazon.com/marketplace/pp/prodview-example',
      },
    });
  });

  it('keeps a buyer without entitlements pay as you go (nothing granted, usage reported to AWS)', async () => {
    const customer = emulator.control.mintCustomer();
    const registration = await registerBuyer(customer.registration_token);

    expect(registration.billing_mode).toBe('marketplace');
    expect(await grantsOf(registration.account_id)).toEqual([]);
  });

  it('answers the billing mode in the JSON registration answer', async () => {
    const customer = emulator.control.mintCustomer({ entitlements: credits100(1) });
    const answer = await call('POST', '/marketplace/register', {
      rawBody: new URLSearchParams({ 'x-amzn-marketplace-token': customer.registration_token }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ billing_mode: 'marketplace_contract', token: expect.any(String) });
    expect(await balanceOf(answer.body.account_id)).toBe(100 * USD);
  });

  it('grants once when the same form is posted several times at once and the agreement events race it', async () => {
    const customer = emulator.control.mintCustomer({ entitlements: credits100(3) });
    const again = emulator.control.landAgain(customer.customer_aws_account_id)!;
    const firstEvents = amend(customer.customer_aws_account_id, credits100(3));

    const outcomes = await Promise.allSettled([
      registerBuyer(customer.registration_token),
      registerBuyer(customer.registration_token),
      registerBuyer(again),
      ...firstEvents.map((event) => processLifecycleEvent(event)),
    ]);

    const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(rejected).toEqual([]);
    const accountId = (await findCustomer(customer.customer_aws_account_id))!.account_id;
    // Events that arrived first (no account yet) and the registrations all settle on one grant.
    for (const event of firstEvents) await processLifecycleEvent(event);
    expect(await balanceOf(accountId)).toBe(300 * USD);
    expect(await grantsOf(accountId)).toHaveLength(1);
  });
});

describe('entitlement changes', () => {
  it('grants an upgrade from 3 to 5 once, however often and in whatever order its events arrive', async () => {
    const { accountId, customer } = await contractBuyer(credits100(3));
    const upgrade = amend(customer.customer_aws_account_id, credits100(5));

    const shuffled = [...upgrade, ...[...upgrade].reverse(), ...upgrade];
    await Promise.all(shuffled.map((event) => processLifecycleEvent(event)));
    for (const event of [...upgrade].reverse()) await processLifecycleEvent(event);

    expect(await balanceOf(accountId)).toBe(500 * USD);
    const grants = await grantsOf(accountId);
    expect(grants.map((grant) => grant.amount).sort((a, b) => a - b)).toEqual([200 * USD, 300 * USD]);
    expect(grants.find((grant) => grant.amount === 200 * USD)!.reason).toMatch(
      /upgraded from 3 to 5 × credits_100/,
    );
  });

  it('grants nothing for a downgrade from 5 to 4, and records it for the operator', async () => {
    const { accountId, customer } = await contractBuyer(credits100(5));
    const downgrade = amend(customer.customer_aws_account_id, credits100(4));
    for (const event of [...downgrade, ...downgrade]) await processLifecycleEvent(event);

    expect(await balanceOf(accountId)).toBe(500 * USD);
    expect(await grantsOf(accountId)).toHaveLength(1);
    const [record] = await grantRecords(accountId);
    expect(record).toMatchObject({ granted_units: 5, entitled_units: 4, downgraded_to: 4 });

    const operator = await call('GET', `/admin/marketplace/contracts/${accountId}`);
    expect(operator.status).toBe(200);
    expect(operator.body).toMatchObject({
      account_id: accountId,
      entitled: 400,
      granted: 500,
      grants: [
        { dimension: 'credits_100', granted_units: 5, entitled_units: 4, downgraded_to: 4, granted: 500 },
      ],
    });
    expect(operator.body.grants[0].downgraded_at).toEqual(expect.any(String));

    // Back up to 5: nothing more (5 were granted); to 6: one more unit.
    for (const event of amend(customer.customer_aws_account_id, credits100(5)))
      await processLifecycleEvent(event);
    expect(await balanceOf(accountId)).toBe(500 * USD);
    for (const event of amend(customer.customer_aws_account_id, credits100(6)))
      await processLifecycleEvent(event);
    expect(await balanceOf(accountId)).toBe(600 * USD);
  });

  it('grants a renewal (a new contract end) the new contract credits once', async () => {
    const { accountId, customer, token } = await contractBuyer(credits100(3));
    const renewedEnd = new Date(Date.now() + 2 * 365 * 86_400_000).toISOString();
    const renewal = amend(customer.customer_aws_account_id, credits100(3), renewedEnd);
    for (const event of [...renewal, ...[...renewal].reverse()]) await processLifecycleEvent(event);

    expect(await balanceOf(accountId)).toBe(600 * USD);
    expect(await grantsOf(accountId)).toHaveLength(2);
    const credits = await call('GET', '/v1/credits', { token });
    expect(credits.body.marketplace).toMatchObject({ entitled: 300, granted: 300 });
    expect(Date.parse(credits.body.marketplace.contract_end)).toBe(Date.parse(renewedEnd));
  });

  it('ignores a dimension the configuration does not price, and grants the ones it does', async () => {
    const { accountId } = await contractBuyer([
      { dimension: 'credits_100', quantity: 2 },
      { dimension: 'support_hours', quantity: 40 },
    ]);
    expect(await balanceOf(accountId)).toBe(200 * USD);
    expect((await grantRecords(accountId)).map((record) => record.dimension)).toEqual(['credits_100']);
  });

  it('grants nothing for an entitlement that has expired', async () => {
    const { accountId, customer } = await contractBuyer(credits100(1));
    const past = new Date(Date.now() - 86_400_000).toISOString();
    for (const event of amend(customer.customer_aws_account_id, credits100(4), past))
      await processLifecycleEvent(event);
    expect(await balanceOf(accountId)).toBe(100 * USD);
  });
});

describe('GetEntitlements failing', () => {
  it('retries a throttled read and grants once', async () => {
    const { accountId, customer } = await contractBuyer(credits100(2));
    const upgrade = amend(customer.customer_aws_account_id, credits100(3));
    // Two throttled answers, then the third attempt reads the upgrade.
    emulator.control.throttle(2);
    const report = await processLifecycleEvent(upgrade[0]!);
    expect(report.contracts).toMatchObject([
      { account_id: accountId, entitled: 300 * USD, granted: 300 * USD },
    ]);
    expect(await balanceOf(accountId)).toBe(300 * USD);
  });

  it('fails a registration whole when AWS keeps failing (nothing written), and the buyer posting again is granted once', async () => {
    const customer = emulator.control.mintCustomer({ entitlements: credits100(2) });
    emulator.control.failEntitlements(3);
    await expect(registerBuyer(customer.registration_token)).rejects.toMatchObject({
      status: 503,
      code: 'marketplace_unavailable',
    });
    expect(await findCustomer(customer.customer_aws_account_id)).toBeUndefined();

    const registration = await registerBuyer(customer.registration_token);
    expect(await balanceOf(registration.account_id)).toBe(200 * USD);
    expect(await grantsOf(registration.account_id)).toHaveLength(1);
  });

  it('fails the event when the read keeps failing; its redelivery grants the upgrade once', async () => {
    const { accountId, customer } = await contractBuyer(credits100(1));
    const upgrade = amend(customer.customer_aws_account_id, credits100(2));
    emulator.control.failEntitlements(3);
    await expect(processLifecycleEvent(upgrade[0]!)).rejects.toMatchObject({
      code: 'marketplace_unavailable',
    });
    expect(await balanceOf(accountId)).toBe(100 * USD);

    for (const event of [upgrade[0]!, ...upgrade]) await processLifecycleEvent(event);
    expect(await balanceOf(accountId)).toBe(200 * USD);
    expect(await grantsOf(accountId)).toHaveLength(2);
  });
});

describe('spending a contract', () => {
  it('debits every call and answers 402 once the contract credits are spent', async () => {
    // 1 × credits_cent = 0.01 USD: five calls of the 0.002 USD echo.
    const { accountId, token } = await contractBuyer([{ dimension: 'credits_cent', quantity: 1 }]);
    expect(await balanceOf(accountId)).toBe(10_000);

    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await call('POST', '/v1/demo/echo', { token, body: { text: 'hi' } })).status);
    }

    expect(statuses).toEqual([200, 200, 200, 200, 200, 402]);
    const account = await getAccount(accountId);
    expect(account).toMatchObject({ balance: 0, available: 0, held: 0 });
    const usage = (await ledgerEntries(accountId)).filter((entry) => entry.type === 'usage');
    expect(usage.map((entry) => entry.amount)).toEqual([-2000, -2000, -2000, -2000, -2000]);
    expect(usage.every((entry) => entry.billing_mode === undefined && entry.accrued === undefined)).toBe(
      true,
    );
  });

  it('refuses checkout and auto-refill: credits come only from the contract', async () => {
    const { token } = await contractBuyer(credits100(1));

    const checkout = await call('POST', '/v1/billing/checkout', { token, body: { amount: 20 } });
    expect(checkout.status).toBe(409);
    expect(checkout.body.code).toBe('wrong_billing_mode');
    const refill = await call('PUT', '/v1/billing/auto-refill', {
      token,
      body: { enabled: true, threshold: 10, amount: 50 },
    });
    expect(refill.status).toBe(409);
    expect(refill.body.code).toBe('wrong_billing_mode');
  });
});
