// Issue 14, items 1, 2 and 4 (postpaid periods and Marketplace hours): a postpaid or Marketplace charge's
// transaction holds only the account item and the ledger entry (and the guard with a key); the period item
// and the hour record that bill the usage are rolled up from the ledger by the stream consumer (exactly
// once under redelivery, crashes and lost replies: usage-rollups.test.ts, for every billing mode). A batch
// across an hour and a month end bills each call in its own period and hour, a late entry into a claimed
// one is billed in the next open one, and items written by charges before the upgrade are neither lost nor
// counted twice.
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { clearViews } from '#shared/accounts/view.ts';
import { freezeClock, nowIso, resetClock } from '#shared/clock.ts';
import { ddb } from '#shared/dynamo/client.ts';
import { keys } from '#shared/dynamo/keys.ts';
import type { ApiContext } from '#shared/http/api.ts';
import { newUlid } from '#shared/ids.ts';
import { periodOf } from '#shared/ledger/accrual.ts';
import { reverseCharge } from '#shared/ledger/reversal.ts';
import type { LedgerEntry } from '#shared/ledger/types.ts';
import { hourRollupUpdate } from '#shared/marketplace/hour-store.ts';
import { paidFeature } from '#shared/metering/metered.ts';
import type { Micros } from '#shared/money.ts';
import { periodRollupUpdate } from '#shared/postpaid/store.ts';
import { ledgerEntries, tableItem } from '../support/accounts.ts';
import {
  type AccrualMode,
  billingItems,
  chargeAccrued,
  expectBillingToMatchLedger,
  FEATURES,
  watermarkOf,
} from '../support/accrued.ts';
import { apiEvent, call, lambdaContext } from '../support/api.ts';
import { type CapturedAction, captureTransactions, restoreClient } from '../support/faults.ts';
import { marketplaceAccount } from '../support/marketplace.ts';
import { postpaidAccount } from '../support/postpaid.ts';
import { rollUpRecordedUsage } from '../support/stream.ts';

afterEach(() => {
  restoreClient();
  resetClock();
  clearViews();
});

type Mode = AccrualMode;
const accrue = chargeAccrued;

const accountOf = (mode: Mode) => (mode === 'postpaid' ? postpaidAccount() : marketplaceAccount('active'));

/** Each transaction as "Action SK-prefix" (the ids after `#` left out). */
function shapes(transactions: CapturedAction[][]): string[][] {
  return transactions.map((items) => items.map(({ action, sk }) => `${action} ${sk.replace(/#.*/, '#')}`));
}

describe("a postpaid or Marketplace charge's transaction: the account item and the entry, nothing else", () => {
  const echo = (token: string, headers: Record<string, string> = {}) =>
    call('POST', '/v1/demo/echo', { token, body: { text: 'a' }, headers });

  it.each<Mode>(['postpaid', 'marketplace'])(
    '%s fixed price: 2 items, 3 with an Idempotency-Key',
    async (mode) => {
      const { accountId, token } = await accountOf(mode);
      expect((await echo(token)).status).toBe(200);
      const transactions = captureTransactions();

      expect((await echo(token)).status).toBe(200);
      expect((await echo(token, { 'idempotency-key': `shape-${mode}` })).status).toBe(200);

      expect(shapes(transactions)).toEqual([
        ['Update ACCOUNT', 'Put LEDGER#'],
        ['Update ACCOUNT', 'Put LEDGER#', 'Put REF#'],
      ]);
      restoreClient();
      await rollUpRecordedUsage();
      await expectBillingToMatchLedger(accountId);
    },
  );

  it('postpaid per unit: the hold, then its settle with the entry; Marketplace per unit: the charge alone', async () => {
    const postpaid = await accountOf('postpaid');
    const buyer = await accountOf('marketplace');
    const words = (token: string) => call('POST', '/v1/demo/words', { token, body: { text: 'one two' } });
    expect((await words(postpaid.token)).status).toBe(200);
    expect((await words(buyer.token)).status).toBe(200);
    const transactions = captureTransactions();

    expect((await words(postpaid.token)).status).toBe(200);
    expect((await words(buyer.token)).status).toBe(200);

    expect(shapes(transactions)).toEqual([
      ['Update ACCOUNT', 'Put HOLD#'],
      ['Update ACCOUNT', 'Update HOLD#', 'Put LEDGER#'],
      ['Update ACCOUNT', 'Put LEDGER#'],
    ]);
  });

  it.each<Mode>(['postpaid', 'marketplace'])(
    '%s: a failed call’s reversal writes the account, the reversal entry and the proof of its charge',
    async (mode) => {
      const { accountId, token } = await accountOf(mode);
      const failing = paidFeature({
        feature: 'echo',
        body: z.object({ text: z.string() }),
        results: z.object({ echo: z.string() }),
        run: () => {
          throw new Error('upstream down');
        },
      });
      expect((await echo(token)).status).toBe(200);
      const transactions = captureTransactions();

      const answer = await failing(
        apiEvent('POST', '/v1/demo/echo', { token, body: { text: 'a' } }),
        lambdaContext() as ApiContext,
      );

      expect(answer.statusCode).toBe(500);
      expect(shapes(transactions)).toEqual([
        ['Update ACCOUNT', 'Put LEDGER#'],
        ['Update ACCOUNT', 'Put LEDGER#', 'ConditionCheck LEDGER#'],
      ]);
      restoreClient();
      await rollUpRecordedUsage();
      await expectBillingToMatchLedger(accountId);
    },
  );
});

