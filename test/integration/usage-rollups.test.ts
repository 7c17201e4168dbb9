// Issue 14, items 1, 2 and 4 (usage): a charge writes no usage item; the usage rollup consumer derives
// fixed-size rollups from the ledger through the table's stream, exactly once under redelivery, crashes and
// lost replies (and with them the period items and hour records of postpaid and Marketplace usage:
// accrual-rollups.test.ts), so GET /v1/usage always equals the ledger's sums and no item grows with tokens
// or features.
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { freezeClock, nowIso, resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import { newUlid } from '#shared/ids.ts';
import { chargeUsage, type UsageCharge } from '#shared/ledger/ledger.ts';
import { reverseCharge } from '#shared/ledger/reversal.ts';
import type { Micros } from '#shared/money.ts';
import { fundedAccount } from '../support/accounts.ts';
import { callsOfBoth, expectBillingToMatchLedger } from '../support/accrued.ts';
import { call } from '../support/api.ts';
import { failBeforeSending, loseRepliesOf, restoreClient } from '../support/faults.ts';
import { marketplaceAccount } from '../support/marketplace.ts';
import { postpaidAccount } from '../support/postpaid.ts';
import { expectRollupsToMatchLedger } from '../support/rollups.ts';
import { rollUpRecordedUsage, rollupPoller } from '../support/stream.ts';

afterEach(() => {
  restoreClient();
  resetClock();
});

/** Charges through the ledger's own charging transaction (the one every metered route makes). */
async function charge(accountId: string, input: { tokenId?: string; feature: string; cost: number }) {
  const entryId = newUlid();
  const made: UsageCharge = {
    accountId,
    entryId,
    requestId: `req_${entryId}`,
    tokenId: input.tokenId,
    feature: input.feature,
    quantity: 1,
    cost: input.cost as Micros,
    at: nowIso(),
  };
  const outcome = await chargeUsage(made);
  expect(outcome.status).toBe('charged');
  return made;
}

/** GET /v1/usage as the account's billing token (after the rollups caught up: see `call`). */
async function usageOf(token: string, query: Record<string, string>) {
  return (await call('GET', '/v1/usage', { token, query })).body;
}

async function entriesApplied(accountId: string): Promise<number> {
  const watermark = await ddb().send(
    new GetCommand({
      TableName: process.env.TABLE_NAME,
      Key: keys.usageWatermark(accountId),
      ConsistentRead: true,
    }),
  );
  return Number(watermark.Item?.entries_applied ?? 0);
}

/**
 * The largest item of this file's table, measured as its marshalled JSON (attribute names, type tags and
 * values): an upper bound of DynamoDB's own item size.
 */
async function largestItemBytes(): Promise<number> {
  let largest = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await ddb().send(
      new ScanCommand({
        TableName: process.env.TABLE_NAME,
        ...(start ? { ExclusiveStartKey: start as never } : {}),
      }),
    );
    for (const item of page.Items ?? [])
      largest = Math.max(largest, Buffer.byteLength(JSON.stringify(marshall(item))));
    start = page.LastEvaluatedKey;
  } while (start);
  return largest;
}

/** `count` charges, each with its own token and one of 7 features: several rollup transactions per batch. */
async function manyTokens(accountId: string, count: number) {
  for (let i = 0; i < count; i++)
    await charge(accountId, { tokenId: `tok_${i}`, feature: `f${i % 7}`, cost: 1000 + i });
}

