// Issue 16 item 2, the low-balance alert's detection: the rollup consumer records exactly one
// `credits.balance.low` event (source `alert_threshold`) per crossing of the account's own threshold, from
// above to below, re-armed at or above it; under redelivery, concurrent invocations, lost replies and failed
// reads; with the total of a sharded balance; and no reads beyond one BatchGetItem for accounts without one.
import { afterEach, describe, expect, it } from 'vitest';
import { grantCredits } from '#shared/accounts/service.ts';
import { keys } from '#shared/dynamo/keys.ts';
import type { BillingEvent } from '#shared/events/outbox.ts';
import { checkLowBalanceAlerts } from '#shared/notifications/low-balance.ts';
import { fundedAccount, spend, tableItem } from '../support/accounts.ts';
import { call } from '../support/api.ts';
import { eventsOf } from '../support/assertions.ts';
import { countCommands, failBeforeSending, loseRepliesOf, restoreClient } from '../support/faults.ts';
import { postpaidAccount } from '../support/postpaid.ts';
import { rollUpRecordedUsage, rollupPoller } from '../support/stream.ts';

afterEach(() => {
  restoreClient();
});

const allOn = { low_balance: true, auto_refill: true, spend_limit: true, invoices: true, receipts: true };

async function setThreshold(token: string, threshold: number | null, recipients = ['ops@example.com']) {
  const put = await call('PUT', '/v1/notifications', {
    token,
    body: { recipients, low_balance_threshold: threshold, events: allOn },
  });
  expect(put.status).toBe(200);
}

async function prepaidWithAlert(usd: number, threshold: number) {
  const account = await fundedAccount(usd, 'Low-balance alert');
  await setThreshold(account.token, threshold);
  return account;
}

async function topUp(accountId: string, usd: number) {
  await grantCredits({ accountId, amountUsd: usd, reason: 'top-up' });
}

/** The account's low-balance events once the rollup consumer has checked everything written so far. */
async function lowEvents(accountId: string): Promise<BillingEvent[]> {
  await rollUpRecordedUsage();
  return eventsOf(accountId, 'credits.balance.low');
}