describe('one batch across an hour end and a month end, with a reversal after midnight', () => {
  it('bills each call in its own period and hour; the reversal nets its charge’s period and hour to zero', async () => {
    const postpaid = await accountOf('postpaid');
    const buyer = await accountOf('marketplace');
    await rollUpRecordedUsage();
    const both = async (cost: number, feature = 'echo') => [
      await accrue(postpaid.accountId, 'postpaid', { cost, feature }),
      await accrue(buyer.accountId, 'marketplace', { cost, feature }),
    ];

    freezeClock(new Date('2027-01-31T23:59:59.000Z'));
    await both(2_000);
    freezeClock(new Date('2027-01-31T23:59:59.900Z'));
    const reversed = await both(300, 'words');
    freezeClock(new Date('2027-02-01T00:00:00.100Z'));
    for (const charge of reversed) expect(await reverseCharge(charge, nowIso())).toBe('reversed');
    await both(5_000);
    await rollUpRecordedUsage();

    expect(await billingItems(postpaid.accountId)).toEqual(
      new Map([
        [
          'PERIOD#2027-01',
          expect.objectContaining({ cost: 2_000, requests: 1, entries: 3, 'f:words:cost': 0 }),
        ],
        ['PERIOD#2027-02', expect.objectContaining({ cost: 5_000, requests: 1, entries: 1 })],
      ]),
    );
    expect(await billingItems(buyer.accountId)).toEqual(
      new Map([
        ['MKT_HOUR#2027-01-31T23:00:00Z#usage', { cost: 2_000, requests: 1, entries: 3 }],
        ['MKT_HOUR#2027-02-01T00:00:00Z#usage', { cost: 5_000, requests: 1, entries: 1 }],
      ]),
    );
    await expectBillingToMatchLedger(postpaid.accountId);
    await expectBillingToMatchLedger(buyer.accountId);
  });
});