describe('a charge writes no usage: it cannot grow an item', () => {
  // 500 charges, each with its own token, cross what 2,000 did: five full batches of the rollup consumer
  // (100 records), each several transactions of at most 100 items, and more than one page of the stream's
  // GetRecords (1,000 records: a charge writes two); a usage layout that listed tokens in one item would
  // pass 4 KB after a couple of hundred of them.
  const CHARGES = 500;
  const FEATURES = 50;
  it(`${CHARGES} token changes in one day across ${FEATURES} features: every charge commits, calls answer 200, no item reaches 4 KB, usage = ledger`, async () => {
    freezeClock(new Date('2027-05-10T08:00:00.000Z'));
    const { accountId, token } = await fundedAccount(100);
    const CONCURRENCY = 8;

    for (let start = 0; start < CHARGES; start += CONCURRENCY) {
      await Promise.all(
        Array.from({ length: Math.min(CONCURRENCY, CHARGES - start) }, (_, offset) =>
          charge(accountId, {
            tokenId: `tok_${start + offset}`,
            feature: `feature_${(start + offset) % FEATURES}`,
            cost: 1000,
          }),
        ),
      );
    }
    const echo = await call('POST', '/v1/demo/echo', { token, body: { text: 'still funded' } });
    const usage = await call('GET', '/v1/usage', {
      token,
      query: { begin: '2027-05-10', end: '2027-05-10' },
    });

    expect(echo.status).toBe(200);
    expect(usage.status).toBe(200);
    expect(usage.body.data).toHaveLength(1);
    // Each charge 0.001, the echo call 0.002.
    expect(usage.body.data[0]).toMatchObject({
      period_start: '2027-05-10',
      cost: (CHARGES + 2) / 1000,
      requests: CHARGES + 1,
    });
    expect(Object.keys(usage.body.data[0].by_feature)).toHaveLength(FEATURES + 1);
    expect(usage.body.data[0].by_feature.feature_7).toBe(CHARGES / FEATURES / 1000);
    await expectRollupsToMatchLedger(accountId);
    expect(await largestItemBytes()).toBeLessThan(4_096);
  }, 300_000);
});

/** A prepaid account, a postpaid account and a Marketplace buyer: the consumer rolls up all three modes. */
async function accountsOfEveryMode(): Promise<string[]> {
  return [
    (await fundedAccount(10)).accountId,
    (await postpaidAccount()).accountId,
    (await marketplaceAccount('active')).accountId,
  ];
}

/** `count` calls of each, each with its own token: several rollup transactions per batch. */
async function callsOfEveryMode([prepaid, postpaid, buyer]: string[], count: number) {
  await manyTokens(prepaid!, count);
  await callsOfBoth(postpaid!, buyer!, count);
}

/** Usage rollups, period items and hour records all equal the ledger's sums, for every account. */
async function expectEveryRollupToMatchLedger(accountIds: string[]) {
  for (const accountId of accountIds) {
    await expectRollupsToMatchLedger(accountId);
    await expectBillingToMatchLedger(accountId);
  }
}

async function entriesAppliedOf(accountIds: string[]): Promise<number> {
  let applied = 0;
  for (const accountId of accountIds) applied += await entriesApplied(accountId);
  return applied;
}

describe('exactly once: usage rollups, period items and hour records equal the ledger after', () => {
  it('every batch delivered twice', async () => {
    const poller = await rollupPoller(async (handler, records) => {
      await handler({ Records: records });
      return handler({ Records: records });
    });
    try {
      const accounts = await accountsOfEveryMode();
      await callsOfEveryMode(accounts, 40);

      await poller.drain();

      await expectEveryRollupToMatchLedger(accounts);
    } finally {
      await poller.stop();
    }
  });

  it('an invocation that crashed after applying its whole batch, redelivered', async () => {
    let crashes = 1;
    const poller = await rollupPoller(async (handler, records) => {
      const answer = await handler({ Records: records });
      if (crashes-- > 0) throw new Error('the invocation timed out after its writes');
      return answer;
    });
    try {
      const accounts = await accountsOfEveryMode();
      await callsOfEveryMode(accounts, 40);

      await poller.drain();
      await poller.drain();

      await expectEveryRollupToMatchLedger(accounts);
    } finally {
      await poller.stop();
    }
  });

  it('a crash before the 2nd transaction of a batch: the 1st stays applied, the rest comes again', async () => {
    const accounts = await accountsOfEveryMode();
    await callsOfEveryMode(accounts, 20);
    await rollUpRecordedUsage(); // whatever earlier tests left, so the next batch is these accounts'
    const before = await entriesAppliedOf(accounts);

    await callsOfEveryMode(accounts, 40);
    failBeforeSending('TransactWriteItemsCommand', 1, 1);
    await rollUpRecordedUsage();
    const partly = await entriesAppliedOf(accounts);
    restoreClient();
    await rollUpRecordedUsage();

    expect(partly).toBeGreaterThan(before);
    expect(partly).toBeLessThan(before + 3 * 40);
    await expectEveryRollupToMatchLedger(accounts);
  });

  it('a reply lost after the 2nd transaction of a batch committed: redelivered, counted once', async () => {
    const accounts = await accountsOfEveryMode();
    await rollUpRecordedUsage();

    await callsOfEveryMode(accounts, 40);
    loseRepliesOf('TransactWriteItemsCommand', 1, 1);
    await rollUpRecordedUsage();
    restoreClient();
    await rollUpRecordedUsage();

    await expectEveryRollupToMatchLedger(accounts);
  });
});

