// Issue 12, items 1 and 9: a fixed-price feature is charged before it runs (no free work for an account that
// cannot pay), a failed feature's charge is reversed exactly once (also across retries, a crash and racing
// reversers), and a charge refused for a reason that is not money is a 500 with no depletion event.
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { setBillingMode, setSpendLimit } from '#shared/accounts/billing-mode.ts';
import { freezeClock, nowIso, resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { queryAll } from '#shared/dynamo/query.ts';
import { ConflictError } from '#shared/errors.ts';
import type { ApiContext } from '#shared/http/api.ts';
import { chargeUsage, type UsageCharge } from '#shared/ledger/ledger.ts';
import { reconcileAll } from '#shared/ledger/reconcile.ts';
import { reverseCharge } from '#shared/ledger/reversal.ts';
import type { LedgerEntry } from '#shared/ledger/types.ts';
import { paidFeature } from '#shared/metering/metered.ts';
import { fromWire } from '#shared/money.ts';
import { accountMoney, fundedAccount, ledgerEntries, ledgerSum } from '../support/accounts.ts';
import { apiEvent, call, lambdaContext } from '../support/api.ts';
import { eventsOf } from '../support/assertions.ts';
import { countCommands, failBeforeSending, loseRepliesOf, restoreClient } from '../support/faults.ts';
import { rollUpRecordedUsage } from '../support/stream.ts';

afterEach(() => {
  restoreClient();
  resetClock();
});

type Behaviour = 'succeed' | 'fail_5xx' | 'fail_4xx' | 'hang';

/** The reference fixed-price feature (`echo`, 0.002) with a behaviour the test sets and a count of its runs. */
function countingFeature(initial: Behaviour = 'succeed') {
  const feature = { runs: 0, behaviour: initial };
  const handler = paidFeature({
    feature: 'echo',
    body: z.object({ text: z.string() }),
    results: z.object({ echo: z.string() }),
    run: async ({ text }) => {
      feature.runs++;
      if (feature.behaviour === 'fail_5xx') throw new Error('upstream down');
      if (feature.behaviour === 'fail_4xx')
        throw new ConflictError('unsupported_text', 'Text is not English');
      if (feature.behaviour === 'hang') await new Promise(() => undefined);
      return { results: { echo: text } };
    },
  });
  const invoke = async (
    token: string,
    headers: Record<string, string> = {},
    context: Partial<ApiContext> = {},
  ) => {
    const result = await handler(apiEvent('POST', '/v1/demo/echo', { token, headers, body: { text: 'a' } }), {
      ...lambdaContext(),
      ...context,
    } as ApiContext);
    return { status: result.statusCode, body: JSON.parse(result.body), headers: result.headers };
  };
  return { feature, invoke };
}

const usageOf = (entries: LedgerEntry[]) => entries.filter((e) => e.type === 'usage');
const reversalsOf = (entries: LedgerEntry[]) => entries.filter((e) => e.type === 'reversal');

/** Every reversal gives back one usage entry of the account, and no usage entry is reversed twice. */
function expectEachReversedOnce(entries: LedgerEntry[]): void {
  const usageIds = new Set(usageOf(entries).map((e) => e.entry_id));
  const reversed = reversalsOf(entries).map((e) => e.reverses);
  expect(new Set(reversed).size).toBe(reversed.length);
  for (const id of reversed) expect(usageIds.has(id!)).toBe(true);
}

async function read(key: { PK: string; SK: string }) {
  return (
    await ddb().send(new GetCommand({ TableName: process.env.TABLE_NAME, Key: key, ConsistentRead: true }))
  ).Item;
}

describe('no feature runs for an account that cannot pay', () => {
  it('100 calls from an account with room for 40: the feature ran 40 times, not 100', async () => {
    const { accountId, token } = await fundedAccount(0.08);
    const { feature, invoke } = countingFeature();

    const responses = await Promise.all(Array.from({ length: 100 }, () => invoke(token)));

    expect(responses.filter((r) => r.status === 200)).toHaveLength(40);
    expect(responses.filter((r) => r.status === 402)).toHaveLength(60);
    expect(feature.runs).toBe(40);
    const account = await accountMoney(accountId);
    expect([account.balance, account.available]).toEqual([0, 0]);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(0);
  });

  it('a postpaid account with a spend limit of room for 40 calls: 100 calls run the feature 40 times', async () => {
    const { accountId, token } = await fundedAccount(0);
    await setBillingMode(accountId, 'postpaid');
    await setSpendLimit(accountId, fromWire(0.08));
    const { feature, invoke } = countingFeature();

    const responses = await Promise.all(Array.from({ length: 100 }, () => invoke(token)));

    expect(responses.filter((r) => r.status === 200)).toHaveLength(40);
    expect(responses.filter((r) => r.body.code === 'spend_limit_reached')).toHaveLength(60);
    expect(feature.runs).toBe(40);
  });
});

describe('a failing feature is not charged, net', () => {
  it('a 4xx leaves the balance unchanged, once, even when retried 3 times with the same Idempotency-Key', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { feature, invoke } = countingFeature('fail_4xx');
    const headers = { 'idempotency-key': 'fails-4xx' };

    const answers = [
      await invoke(token, headers),
      await invoke(token, headers),
      await invoke(token, headers),
    ];

    for (const answer of answers) expect(answer.status).toBe(409);
    expect(answers[1]!.body).toEqual(answers[0]!.body);
    expect(feature.runs).toBe(1);
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);
    const entries = await ledgerEntries(accountId);
    expect(usageOf(entries)).toHaveLength(1);
    expect(reversalsOf(entries)).toEqual([
      expect.objectContaining({ amount: 2000, feature: 'echo', reverses: usageOf(entries)[0]!.entry_id }),
    ]);
    expect(ledgerSum(entries)).toBe(1_000_000);
  });

  it('a 5xx retried twice with the same key is charged and reversed per run, then one successful retry is charged once', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { feature, invoke } = countingFeature('fail_5xx');
    const headers = { 'idempotency-key': 'fails-5xx' };

    const first = await invoke(token, headers);
    const second = await invoke(token, headers);
    expect([first.status, second.status]).toEqual([500, 500]);
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);

    feature.behaviour = 'succeed';
    const third = await invoke(token, headers);
    const replay = await invoke(token, headers);

    expect(third.status).toBe(200);
    expect(third.body.cost).toBe(0.002);
    expect(replay).toEqual(third);
    expect(feature.runs).toBe(3);
    expect((await accountMoney(accountId)).balance).toBe(998_000);
    const entries = await ledgerEntries(accountId);
    expect(usageOf(entries)).toHaveLength(3);
    expect(reversalsOf(entries)).toHaveLength(2);
    expectEachReversedOnce(entries);
    expect(ledgerSum(entries)).toBe(998_000);
    // Every entry carries the request's id: one request, one net charge.
    expect(new Set([...usageOf(entries), ...reversalsOf(entries)].map((e) => e.request_id)).size).toBe(1);
  });

  it('the listing shows the reversal with a consistent balance_after, usage counts nothing, reconcile finds no drift', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { invoke } = countingFeature('fail_5xx');
    await invoke(token);

    const listing = await call('GET', '/v1/transactions', { token });
    const today = nowIso().slice(0, 10);
    const usage = await call('GET', '/v1/usage', { token, query: { begin: today, end: today } });

    const [reversal, charge, grant] = listing.body.data;
    expect(reversal).toMatchObject({ type: 'reversal', amount: 0.002, balance_after: 1, feature: 'echo' });
    expect(charge).toMatchObject({ type: 'usage', amount: -0.002, balance_after: 0.998 });
    expect(grant).toMatchObject({ type: 'grant', amount: 1, balance_after: 1 });
    expect(reversal.request_id).toBe(charge.request_id);
    expect(reversal.reverses).toBe(charge.id);
    expect(usage.body.data[0]).toMatchObject({ cost: 0, requests: 0 });
    const report = await reconcileAll();
    expect(report.drifted.filter((d) => d.account_id === accountId)).toEqual([]);
  });

  it('a feature that runs into the Lambda timeout is abandoned and its charge reversed', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { invoke } = countingFeature('hang');

    const answer = await invoke(token, {}, { getRemainingTimeInMillis: () => 2_100 });

    expect(answer.status).toBe(500);
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);
    expect(reversalsOf(await ledgerEntries(accountId))).toHaveLength(1);
  });

  it('postpaid: a failed call leaves the period usage, headroom, period item and the usage of the day at zero', async () => {
    freezeClock(new Date('2027-03-10T12:00:00.000Z'));
    const { accountId, token } = await fundedAccount(0);
    await setBillingMode(accountId, 'postpaid');
    await setSpendLimit(accountId, fromWire(1));
    const { invoke } = countingFeature('succeed');
    expect((await invoke(token)).status).toBe(200);
    const failing = countingFeature('fail_5xx');

    expect((await failing.invoke(token)).status).toBe(500);

    expect(await accountMoney(accountId)).toMatchObject({
      period: '2027-03',
      period_usage: 2000,
      period_headroom: 1_000_000 - 2000,
    });
    await rollUpRecordedUsage();
    expect(await read(keys.period(accountId, '2027-03'))).toMatchObject({ cost: 2000, requests: 1 });
    const usage = await call('GET', '/v1/usage', {
      token,
      query: { begin: '2027-03-10', end: '2027-03-10' },
    });
    expect(usage.body.data).toEqual([
      { period_start: '2027-03-10', cost: 0.002, requests: 1, by_feature: { echo: 0.002 } },
    ]);
    const entries = await ledgerEntries(accountId);
    expect(reversalsOf(entries)).toEqual([expect.objectContaining({ amount: 0, accrued: -2000 })]);
  });

  it('marketplace: a failed call leaves the hour record at zero cost and zero requests', async () => {
    freezeClock(new Date('2027-08-01T13:30:00.000Z'));
    const { accountId, token } = await fundedAccount(0);
    await ddb().send(
      new PutCommand({
        TableName: process.env.TABLE_NAME,
        Item: {
          ...(await read(keys.account(accountId))),
          billing_mode: 'marketplace',
          subscription_status: 'active',
        },
      }),
    );
    const { invoke } = countingFeature('fail_4xx');

    expect((await invoke(token)).status).toBe(409);
    await rollUpRecordedUsage();

    expect(await read(keys.marketplaceHour(accountId, '2027-08-01T13:00:00Z', 'usage'))).toMatchObject({
      cost: 0,
      requests: 0,
      state: 'pending',
    });
  });
});