describe('a late entry into a claimed period or hour', () => {
  async function claim(key: { PK: string; SK: string }, attribute: string, state: string) {
    await ddb().send(
      new UpdateCommand({
        TableName: process.env.TABLE_NAME,
        Key: key,
        UpdateExpression: 'SET #state = :state',
        ExpressionAttributeNames: { '#state': attribute },
        ExpressionAttributeValues: { ':state': state },
      }),
    );
  }

  it('is billed in the next open period: a late charge and a reversal of an invoiced call (a credit)', async () => {
    freezeClock(new Date('2027-03-31T23:00:00.000Z'));
    const { accountId } = await accountOf('postpaid');
    const invoiced = await accrue(accountId, 'postpaid', { cost: 2_000 });
    await rollUpRecordedUsage();
    // The invoicing job claimed March, and April too (a lagging consumer, say).
    await claim(keys.period(accountId, '2027-03'), 'invoice_state', 'claimed');
    await claim(keys.period(accountId, '2027-04'), 'invoice_state', 'claimed');

    // An instance whose clock lags still charges in March; a retry reverses the invoiced call.
    freezeClock(new Date('2027-03-31T23:59:59.900Z'));
    await accrue(accountId, 'postpaid', { cost: 3_000, feature: 'words', quantity: 30 });
    freezeClock(new Date('2027-04-01T02:00:00.000Z'));
    expect(await reverseCharge(invoiced, nowIso())).toBe('reversed');
    await rollUpRecordedUsage();

    const items = await billingItems(accountId);
    expect(items.get('PERIOD#2027-03')).toMatchObject({ cost: 2_000, requests: 1, entries: 1 });
    expect(items.get('PERIOD#2027-04')).toEqual({});
    expect(items.get('PERIOD#2027-05')).toEqual({
      cost: 1_000,
      requests: 0,
      entries: 2,
      'f:echo:cost': -2_000,
      'f:echo:quantity': -1,
      'f:echo:requests': -1,
      'f:words:cost': 3_000,
      'f:words:quantity': 30,
      'f:words:requests': 1,
    });
    // Billed in all: exactly what the ledger accrued.
    const billed = [...items.values()].reduce((sum, item) => sum + (item.cost ?? 0), 0);
    const accrued = (await ledgerEntries(accountId)).reduce((sum, entry) => sum + (entry.accrued ?? 0), 0);
    expect(billed).toBe(accrued);
    expect(billed).toBe(3_000);
  });

  it('is billed in the next open hour', async () => {
    freezeClock(new Date('2027-08-02T09:30:00.000Z'));
    const { accountId } = await accountOf('marketplace');
    await accrue(accountId, 'marketplace', { cost: 2_000 });
    await rollUpRecordedUsage();
    await claim(keys.marketplaceHour(accountId, '2027-08-02T09:00:00Z', 'usage'), 'state', 'claimed');
    await claim(keys.marketplaceHour(accountId, '2027-08-02T10:00:00Z', 'usage'), 'state', 'reported');

    freezeClock(new Date('2027-08-02T09:59:59.900Z'));
    const late = await accrue(accountId, 'marketplace', { cost: 700 });
    await rollUpRecordedUsage();

    const items = await billingItems(accountId);
    expect(items.get('MKT_HOUR#2027-08-02T09:00:00Z#usage')).toEqual({
      cost: 2_000,
      requests: 1,
      entries: 1,
    });
    expect(items.get('MKT_HOUR#2027-08-02T11:00:00Z#usage')).toEqual({ cost: 700, requests: 1, entries: 1 });
    expect(await tableItem(keys.marketplaceHour(accountId, '2027-08-02T11:00:00Z', 'usage'))).toMatchObject({
      state: 'pending',
      GSI1SK: `2027-08-02T11:00:00Z#${accountId}#usage`,
    });
    // The ledger keeps the call's own time.
    expect(
      (await ledgerEntries(accountId)).find((entry) => entry.entry_id === late.entryId)?.created_at,
    ).toBe('2027-08-02T09:59:59.900Z');
  });
});