describe('one batch across UTC midnight and a month end, with a reversal', () => {
  it('books each call on its own day and month; a reversal after midnight nets its charge’s day to zero', async () => {
    freezeClock(new Date('2027-01-31T23:59:59.000Z'));
    const { accountId, token } = await fundedAccount(10);
    await rollUpRecordedUsage();
    await charge(accountId, { tokenId: 'tok_a', feature: 'echo', cost: 2000 });
    freezeClock(new Date('2027-01-31T23:59:59.900Z'));
    const reversed = await charge(accountId, { tokenId: 'tok_a', feature: 'words', cost: 300 });
    freezeClock(new Date('2027-02-01T00:00:00.100Z'));
    expect(await reverseCharge(reversed, nowIso())).toBe('reversed');
    await charge(accountId, { tokenId: 'tok_b', feature: 'echo', cost: 2000 });

    const twoMonths = { begin: '2027-01-01', end: '2027-02-28', step: 'month' };
    const days = await usageOf(token, { begin: '2027-01-31', end: '2027-02-01' });
    const months = await usageOf(token, twoMonths);
    const tokenA = await usageOf(token, { ...twoMonths, token_id: 'tok_a' });

    expect(days.data).toEqual([
      { period_start: '2027-01-31', cost: 0.002, requests: 1, by_feature: { echo: 0.002, words: 0 } },
      { period_start: '2027-02-01', cost: 0.002, requests: 1, by_feature: { echo: 0.002 } },
    ]);
    expect(months.data).toEqual([
      { period_start: '2027-01-01', cost: 0.002, requests: 1, by_feature: { echo: 0.002, words: 0 } },
      { period_start: '2027-02-01', cost: 0.002, requests: 1, by_feature: { echo: 0.002 } },
    ]);
    expect(tokenA.data).toEqual([
      { period_start: '2027-01-01', cost: 0.002, requests: 1, by_feature: { echo: 0.002, words: 0 } },
      { period_start: '2027-02-01', cost: 0, requests: 0, by_feature: {} },
    ]);
    await expectRollupsToMatchLedger(accountId);
  });
});

describe('GET /v1/usage over ten years of month steps', () => {
  it('answers 120 months from month items, partial first and last months from day items', async () => {
    const { accountId, token } = await fundedAccount(10);
    const at = async (iso: string, feature: string, cost: number) => {
      freezeClock(new Date(iso));
      await charge(accountId, { tokenId: 'tok_x', feature, cost });
    };
    await at('2017-01-05T12:00:00.000Z', 'echo', 1000); // before the range
    await at('2017-01-12T12:00:00.000Z', 'echo', 2000);
    await at('2020-02-29T23:59:59.999Z', 'words', 300);
    await at('2020-03-01T00:00:00.000Z', 'words', 400);
    await at('2026-12-19T08:00:00.000Z', 'echo', 5000);
    await at('2026-12-25T08:00:00.000Z', 'echo', 7000); // after the range
    resetClock();

    const tenYears = { begin: '2017-01-10', end: '2026-12-20' };
    const months = await usageOf(token, { ...tenYears, step: 'month' });
    const years = await usageOf(token, { ...tenYears, step: 'year', feature: 'words' });

    expect(months.data).toHaveLength(120);
    const used = months.data.filter((bucket: { requests: number }) => bucket.requests > 0);
    expect(used).toEqual([
      { period_start: '2017-01-01', cost: 0.002, requests: 1, by_feature: { echo: 0.002 } },
      { period_start: '2020-02-01', cost: 0.0003, requests: 1, by_feature: { words: 0.0003 } },
      { period_start: '2020-03-01', cost: 0.0004, requests: 1, by_feature: { words: 0.0004 } },
      { period_start: '2026-12-01', cost: 0.005, requests: 1, by_feature: { echo: 0.005 } },
    ]);
    expect(years.data).toHaveLength(10);
    expect(
      years.data.find((bucket: { period_start: string }) => bucket.period_start === '2020-01-01'),
    ).toEqual({
      period_start: '2020-01-01',
      cost: 0.0007,
      requests: 2,
      by_feature: { words: 0.0007 },
    });
    await expectRollupsToMatchLedger(accountId);
  });
});
