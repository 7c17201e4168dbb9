// Auto-refill sees every crossing, whatever caused it: the account's headroom (available − threshold) is
// kept by every write that moves the balance, and the sweep reads the listed accounts below zero. Each test
// turns the prompt path off (no refill queue), so only the table's own state can start a refill. The file
// has a table of its own: its sweeps must not refill the accounts of other files running at the same time.
import { randomUUID } from 'node:crypto';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setBillingMode } from '#shared/accounts/billing-mode.ts';
import { getAccount } from '#shared/accounts/repository.ts';
import { clearViews, refreshView } from '#shared/accounts/view.ts';
import { runRefill } from '#shared/auto-refill/refill.ts';
import { sweepDueRefills } from '#shared/auto-refill/sweep.ts';
import { nowIso } from '#shared/clock.ts';
import { createDocumentClient, ddb, setDocumentClient } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { newUlid } from '#shared/ids.ts';
import { applyCredit, chargeUsage, releaseHold, reserveHold, settleHold } from '#shared/ledger/ledger.ts';
import { reverseCharge } from '#shared/ledger/reversal.ts';
import type { Micros } from '#shared/money.ts';
import { createTable } from '../../local/dynamo-local.ts';
import { accountMoney, fundedAccount, ledgerEntries } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { type Payments, startPayments } from '../support/payments.ts';

let payments: Payments;
const sharedTable = process.env.TABLE_NAME;

beforeAll(async () => {
  const table = `headroom-${randomUUID().slice(0, 8)}`;
  await createTable(process.env.DYNAMODB_ENDPOINT!, table);
  process.env.TABLE_NAME = table;
  setDocumentClient(createDocumentClient(process.env.DYNAMODB_ENDPOINT));
  payments = await startPayments();
});

afterAll(async () => {
  await payments?.stop();
  process.env.TABLE_NAME = sharedTable;
});

beforeEach(() => {
  (globalThis as { __localRefillQueue?: unknown }).__localRefillQueue = undefined;
  clearViews();
});

const settled = () => payments.emulator.control.idle();

/** A prepaid account that bought `usd` by card (4242, saved, so auto-refill can charge it). */
async function accountWithCard(usd: number) {
  const { accountId, token } = await fundedAccount(0);
  const checkout = await call('POST', '/v1/billing/checkout', { token, body: { amount: usd } });
  const sessionId = String(checkout.body.checkout_url).split('/').pop()!;
  const { session } = payments.emulator.control.completeCheckout(sessionId, {
    payment_method: 'card',
    card_number: '4242424242424242',
  });
  await settled();
  const intent = await payments.stripe.paymentIntents.retrieve(String(session.payment_intent));
  expect((await accountMoney(accountId)).balance).toBe(usd * 1_000_000);
  return { accountId, token, chargeId: String(intent.latest_charge) };
}