describe('upgrading: items written by charges before the rollups', () => {
  /** A ledger entry as a charge of the previous version wrote it: accrued, without `billing_mode`. */
  async function legacyEntry(accountId: string, cost: number, at: string): Promise<LedgerEntry> {
    const entry: LedgerEntry = {
      entry_id: newUlid(),
      account_id: accountId,
      type: 'usage',
      amount: 0 as Micros,
      accrued: cost as Micros,
      created_at: at,
      request_id: 'req_legacy',
      feature: 'echo',
      quantity: 1,
    };
    await ddb().send(
      new PutCommand({
        TableName: process.env.TABLE_NAME,
        Item: { ...keys.ledgerEntry(accountId, entry.entry_id), kind: 'ledger', ...entry },
      }),
    );
    return entry;
  }

  /** The previous version's write to the item in the same transaction: no `entries` count. */
  async function legacyWrite(update: ReturnType<typeof periodRollupUpdate>) {
    const { Update } = update;
    const names = { ...Update!.ExpressionAttributeNames };
    delete names['#entries'];
    const values = { ...Update!.ExpressionAttributeValues };
    delete values[':entries'];
    await ddb().send(
      new UpdateCommand({
        ...Update!,
        UpdateExpression: Update!.UpdateExpression!.replace(/, #entries :entries/, ''),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  it('a period and an hour in flight keep what their charges wrote; the consumer adds only the new entries', async () => {
    freezeClock(new Date('2027-06-15T10:20:00.000Z'));
    const postpaid = await accountOf('postpaid');
    const buyer = await accountOf('marketplace');
    const legacy = await legacyEntry(postpaid.accountId, 4_000, nowIso());
    await legacyWrite(
      periodRollupUpdate(postpaid.accountId, '2027-06', {
        cost: 4_000,
        requests: 1,
        entries: 1,
        features: new Map([['echo', { cost: 4_000, quantity: 1, requests: 1 }]]),
      }),
    );
    await legacyEntry(buyer.accountId, 900, nowIso());
    await legacyWrite(
      hourRollupUpdate(buyer.accountId, '2027-06-15T10:00:00Z', 'usage', {
        cost: 900,
        requests: 1,
        entries: 1,
      }),
    );

    await accrue(postpaid.accountId, 'postpaid', { cost: 2_000 });
    await accrue(buyer.accountId, 'marketplace', { cost: 500 });
    // The new version reverses a call the previous one charged: taken back from the item it was written to.
    const reversal = await reverseCharge(
      {
        accountId: postpaid.accountId,
        entryId: legacy.entry_id,
        requestId: 'req_legacy',
        tokenId: undefined,
        feature: 'echo',
        quantity: 1,
        cost: 4_000 as Micros,
        at: legacy.created_at,
        billing: { mode: 'postpaid', period: '2027-06', rollover: false },
      },
      nowIso(),
    );
    await rollUpRecordedUsage();
    await rollUpRecordedUsage();

    expect(reversal).toBe('reversed');
    expect(await billingItems(postpaid.accountId)).toEqual(
      new Map([
        [
          'PERIOD#2027-06',
          {
            cost: 2_000,
            requests: 1,
            entries: 2,
            'f:echo:cost': 2_000,
            'f:echo:quantity': 1,
            'f:echo:requests': 1,
          },
        ],
      ]),
    );
    expect(await billingItems(buyer.accountId)).toEqual(
      new Map([['MKT_HOUR#2027-06-15T10:00:00Z#usage', { cost: 1_400, requests: 2, entries: 1 }]]),
    );
    // Only the new version's entries are counted on both sides of the jobs' gate.
    expect((await tableItem(keys.account(postpaid.accountId)))?.accrual_entries).toBe(2);
    expect(await watermarkOf(postpaid.accountId)).toBe(2);
    expect(await watermarkOf(buyer.accountId)).toBe(1);
  });
});

describe('bounded items', () => {
  it('a period item holds one line per catalog feature, whatever the calls and tokens: 400 calls, 100 tokens', async () => {
    const { accountId } = await accountOf('postpaid');
    await rollUpRecordedUsage();
    const sizeAfter = async (calls: number, from: number) => {
      for (let i = from; i < from + calls; i++)
        await accrue(accountId, 'postpaid', {
          cost: 1_000 + i,
          feature: FEATURES[i % FEATURES.length]!,
          tokenId: `tok_${i % 100}`,
        });
      await rollUpRecordedUsage();
      const item = await tableItem(keys.period(accountId, periodOf(nowIso())));
      return {
        size: Buffer.byteLength(JSON.stringify(marshall(item))),
        attributes: Object.keys(item!).length,
      };
    };

    const first = await sizeAfter(8, 0);
    const later = await sizeAfter(392, 8);

    expect(later.attributes).toBe(first.attributes);
    expect(later.size).toBeLessThan(1_024);
    await expectBillingToMatchLedger(accountId);
  });
});