describe('credits.balance.low at the alert threshold', () => {
  it('one event per crossing from above to below; none while below; re-armed above; three crossings, three events', async () => {
    // Prepare: $10, threshold $5.
    const { accountId } = await prepaidWithAlert(10, 5);

    // Act / Assess: 10 → 6 → 4 (crossing 1) → 3 → 1
    await spend(accountId, 4);
    expect(await lowEvents(accountId)).toHaveLength(0);
    await spend(accountId, 2);
    const first = await lowEvents(accountId);
    await spend(accountId, 1);
    await lowEvents(accountId);
    await spend(accountId, 2);
    expect(await lowEvents(accountId)).toHaveLength(1);
    // 1 → 11 (re-armed, no event) → 4.5 (crossing 2)
    await topUp(accountId, 10);
    expect(await lowEvents(accountId)).toHaveLength(1);
    expect(await tableItem(keys.lowBalanceAlert(accountId))).toMatchObject({ state: 'armed' });
    await spend(accountId, 6.5);
    expect(await lowEvents(accountId)).toHaveLength(2);
    // 4.5 → 5 exactly (at the threshold: re-armed) → 4.999999 (crossing 3)
    await topUp(accountId, 0.5);
    await lowEvents(accountId);
    await spend(accountId, 0.000001);
    const all = await lowEvents(accountId);

    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      type: 'credits.balance.low',
      account_id: accountId,
      available: 4,
      threshold: 5,
      source: 'alert_threshold',
    });
    expect(all).toHaveLength(3);
    expect(all.map((event) => event.available)).toEqual([4, 4.5, 4.999999]);
    expect(new Set(all.map((event) => event.event_id)).size).toBe(3);
    expect(await tableItem(keys.lowBalanceAlert(accountId))).toMatchObject({
      state: 'fired',
      threshold: 5_000_000,
      event_id: all[2]!.event_id,
    });
  });

  it('a crossing in the middle of a batch counts once, from the balance after the batch', async () => {
    // Prepare
    const { accountId } = await prepaidWithAlert(10, 5);

    // Act: five charges in one batch: 10 → 8 → 6 → 4 → 2 → 0.
    for (let i = 0; i < 5; i++) await spend(accountId, 2);
    const events = await lowEvents(accountId);

    // Assess
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ available: 0, threshold: 5 });
  });

  it('a settings PUT that keeps the threshold does not re-arm; a changed threshold starts armed at the next entry', async () => {
    // Prepare: fired once at $5.
    const { accountId, token } = await prepaidWithAlert(10, 5);
    await spend(accountId, 6);
    expect(await lowEvents(accountId)).toHaveLength(1);

    // Act: the same threshold with other recipients, then an entry below it.
    await setThreshold(token, 5, ['finance@example.com']);
    await spend(accountId, 1);
    const kept = await lowEvents(accountId);
    // A higher threshold: evaluated at the next entry, not at the PUT.
    await setThreshold(token, 6);
    const atPut = await lowEvents(accountId);
    await spend(accountId, 0.5);
    const changed = await lowEvents(accountId);

    // Assess
    expect(kept).toHaveLength(1);
    expect(atPut).toHaveLength(1);
    expect(changed).toHaveLength(2);
    expect(changed[1]).toMatchObject({ available: 2.5, threshold: 6, source: 'alert_threshold' });
  });

  it('removing the threshold re-arms the alert: set again, it fires for the balance still below', async () => {
    // Prepare
    const { accountId, token } = await prepaidWithAlert(10, 5);
    await spend(accountId, 6);
    expect(await lowEvents(accountId)).toHaveLength(1);

    // Act
    await setThreshold(token, null);
    await spend(accountId, 1);
    const whileOff = await lowEvents(accountId);
    await setThreshold(token, 5);
    await spend(accountId, 1);
    const again = await lowEvents(accountId);

    // Assess
    expect(whileOff).toHaveLength(1);
    expect(again).toHaveLength(2);
    expect(again[1]).toMatchObject({ available: 2, threshold: 5 });
  });

  it('an account without a threshold costs one BatchGetItem per batch and no other read, and records nothing', async () => {
    // Prepare: everything written so far rolled up, so the next batch is this account's alone.
    const { accountId } = await fundedAccount(10, 'No alert');
    await rollUpRecordedUsage();
    await spend(accountId, 9);
    await spend(accountId, 0.5);

    // Act
    const counts = countCommands();
    await rollUpRecordedUsage();
    restoreClient();

    // Assess
    expect(counts.get('BatchGetItemCommand')).toBe(1);
    expect(counts.get('GetItemCommand')).toBeUndefined();
    expect(counts.get('TransactGetItemsCommand')).toBeUndefined();
    expect(counts.get('TransactWriteItemsCommand')).toBe(1); // the rollup's own
    expect(counts.get('UpdateItemCommand')).toBeUndefined();
    expect(await lowEvents(accountId)).toHaveLength(0);
    expect(await tableItem(keys.lowBalanceAlert(accountId))).toBeUndefined();
  });

  it('a postpaid account with a threshold records nothing', async () => {
    // Prepare
    const { accountId, token } = await postpaidAccount();
    await setThreshold(token, 5);

    // Act
    const usage = await call('POST', '/v1/demo/echo', { token, body: { text: 'postpaid' } });
    await topUp(accountId, 1);

    // Assess
    expect(usage.status).toBe(200);
    expect(await lowEvents(accountId)).toHaveLength(0);
  });

  it('a sharded account is checked against the total of its shards', async () => {
    // Prepare: $0.02 over 4 shards (0.005 each: every shard alone is below the threshold), threshold $0.012.
    const { accountId, token } = await prepaidWithAlert(0.02, 0.012);
    const shards = await call('PUT', `/admin/accounts/${accountId}/balance-shards`, { body: { count: 4 } });
    expect(shards.status).toBe(200);
    const echo = (i: number) => call('POST', '/v1/demo/echo', { token, body: { text: `c${i}` } });

    // Act: 0.002 each: 0.018 … 0.012 (not below), then 0.010 and 0.008.
    for (let i = 0; i < 4; i++) expect((await echo(i)).status).toBe(200);
    const atThreshold = await lowEvents(accountId);
    for (let i = 4; i < 6; i++) expect((await echo(i)).status).toBe(200);
    const below = await lowEvents(accountId);

    // Assess
    expect(atThreshold).toHaveLength(0);
    expect(below).toHaveLength(1);
    expect(below[0]).toMatchObject({ available: 0.008, threshold: 0.012 });
  });
});