describe('a crash between the charge and the feature failure', () => {
  it('the retry with the same key reverses the charge exactly once, without charging again', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { feature, invoke } = countingFeature('fail_5xx');
    const headers = { 'idempotency-key': 'crash-1' };
    // The charge goes through; the reversal never reaches DynamoDB (the invocation died there).
    failBeforeSending('TransactWriteItemsCommand', 1, 1);
    const crashed = await invoke(token, headers);
    restoreClient();
    expect(crashed.status).toBe(500);
    expect((await accountMoney(accountId)).balance).toBe(998_000);

    const retried = await invoke(token, headers);

    expect(retried.status).toBe(500);
    expect(feature.runs).toBe(2);
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);
    const entries = await ledgerEntries(accountId);
    expect(usageOf(entries)).toHaveLength(1);
    expect(reversalsOf(entries)).toHaveLength(1);
    expectEachReversedOnce(entries);
  });

  it('a retry whose feature now succeeds is paid by the standing charge: charged once in all', async () => {
    const { accountId, token } = await fundedAccount(1);
    const { feature, invoke } = countingFeature('fail_5xx');
    const headers = { 'idempotency-key': 'crash-2' };
    failBeforeSending('TransactWriteItemsCommand', 1, 1);
    await invoke(token, headers);
    restoreClient();

    feature.behaviour = 'succeed';
    const retried = await invoke(token, headers);

    expect(retried.status).toBe(200);
    expect(retried.body.cost).toBe(0.002);
    expect((await accountMoney(accountId)).balance).toBe(998_000);
    const entries = await ledgerEntries(accountId);
    expect(usageOf(entries)).toHaveLength(1);
    expect(reversalsOf(entries)).toHaveLength(0);
  });

  it('a redelivered event (no key) after the reversal reply was lost reverses once and charges its new run once', async () => {
    const { accountId, token } = await fundedAccount(1);
    // The reversal commits, then its reply is lost: the invocation cannot tell.
    loseRepliesOf('TransactWriteItemsCommand', 1, 1);
    const event = apiEvent('POST', '/v1/demo/echo', { token, body: { text: 'a' } });
    const handler = paidFeature({
      feature: 'echo',
      body: z.object({ text: z.string() }),
      results: z.object({ echo: z.string() }),
      run: () => {
        throw new Error('upstream down');
      },
    });
    const first = await handler(event, lambdaContext() as ApiContext);
    restoreClient();
    const redelivered = await handler(event, lambdaContext() as ApiContext);

    expect([first.statusCode, redelivered.statusCode]).toEqual([500, 500]);
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);
    const entries = await ledgerEntries(accountId);
    expect(usageOf(entries)).toHaveLength(2);
    expect(reversalsOf(entries)).toHaveLength(2);
    expectEachReversedOnce(entries);
  });

  it('three reversers racing on one charge reverse it once', async () => {
    const { accountId } = await fundedAccount(1);
    const charge: UsageCharge = {
      accountId,
      entryId: '01JZ0000000000000000000000',
      requestId: 'req_01JZ0000000000000000000000',
      tokenId: undefined,
      feature: 'echo',
      quantity: 1,
      cost: fromWire(0.002),
      at: nowIso(),
    };
    expect((await chargeUsage(charge)).status).toBe('charged');

    const outcomes = await Promise.all([1, 2, 3].map(() => reverseCharge(charge, nowIso())));

    expect(outcomes.filter((o) => o === 'reversed')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'already_reversed')).toHaveLength(2);
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);
    expect(ledgerSum(await ledgerEntries(accountId))).toBe(1_000_000);
  });

  it('a charge whose write never happened is not reversed', async () => {
    const { accountId } = await fundedAccount(1);
    const charge: UsageCharge = {
      accountId,
      entryId: '01JZ0000000000000000000001',
      requestId: 'req_01JZ0000000000000000000001',
      tokenId: undefined,
      feature: 'echo',
      quantity: 1,
      cost: fromWire(0.002),
      at: nowIso(),
    };

    expect(await reverseCharge(charge, nowIso())).toBe('not_charged');
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);
    expect(await ledgerEntries(accountId)).toHaveLength(1);
  });
});