async function enable(token: string, threshold: number, amount: number, monthlyCap?: number) {
  const saved = await call('PUT', '/v1/billing/auto-refill', {
    token,
    body: { enabled: true, threshold, amount, ...(monthlyCap ? { monthly_cap: monthlyCap } : {}) },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
}

async function sweepTimes(times: number) {
  for (let i = 0; i < times; i++) await sweepDueRefills();
  await settled();
}

const refills = async (accountId: string) =>
  (await ledgerEntries(accountId)).filter((entry) => entry.type === 'auto_refill');

async function rawAccount(accountId: string) {
  const result = await ddb().send(
    new GetCommand({ TableName: process.env.TABLE_NAME, Key: keys.account(accountId), ConsistentRead: true }),
  );
  return result.Item ?? {};
}

async function headroomOf(accountId: string) {
  const item = await rawAccount(accountId);
  return { headroom: item.refill_headroom as number, listed: item.GSI2PK !== undefined };
}

describe('the sweep sees a balance below the threshold whatever lowered it', () => {
  it('correction to $2.50 with threshold $3, then a call and three sweeps: refilled once', async () => {
    const { accountId, token } = await accountWithCard(5);
    await enable(token, 3, 10);

    const corrected = await call('POST', `/admin/accounts/${accountId}/credits`, {
      body: { amount: -2.5, reason: 'operator correction' },
    });
    expect(corrected.status).toBe(201);
    expect((await call('POST', '/v1/demo/echo', { token, body: { text: 'after' } })).status).toBe(200);
    await sweepTimes(3);

    expect(await refills(accountId)).toHaveLength(1);
    expect((await accountMoney(accountId)).balance).toBe(12_498_000);
  });

  it('a $4 refund of a $5 purchase with threshold $3, then three sweeps: refilled once', async () => {
    const { accountId, token, chargeId } = await accountWithCard(5);
    await enable(token, 3, 10);

    await payments.stripe.refunds.create({ charge: chargeId, amount: 400 });
    await settled();
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);
    await sweepTimes(3);

    expect(await refills(accountId)).toHaveLength(1);
    expect((await accountMoney(accountId)).balance).toBe(11_000_000);
  });

  it('a $5 dispute of a $5 purchase with threshold $1, then three sweeps: refilled once, to $10', async () => {
    const { accountId, token, chargeId } = await accountWithCard(5);
    await enable(token, 1, 10);

    payments.emulator.control.dispute(chargeId);
    await settled();
    expect((await accountMoney(accountId)).balance).toBe(0);
    await sweepTimes(3);

    expect(await refills(accountId)).toHaveLength(1);
    expect((await accountMoney(accountId)).balance).toBe(10_000_000);
  });

  it('three $0.25 debits by an instance that never read the threshold ($4.50 on $5): the sweep refills once', async () => {
    const { accountId, token } = await accountWithCard(5);
    await enable(token, 4.5, 10);
    clearViews();

    for (let i = 0; i < 3; i++) {
      const outcome = await chargeUsage({
        accountId,
        entryId: newUlid(),
        requestId: `req_${newUlid()}`,
        tokenId: undefined,
        feature: 'echo',
        quantity: 1,
        cost: 250_000 as Micros,
        at: nowIso(),
      });
      expect(outcome.status).toBe('charged');
    }
    await sweepTimes(3);

    expect(await refills(accountId)).toHaveLength(1);
    expect((await accountMoney(accountId)).balance).toBe(14_250_000);
  });
});

describe('the headroom follows every write that moves the available balance', () => {
  it('after a debit, a hold, its settle, a hold released, a reversal, a grant and a correction: available − $3', async () => {
    const { accountId, token } = await accountWithCard(5);
    await enable(token, 3, 10);
    expect(await headroomOf(accountId)).toEqual({ headroom: 2_000_000, listed: true });
    const charge = {
      accountId,
      entryId: newUlid(),
      requestId: `req_${newUlid()}`,
      tokenId: undefined,
      feature: 'echo',
      quantity: 1,
      cost: 100_000 as Micros,
      at: nowIso(),
    };
    const reserve = async (amount: Micros) => {
      const held = await reserveHold({
        accountId,
        holdId: newUlid(),
        amount,
        requestId: `req_${newUlid()}`,
        tokenId: undefined,
        feature: 'words',
        at: new Date(),
      });
      if (held.status !== 'reserved') throw new Error(held.status);
      return held;
    };
    const steps: [string, () => Promise<unknown>][] = [
      ['debit', () => chargeUsage(charge)],
      ['reversal', () => reverseCharge(charge, nowIso())],
      [
        'hold and settle',
        async () => {
          const held = await reserve(300_000 as Micros);
          await settleHold(held.hold, { ...charge, entryId: newUlid(), cost: 200_000 as Micros });
        },
      ],
      [
        'hold released',
        async () => {
          const held = await reserve(400_000 as Micros);
          expect(await headroomOf(accountId)).toMatchObject({ headroom: 1_400_000 });
          await releaseHold(held.hold, 'expired', nowIso());
        },
      ],
      [
        'grant',
        () =>
          applyCredit({
            accountId,
            entryId: newUlid(),
            type: 'grant',
            amount: 700_000 as Micros,
            at: nowIso(),
          }),
      ],
      [
        'correction',
        () =>
          applyCredit({
            accountId,
            entryId: newUlid(),
            type: 'correction',
            amount: -3_000_000 as Micros,
            at: nowIso(),
          }),
      ],
    ];
    for (const [step, write] of steps) {
      await write();
      const account = await accountMoney(accountId);
      expect((await headroomOf(accountId)).headroom, step).toBe(account.available - 3_000_000);
    }
    expect((await headroomOf(accountId)).headroom).toBe(-500_000);
  });

  it('suspension takes the account off the list; a new card lists it again with the headroom of now', async () => {
    const { accountId, token } = await accountWithCard(5);
    await enable(token, 1, 10);
    const methodId = (await getAccount(accountId))!.payment_method!.id;

    await payments.stripe.paymentMethods.detach(methodId);
    await settled();
    expect((await headroomOf(accountId)).listed).toBe(false);
    await call('POST', `/admin/accounts/${accountId}/credits`, { body: { amount: -4.5, reason: 'spent' } });
    await sweepTimes(2);
    expect(await refills(accountId)).toHaveLength(0);

    const checkout = await call('POST', '/v1/billing/checkout', { token, body: { amount: 5 } });
    payments.emulator.control.completeCheckout(String(checkout.body.checkout_url).split('/').pop()!, {
      payment_method: 'card',
      card_number: '4242424242424242',
    });
    await settled();

    expect(await headroomOf(accountId)).toEqual({ headroom: 4_500_000, listed: true });
  });

  it('a switch to postpaid takes the account off the list; back to prepaid lists it again', async () => {
    const { accountId, token } = await accountWithCard(5);
    await enable(token, 1, 10);

    await setBillingMode(accountId, 'postpaid');
    expect((await headroomOf(accountId)).listed).toBe(false);
    await setBillingMode(accountId, 'prepaid');

    expect(await headroomOf(accountId)).toEqual({ headroom: 4_000_000, listed: true });
  });

  it('an account whose auto-refill was on before listing existed ($3 on $2) is listed by the first read, then refilled', async () => {
    const { accountId, token } = await accountWithCard(5);
    await enable(token, 3, 10);
    await call('POST', `/admin/accounts/${accountId}/credits`, { body: { amount: -3, reason: 'spent' } });
    // The item as it was written before: no headroom, not listed.
    await ddb().send(
      new UpdateCommand({
        TableName: process.env.TABLE_NAME,
        Key: keys.account(accountId),
        UpdateExpression: 'REMOVE GSI2PK, refill_headroom',
      }),
    );
    await sweepTimes(1);
    expect(await refills(accountId)).toHaveLength(0);

    await refreshView(accountId);
    expect(await headroomOf(accountId)).toEqual({ headroom: -1_000_000, listed: true });
    await sweepTimes(3);

    expect(await refills(accountId)).toHaveLength(1);
  });

  it('an account that never had the headroom starts it from its available balance on its first debit', async () => {
    const { accountId } = await fundedAccount(2);
    await ddb().send(
      new UpdateCommand({
        TableName: process.env.TABLE_NAME,
        Key: keys.account(accountId),
        UpdateExpression: 'REMOVE refill_headroom',
      }),
    );
    await chargeUsage({
      accountId,
      entryId: newUlid(),
      requestId: `req_${newUlid()}`,
      tokenId: undefined,
      feature: 'echo',
      quantity: 1,
      cost: 500_000 as Micros,
      at: nowIso(),
    });
    expect(await headroomOf(accountId)).toEqual({ headroom: 1_500_000, listed: false });
  });
});

describe('the monthly cap with the account still below the threshold', () => {
  it('$10 refills capped at $15, below $10 after one: three sweeps record one cap_reached attempt', async () => {
    const { accountId, token } = await accountWithCard(5);
    await enable(token, 10, 10, 15);
    expect((await runRefill(accountId)).outcome).toBe('succeeded');
    await call('POST', `/admin/accounts/${accountId}/credits`, { body: { amount: -10, reason: 'spent' } });

    await sweepTimes(3);

    expect((await getAccount(accountId))?.auto_refill?.last_attempt?.outcome).toBe('cap_reached');
    expect(await refills(accountId)).toHaveLength(1);
    const records = await ddb().send(
      new QueryCommand({
        TableName: process.env.TABLE_NAME,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :refill)',
        ExpressionAttributeValues: { ':pk': keys.account(accountId).PK, ':refill': 'REFILL#' },
      }),
    );
    expect(records.Items?.map((item) => item.outcome)).toEqual(['succeeded', 'cap_reached']);
  });
});