describe('exactly one event per crossing under redelivery and failures', () => {
  it('every batch delivered twice, and twice at once', async () => {
    const poller = await rollupPoller(async (handler, records) => {
      await handler({ Records: records });
      await Promise.all([handler({ Records: records }), handler({ Records: records })]);
      return handler({ Records: records });
    });
    try {
      // Prepare
      const { accountId } = await prepaidWithAlert(10, 5);

      // Act: three crossings, each batch handled four times.
      for (let crossing = 0; crossing < 3; crossing++) {
        await spend(accountId, 6);
        await poller.drain();
        await spend(accountId, 0.5);
        await poller.drain();
        await topUp(accountId, 6.5);
        await poller.drain();
      }
      await spend(accountId, 1);
      await poller.drain();

      // Assess: the file's own poller delivers them all once more (the rollups and checks are idempotent).
      const events = await lowEvents(accountId);
      expect(events).toHaveLength(3);
      expect(events.map((event) => event.available)).toEqual([4, 4, 4]);
    } finally {
      await poller.stop();
    }
  });

  it('concurrent checks of one crossing (invocations on different stream shards) record one event; of a re-arm, re-arm once', async () => {
    // Prepare: the crossing rolled up and checked once already would leave nothing to race: race fresh checks.
    const { accountId } = await prepaidWithAlert(10, 5);
    await rollUpRecordedUsage();
    failBeforeSending('BatchGetItemCommand');
    await spend(accountId, 6);
    await rollUpRecordedUsage(); // rolled up, its check failed: the crossing is not recorded yet
    restoreClient();

    // Act
    await Promise.all(Array.from({ length: 8 }, () => checkLowBalanceAlerts([accountId])));
    const fired = await tableItem(keys.lowBalanceAlert(accountId));
    await grantCredits({ accountId, amountUsd: 2, reason: 'top-up' }); // 6: re-arming
    await Promise.all(Array.from({ length: 8 }, () => checkLowBalanceAlerts([accountId])));
    const rearmed = await tableItem(keys.lowBalanceAlert(accountId));

    // Assess
    expect(await eventsOf(accountId, 'credits.balance.low')).toHaveLength(1);
    expect(fired).toMatchObject({ state: 'fired', version: 1 });
    expect(rearmed).toMatchObject({ state: 'armed', version: 2 });
  });

  it('the event’s transaction committed but its reply was lost: one event, and no other for the crossing', async () => {
    // Prepare
    const { accountId } = await prepaidWithAlert(10, 5);
    await rollUpRecordedUsage();
    await spend(accountId, 6);

    // Act: the batch's 1st transaction is its rollup, the 2nd the alert's.
    const { plan } = loseRepliesOf('TransactWriteItemsCommand', 1, 1);
    await rollUpRecordedUsage();
    restoreClient();
    const afterLoss = await tableItem(keys.lowBalanceAlert(accountId));
    await spend(accountId, 1);
    const events = await lowEvents(accountId);

    // Assess: the reply lost was the alert's (a lost rollup reply would have left no check to fire).
    expect(plan.remaining).toBe(0);
    expect(afterLoss).toMatchObject({ state: 'fired', version: 1 });
    expect(events).toHaveLength(1);
    expect(await tableItem(keys.lowBalanceAlert(accountId))).toMatchObject({
      state: 'fired',
      event_id: events[0]!.event_id,
    });
  });

  it('a failed check leaves the rollups applied and records nothing; the account’s next entry fires', async () => {
    // Prepare
    const { accountId } = await prepaidWithAlert(10, 5);
    await rollUpRecordedUsage();
    await spend(accountId, 6);

    // Act
    failBeforeSending('BatchGetItemCommand');
    await rollUpRecordedUsage();
    restoreClient();
    const watermark = await tableItem(keys.usageWatermark(accountId));
    const afterFailure = await eventsOf(accountId, 'credits.balance.low');
    await spend(accountId, 1);
    const events = await lowEvents(accountId);

    // Assess: 2 entries (the grant and the charge) rolled up despite the failed check.
    expect(watermark?.entries_applied).toBe(2);
    expect(afterFailure).toHaveLength(0);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ available: 3, threshold: 5 });
  });
});