describe('refusals say what happened', () => {
  /** Whether DynamoDB stores `item` (over 400 KB it refuses it with a ValidationException). */
  async function fits(item: Record<string, unknown>): Promise<boolean> {
    try {
      await ddb().send(new PutCommand({ TableName: process.env.TABLE_NAME, Item: item }));
      return true;
    } catch (error) {
      if ((error as Error).name === 'ValidationException') return false;
      throw error;
    }
  }

  /**
   * A postpaid account whose account item, with its current period already open, has only `room` bytes left
   * below 400 KB: a charge, which adds the `accrual_entries` count to it, is invalid. (The account item is
   * the one item a charge updates; the entry and guard are small puts.)
   */
  async function postpaidWithFullAccount(accountId: string, room = 8) {
    await setBillingMode(accountId, 'postpaid');
    await setSpendLimit(accountId, fromWire(1));
    const account = {
      ...(await read(keys.account(accountId))),
      period: nowIso().slice(0, 7),
      period_usage: 0,
      period_committed: 0,
      period_headroom: 1_000_000,
    };
    let [small, large] = [400_000, 410_000];
    while (large - small > 1) {
      const middle = Math.floor((small + large) / 2);
      if (await fits({ ...account, pad: 'x'.repeat(middle) })) small = middle;
      else large = middle;
    }
    expect(await fits({ ...account, pad: 'x'.repeat(small - room) })).toBe(true);
  }

  it('a ValidationError cancellation (item over 400 KB) is a 500 without a depletion event, and runs nothing', async () => {
    const { accountId, token } = await fundedAccount(1);
    await postpaidWithFullAccount(accountId);
    const { feature, invoke } = countingFeature();

    const answer = await invoke(token);

    expect(answer.status).toBe(500);
    expect(answer.body).toEqual({ error: 'Internal error', code: 'internal_error' });
    expect(feature.runs).toBe(0);
    expect(await eventsOf(accountId, 'credits.balance.depleted')).toHaveLength(0);
    expect((await accountMoney(accountId)).balance).toBe(1_000_000);
    expect(await ledgerEntries(accountId)).toHaveLength(1);
  });

  it('a per-unit settle refused by a ValidationError gives up after at most 3 tries and releases the hold', async () => {
    const { accountId, token } = await fundedAccount(1);
    await postpaidWithFullAccount(accountId);
    const counts = countCommands();

    const answer = await call('POST', '/v1/demo/words', { token, body: { text: 'a b c' } });

    expect(answer.status).toBe(500);
    // One hold (it fitted), at least one settle refused, at most 3 settles, one release.
    const holds = await queryAll({
      TableName: process.env.TABLE_NAME,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :hold)',
      ExpressionAttributeValues: { ':pk': keys.account(accountId).PK, ':hold': keys.holdPrefix },
      ConsistentRead: true,
    });
    expect(holds.map((hold) => hold.status)).toEqual(['released']);
    expect(counts.get('TransactWriteItemsCommand')).toBeGreaterThanOrEqual(3);
    expect(counts.get('TransactWriteItemsCommand')).toBeLessThanOrEqual(5);
    expect(await eventsOf(accountId, 'credits.balance.depleted')).toHaveLength(0);
    const account = await accountMoney(accountId);
    expect([account.balance, account.held, account.available]).toEqual([1_000_000, 0, 1_000_000]);
    expect((await ledgerEntries(accountId)).filter((entry) => entry.type === 'usage')).toEqual([]);
  });
});
